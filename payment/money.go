package payment

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Money is an amount in centavos of BRL. It is never a float.
type Money int64

// MaxMoney is the largest amount totemd accepts: the Pix API's `\d{1,10}\.\d{2}` limit.
const MaxMoney Money = 9_999_999_999_99

// String formats m the Brazilian way: "R$ 1.234,56", "-R$ 0,50".
func (m Money) String() string {
	sign := ""
	v := int64(m)
	if v < 0 {
		sign = "-"
		v = -v // MaxMoney is far from MinInt64; amounts beyond it are refused on input.
	}
	reais := strconv.FormatInt(v/100, 10)
	var b strings.Builder
	b.Grow(len(reais) + len(reais)/3 + 6)
	b.WriteString(sign)
	b.WriteString("R$ ")
	for i, c := range reais {
		if i > 0 && (len(reais)-i)%3 == 0 {
			b.WriteByte('.')
		}
		b.WriteRune(c)
	}
	fmt.Fprintf(&b, ",%02d", v%100)
	return b.String()
}

// Decimal formats m as the Pix API and TEF expect for reais: "1234.56".
func (m Money) Decimal() string {
	v := int64(m)
	sign := ""
	if v < 0 {
		sign = "-"
		v = -v
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
}

// ErrBadAmount is returned by ParseMoney for text that is not an amount.
var ErrBadAmount = errors.New("not an amount")

// ParseMoney reads an amount in reais written by a person or a protocol: "12.34", "12,34",
// "1.234,56", "R$ 1.234,56", "10". A comma or a dot followed by exactly one or two digits at the
// end is the decimal separator; other dots are thousands separators and must group by three.
// Negative amounts and amounts above MaxMoney are refused.
func ParseMoney(s string) (Money, error) {
	orig := s
	bad := func(why string) (Money, error) {
		return 0, fmt.Errorf("%w: %q %s (write it like 12.34 or 1.234,56)", ErrBadAmount, orig, why)
	}
	s = strings.TrimSpace(s)
	s = strings.TrimSpace(strings.TrimPrefix(s, "R$"))
	if s == "" {
		return bad("is empty")
	}
	intPart, frac := s, ""
	if i := strings.LastIndexAny(s, ".,"); i >= 0 {
		tail := s[i+1:]
		if s[i] == ',' || len(tail) <= 2 {
			intPart, frac = s[:i], tail
			if frac == "" || len(frac) > 2 {
				return bad("needs one or two digits after the decimal separator")
			}
		}
	}
	if strings.Contains(intPart, ",") {
		return bad("has a comma in the wrong place")
	}
	if strings.Contains(intPart, ".") {
		groups := strings.Split(intPart, ".")
		for i, g := range groups {
			if (i == 0 && (len(g) < 1 || len(g) > 3)) || (i > 0 && len(g) != 3) {
				return bad("has thousands separators in the wrong place")
			}
		}
		intPart = strings.Join(groups, "")
	}
	if intPart == "" {
		intPart = "0"
	}
	for _, c := range intPart + frac {
		if c < '0' || c > '9' {
			return bad("has characters that are not digits")
		}
	}
	if len(intPart) > 10 {
		return bad("is too large")
	}
	if len(frac) == 1 {
		frac += "0"
	}
	reais, _ := strconv.ParseInt(intPart, 10, 64)
	var cents int64
	if frac != "" {
		cents, _ = strconv.ParseInt(frac, 10, 64)
	}
	m := Money(reais*100 + cents)
	if m > MaxMoney {
		return bad("is too large")
	}
	return m, nil
}
