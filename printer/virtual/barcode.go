package virtual

import (
	"errors"
	"fmt"
	"strings"
)

// symbol is an encoded barcode.
type symbol struct {
	elems    []int // element widths in modules, bar first, alternating
	twoWidth bool  // elems are 1 (narrow) or 3 (wide)
	hri      string
	values   []int
	warning  string
}

// dotWidths are the elements' widths on paper for module width n (GS w n):
// n per module, or Epson's narrow n / wide ceil(2.5n) for ITF and CODE39.
func (s *symbol) dotWidths(n int) []int {
	w := make([]int, len(s.elems))
	for i, e := range s.elems {
		switch {
		case !s.twoWidth:
			w[i] = e * n
		case e == 1:
			w[i] = n
		default:
			w[i] = (5*n + 1) / 2
		}
	}
	return w
}

func (s *symbol) modules() string {
	var b strings.Builder
	for i, e := range s.elems {
		c := byte('1')
		if i%2 == 1 {
			c = '0'
		}
		for range e {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// runs turns a '1'/'0' module string starting with '1' into element widths.
func runs(m string) []int {
	var e []int
	for i := 0; i < len(m); {
		j := i
		for j < len(m) && m[j] == m[i] {
			j++
		}
		e = append(e, j-i)
		i = j
	}
	return e
}

func encodeBarcode(kind string, d []byte) (*symbol, error) {
	switch kind {
	case "EAN13", "UPC-A", "EAN8":
		return ean(kind, d)
	case "CODE39":
		return code39(d)
	case "ITF":
		return itf(d)
	case "CODE128":
		return code128(d)
	}
	return nil, errors.New("symbology unsupported")
}

// ---- EAN / UPC ----

var (
	eanL = [10]string{"0001101", "0011001", "0010011", "0111101", "0100011", "0110001", "0101111", "0111011", "0110111", "0001011"}
	// G is R reversed; R is L inverted.
	eanG, eanR [10]string
	// eanParity: which of EAN-13's left six digits use G, by the first digit.
	eanParity = [10]string{"LLLLLL", "LLGLGG", "LLGGLG", "LLGGGL", "LGLLGG", "LGGLLG", "LGGGLL", "LGLGLG", "LGLGGL", "LGGLGL"}
)

func init() {
	for i, l := range eanL {
		r := []byte(l)
		for j := range r {
			r[j] ^= 1 // '0' <-> '1'
		}
		eanR[i] = string(r)
		g := make([]byte, len(r))
		for j := range r {
			g[j] = r[len(r)-1-j]
		}
		eanG[i] = string(g)
	}
}

// eanCheck is the check digit of the digits s (EAN/UPC: weights 3,1,3...
// from the right).
func eanCheck(s string) byte {
	sum := 0
	for i := 0; i < len(s); i++ {
		w := 1
		if (len(s)-i)%2 == 1 {
			w = 3
		}
		sum += int(s[i]-'0') * w
	}
	return byte('0' + (10-sum%10)%10)
}

func ean(kind string, d []byte) (*symbol, error) {
	s := string(d)
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return nil, fmt.Errorf("byte 0x%02X is not a digit", s[i])
		}
	}
	n := map[string]int{"EAN13": 12, "UPC-A": 11, "EAN8": 7}[kind]
	sym := &symbol{}
	switch len(s) {
	case n:
		s += string(eanCheck(s))
	case n + 1:
		if c := eanCheck(s[:n]); c != s[n] {
			sym.warning = fmt.Sprintf("check digit %c, expected %c", s[n], c)
		}
	default:
		return nil, fmt.Errorf("%d digits, want %d or %d", len(s), n, n+1)
	}
	sym.hri = s
	var m strings.Builder
	m.WriteString("101")
	if kind == "EAN8" {
		for i := 0; i < 4; i++ {
			m.WriteString(eanL[s[i]-'0'])
		}
		m.WriteString("01010")
		for i := 4; i < 8; i++ {
			m.WriteString(eanR[s[i]-'0'])
		}
	} else {
		full := s
		if kind == "UPC-A" {
			full = "0" + s
		}
		par := eanParity[full[0]-'0']
		for i := 1; i <= 6; i++ {
			if par[i-1] == 'G' {
				m.WriteString(eanG[full[i]-'0'])
			} else {
				m.WriteString(eanL[full[i]-'0'])
			}
		}
		m.WriteString("01010")
		for i := 7; i <= 12; i++ {
			m.WriteString(eanR[full[i]-'0'])
		}
	}
	m.WriteString("101")
	sym.elems = runs(m.String())
	return sym, nil
}

// ---- ITF ----

// itfDigits: the five elements of each digit, 'W' wide.
var itfDigits = [10]string{"NNWWN", "WNNNW", "NWNNW", "WWNNN", "NNWNW", "WNWNN", "NWWNN", "NNNWW", "WNNWN", "NWNWN"}

func nw(c byte) int {
	if c == 'W' {
		return 3
	}
	return 1
}

func itf(d []byte) (*symbol, error) {
	if len(d) < 2 || len(d)%2 != 0 {
		return nil, fmt.Errorf("%d digits, want an even number", len(d))
	}
	for _, c := range d {
		if c < '0' || c > '9' {
			return nil, fmt.Errorf("byte 0x%02X is not a digit", c)
		}
	}
	e := []int{1, 1, 1, 1}
	for i := 0; i < len(d); i += 2 {
		bars, spaces := itfDigits[d[i]-'0'], itfDigits[d[i+1]-'0']
		for j := 0; j < 5; j++ {
			e = append(e, nw(bars[j]), nw(spaces[j]))
		}
	}
	e = append(e, 3, 1, 1)
	return &symbol{elems: e, twoWidth: true, hri: string(d)}, nil
}

// ---- CODE39 ----

// code39Chars: each character's nine elements (bar, space, ... bar).
var code39Chars = map[byte]string{
	'0': "NNNWWNWNN", '1': "WNNWNNNNW", '2': "NNWWNNNNW", '3': "WNWWNNNNN", '4': "NNNWWNNNW",
	'5': "WNNWWNNNN", '6': "NNWWWNNNN", '7': "NNNWNNWNW", '8': "WNNWNNWNN", '9': "NNWWNNWNN",
	'A': "WNNNNWNNW", 'B': "NNWNNWNNW", 'C': "WNWNNWNNN", 'D': "NNNNWWNNW", 'E': "WNNNWWNNN",
	'F': "NNWNWWNNN", 'G': "NNNNNWWNW", 'H': "WNNNNWWNN", 'I': "NNWNNWWNN", 'J': "NNNNWWWNN",
	'K': "WNNNNNNWW", 'L': "NNWNNNNWW", 'M': "WNWNNNNWN", 'N': "NNNNWNNWW", 'O': "WNNNWNNWN",
	'P': "NNWNWNNWN", 'Q': "NNNNNNWWW", 'R': "WNNNNNWWN", 'S': "NNWNNNWWN", 'T': "NNNNWNWWN",
	'U': "WWNNNNNNW", 'V': "NWWNNNNNW", 'W': "WWWNNNNNN", 'X': "NWNNWNNNW", 'Y': "WWNNWNNNN",
	'Z': "NWWNWNNNN", '-': "NWNNNNWNW", '.': "WWNNNNWNN", ' ': "NWWNNNWNN", '*': "NWNNWNWNN",
	'$': "NWNWNWNNN", '/': "NWNWNNNWN", '+': "NWNNNWNWN", '%': "NNNWNWNWN",
}

func code39(d []byte) (*symbol, error) {
	s := string(d)
	if len(s) >= 2 && s[0] == '*' && s[len(s)-1] == '*' {
		s = s[1 : len(s)-1] // start/stop sent by the host
	}
	if s == "" {
		return nil, errors.New("no data")
	}
	for i := 0; i < len(s); i++ {
		if _, ok := code39Chars[s[i]]; !ok || s[i] == '*' {
			return nil, fmt.Errorf("byte 0x%02X not in CODE39", s[i])
		}
	}
	var e []int
	full := "*" + s + "*"
	for i := 0; i < len(full); i++ {
		if i > 0 {
			e = append(e, 1) // inter-character gap
		}
		for _, c := range []byte(code39Chars[full[i]]) {
			e = append(e, nw(c))
		}
	}
	return &symbol{elems: e, twoWidth: true, hri: s}, nil
}

// ---- CODE128 ----

// code128Patterns: bar/space widths of each symbol character 0..106 (106
// is the stop, with its final bar).
var code128Patterns = [107]string{
	"212222", "222122", "222221", "121223", "121322", "131222", "122213", "122312", "132212", "221213",
	"221312", "231212", "112232", "122132", "122231", "113222", "123122", "123221", "223211", "221132",
	"221231", "213212", "223112", "312131", "311222", "321122", "321221", "312212", "322112", "322211",
	"212123", "212321", "232121", "111323", "131123", "131321", "112313", "132113", "132311", "211313",
	"231113", "231311", "112133", "112331", "132131", "113123", "113321", "133121", "313121", "211331",
	"231131", "213113", "213311", "213131", "311123", "311321", "331121", "312113", "312311", "332111",
	"314111", "221411", "431111", "111224", "111422", "121124", "121421", "141122", "141221", "112214",
	"112412", "122114", "122411", "142112", "142211", "241211", "221114", "413111", "241112", "134111",
	"111242", "121142", "121241", "114212", "124112", "124211", "411212", "421112", "421211", "212141",
	"214121", "412121", "111143", "111341", "131141", "114113", "114311", "411113", "411311", "113141",
	"114131", "311141", "411131", "211412", "211214", "211232", "2331112",
}

// Code 128 symbol characters with a fixed meaning.
const (
	c128Shift  = 98
	c128CodeC  = 99
	c128CodeB  = 100 // also FNC4 in code set B
	c128CodeA  = 101 // also FNC4 in code set A
	c128FNC1   = 102
	c128FNC2   = 97
	c128FNC3   = 96
	c128StartA = 103
	c128Stop   = 106
)

// code128 encodes Epson's GS k 73 data: it starts with a code set ({A, {B
// or {C); "{A", "{B", "{C" switch, "{S" shifts one character between A and
// B, "{1".."{4" are FNC1..FNC4, "{{" is '{'. In code set C each byte is a
// value 0..99 (two digits), not ASCII digits.
func code128(d []byte) (*symbol, error) {
	if len(d) < 2 || d[0] != '{' || d[1] < 'A' || d[1] > 'C' {
		return nil, errors.New("data must start with {A, {B or {C")
	}
	set := d[1]
	vals := []int{c128StartA + int(set-'A')}
	var hri []byte
	shift := false
	for i := 2; i < len(d); i++ {
		c := d[i]
		if c == '{' {
			if i+1 >= len(d) {
				return nil, errors.New("lone { at the end")
			}
			i++
			e := d[i]
			if e != '{' {
				if shift {
					return nil, fmt.Errorf("{S followed by {%c", e)
				}
				var v int
				switch e {
				case 'A', 'B', 'C':
					if e == set {
						return nil, fmt.Errorf("{%c in code set %c", e, set)
					}
					v = map[byte]int{'A': c128CodeA, 'B': c128CodeB, 'C': c128CodeC}[e]
					set = e
				case 'S':
					if set == 'C' {
						return nil, errors.New("{S in code set C")
					}
					v, shift = c128Shift, true
				case '1':
					v = c128FNC1
				case '2', '3', '4':
					if set == 'C' {
						return nil, fmt.Errorf("{%c in code set C", e)
					}
					v = map[byte]int{'2': c128FNC2, '3': c128FNC3}[e]
					if e == '4' {
						v = map[byte]int{'A': c128CodeA, 'B': c128CodeB}[set]
					}
				default:
					return nil, fmt.Errorf("unknown escape {%s", printable(e))
				}
				vals = append(vals, v)
				continue
			}
			// "{{": the character '{'
		}
		cur := set
		if shift {
			cur = 'A' + 'B' - set
			shift = false
		}
		var v int
		switch {
		case cur == 'C' && c <= 99:
			v = int(c)
			hri = append(hri, '0'+c/10, '0'+c%10)
		case cur == 'A' && c < 0x20:
			v = int(c) + 64
		case cur == 'A' && c < 0x60, cur == 'B' && c >= 0x20 && c < 0x80:
			v = int(c) - 32
			if c != 0x7F {
				hri = append(hri, c)
			}
		default:
			return nil, fmt.Errorf("byte 0x%02X not in code set %c", c, cur)
		}
		vals = append(vals, v)
	}
	if shift {
		return nil, errors.New("{S at the end")
	}
	if len(vals) == 1 {
		return nil, errors.New("no data")
	}
	sum := vals[0]
	for i := 1; i < len(vals); i++ {
		sum += i * vals[i]
	}
	vals = append(vals, sum%103, c128Stop)
	var e []int
	for _, v := range vals {
		for _, w := range code128Patterns[v] {
			e = append(e, int(w-'0'))
		}
	}
	return &symbol{elems: e, hri: string(hri), values: vals}, nil
}
