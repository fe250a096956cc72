package pix

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// BR Code limits (PIX.md, "BR Code").
const (
	MaxPayloadBytes = 512              // whole payload, in bytes
	MaxKeyLen       = 77               // 26-01
	MaxURLLen       = 77               // 26-25
	MaxNameLen      = 25               // 59
	MaxCityLen      = 15               // 60
	MaxTxIDLen      = 25               // 62-05 of a static code
	MaxPostalLen    = 10               // 61 (EMV); generation only
	MaxAmountCents  = 9_999_999_999_99 // 54: ten digits of reais
	pixGUI          = "br.gov.bcb.pix"
	txidAny         = "***"
)

// Rule ids: the stable names of the BR Code rules, used in Decoded.Rule, Violation.Rule and
// EncodeError.Rule.
const (
	RuleLength            = "length"              // whole payload <= 512 bytes
	RuleASCII             = "ascii"               // valid UTF-8, no control characters
	RuleCRC               = "crc"                 // 63 last, 4 uppercase hex, matches CRC16
	RuleTLV               = "tlv"                 // 2-digit ids and lengths, no overrun, no duplicate ids
	RulePayloadFormat     = "payload_format"      // 00 first and "01"
	RulePointOfInitiation = "point_of_initiation" // 01 "11", "12" or absent
	RuleMandatory         = "mandatory"           // 00 26 52 53 58 59 60 62 63 present
	RuleGUI               = "gui"                 // 26-00 br.gov.bcb.pix
	RuleKey               = "key"                 // 26-01 1..77 printable ASCII (generation: a Pix key's shape)
	RuleInfo              = "info"                // 26-02 fits the template
	RuleURL               = "url"                 // 26-25 1..77 printable ASCII without spaces
	RuleURLScheme         = "url_scheme"          // 26-25 without https://
	RuleKeyAndURL         = "key_and_url"         // never both 26-01 and 26-25
	RuleKeyOrURL          = "key_or_url"          // one of them (or a Pix Automático template)
	RuleMCC               = "mcc"                 // 52 four digits
	RuleCurrency          = "currency"            // 53 "986"
	RuleAmount            = "amount"              // 54 digits[.dd], <= 13 chars
	RuleCountry           = "country"             // 58 "BR"
	RuleName              = "name"                // 59 1..25
	RuleCity              = "city"                // 60 1..15
	RulePostalCode        = "postal_code"         // 61 (generation only)
	RuleTxID              = "txid"                // 62-05
	RuleInternal          = "internal"            // a bug in Decode (it recovered from a panic)
)

// Static is a reusable (or single-amount) code with a Pix key.
type Static struct {
	Key          string // 26-01, <= 77 (email, phone +55..., CPF/CNPJ digits, EVP uuid)
	Info         string // 26-02 free text, optional
	MerchantName string // 59: generation strips accents, upper-cases, cuts to 25
	MerchantCity string // 60: same, cut to 15
	PostalCode   string // 61, optional
	AmountCents  int64  // 54, 0 = no amount (payer types it)
	TxID         string // 62-05: <= 25 [A-Za-z0-9], "" -> "***"
}

// Dynamic is a code pointing at a charge's location (what PSPs return as pixCopiaECola).
type Dynamic struct {
	Location     string // 26-25, URL without scheme (a leading https:// is stripped), <= 77
	MerchantName string
	MerchantCity string
	PostalCode   string
	AmountCents  int64 // optional; 0 = omitted
	Reusable     bool  // false: 01 = "12" (single use); true: 01 omitted (reusable)
}

// EncodeError is why EncodeStatic or EncodeDynamic refused: the field and the rule it breaks.
type EncodeError struct {
	Field  string // the Go field, e.g. "MerchantName"
	Rule   string // a Rule* id
	Reason string
}

func (e *EncodeError) Error() string {
	return "pix: BR Code " + e.Field + ": " + e.Reason + " (rule " + e.Rule + ")"
}

func encErr(field, rule, format string, args ...any) error {
	return &EncodeError{Field: field, Rule: rule, Reason: fmt.Sprintf(format, args...)}
}

// EncodeStatic builds the payload of a static code. Name, city and info are reduced to printable
// ASCII (accents stripped, name and city upper-cased and cut to 25 and 15); everything else must
// already be valid, or the error names the field and the rule.
func EncodeStatic(s Static) (string, error) {
	key := strings.TrimSpace(s.Key)
	if err := checkKey(key); err != nil {
		return "", err
	}
	txid := s.TxID
	if txid == "" {
		txid = txidAny
	}
	if txid != txidAny {
		if len(txid) > MaxTxIDLen {
			return "", encErr("TxID", RuleTxID, "%q is longer than %d", txid, MaxTxIDLen)
		}
		if !isAlnum(txid) {
			return "", encErr("TxID", RuleTxID, "%q has characters outside [A-Za-z0-9]", txid)
		}
	}
	info := asciiText(s.Info, false, len(s.Info))
	var mai strings.Builder
	mai.Grow(99)
	appendTLV(&mai, "00", pixGUI)
	appendTLV(&mai, "01", key)
	if info != "" {
		if room := 99 - mai.Len() - 4; len(info) > room {
			return "", encErr("Info", RuleInfo, "%d characters; with this key the merchant account template (26) has room for %d", len(info), max(room, 0))
		}
		appendTLV(&mai, "02", info)
	}
	return assemble("", mai.String(), s.AmountCents, s.MerchantName, s.MerchantCity, s.PostalCode, txid)
}

// EncodeDynamic builds the payload of a dynamic code pointing at d.Location.
func EncodeDynamic(d Dynamic) (string, error) {
	loc := strings.TrimSpace(d.Location)
	if len(loc) >= len("https://") && strings.EqualFold(loc[:len("https://")], "https://") {
		loc = loc[len("https://"):]
	}
	if hasScheme(loc) {
		return "", encErr("Location", RuleURLScheme, "%q has a scheme; only a leading https:// is accepted (and removed)", loc)
	}
	if loc == "" {
		return "", encErr("Location", RuleURL, "empty")
	}
	if len(loc) > MaxURLLen {
		return "", encErr("Location", RuleURL, "%d characters, more than %d", len(loc), MaxURLLen)
	}
	if !isURLText(loc) {
		return "", encErr("Location", RuleURL, "%q has characters outside printable ASCII or spaces", loc)
	}
	poi := "12"
	if d.Reusable {
		poi = ""
	}
	var mai strings.Builder
	mai.Grow(99)
	appendTLV(&mai, "00", pixGUI)
	appendTLV(&mai, "25", loc)
	return assemble(poi, mai.String(), d.AmountCents, d.MerchantName, d.MerchantCity, d.PostalCode, txidAny)
}

// assemble writes the payload around a merchant account template and appends the CRC.
func assemble(poi, mai string, amount int64, name, city, postal, txid string) (string, error) {
	if amount < 0 {
		return "", encErr("AmountCents", RuleAmount, "negative (%d)", amount)
	}
	if amount > MaxAmountCents {
		return "", encErr("AmountCents", RuleAmount, "%d is more than ten digits of reais", amount)
	}
	n := asciiText(name, true, MaxNameLen)
	if n == "" {
		return "", encErr("MerchantName", RuleName, "empty (after removing what is not printable ASCII)")
	}
	c := asciiText(city, true, MaxCityLen)
	if c == "" {
		return "", encErr("MerchantCity", RuleCity, "empty (after removing what is not printable ASCII)")
	}
	postal = strings.TrimSpace(postal)
	if len(postal) > MaxPostalLen {
		return "", encErr("PostalCode", RulePostalCode, "%q is longer than %d", postal, MaxPostalLen)
	}
	if !isPrintableASCII(postal) {
		return "", encErr("PostalCode", RulePostalCode, "%q has characters outside printable ASCII", postal)
	}
	fields := make([]TLV, 0, 12)
	fields = append(fields, TLV{"00", "01"})
	if poi != "" {
		fields = append(fields, TLV{"01", poi})
	}
	fields = append(fields, TLV{"26", mai}, TLV{"52", "0000"}, TLV{"53", "986"})
	if amount > 0 {
		fields = append(fields, TLV{"54", formatCents(amount)})
	}
	fields = append(fields, TLV{"58", "BR"}, TLV{"59", n}, TLV{"60", c})
	if postal != "" {
		fields = append(fields, TLV{"61", postal})
	}
	fields = append(fields, TLV{"62", "05" + twoDigits(len(txid)) + txid})
	return assembleTLV(fields)
}

// assembleTLV writes fields (printable ASCII values) and the CRC, refusing what breaks the TLV
// or size limits.
func assembleTLV(fields []TLV) (string, error) {
	size := 8
	for _, f := range fields {
		if len(f.Value) > 99 {
			return "", encErr("id "+f.ID, RuleTLV, "value of %d characters, more than 99", len(f.Value))
		}
		size += 4 + len(f.Value)
	}
	if size > MaxPayloadBytes {
		return "", encErr("payload", RuleLength, "%d bytes, more than %d", size, MaxPayloadBytes)
	}
	var b strings.Builder
	b.Grow(size)
	for _, f := range fields {
		appendTLV(&b, f.ID, f.Value)
	}
	b.WriteString("6304")
	b.WriteString(hex4(crc16String(b.String())))
	return b.String(), nil
}

func appendTLV(b *strings.Builder, id, v string) {
	b.WriteString(id)
	b.WriteString(twoDigits(utf8.RuneCountInString(v)))
	b.WriteString(v)
}

func twoDigits(n int) string {
	return string([]byte{byte('0' + n/10%10), byte('0' + n%10)})
}

func hex4(v uint16) string {
	const digits = "0123456789ABCDEF"
	return string([]byte{digits[v>>12], digits[v>>8&0xF], digits[v>>4&0xF], digits[v&0xF]})
}

func formatCents(c int64) string {
	frac := c % 100
	s := strconv.FormatInt(c/100, 10) + "."
	if frac < 10 {
		s += "0"
	}
	return s + strconv.FormatInt(frac, 10)
}

// checkKey accepts the shapes a Pix key (chave DICT) takes: email, phone +55 with DDD, CPF (11
// digits), CNPJ (14 digits) or an EVP (random key, a UUID).
func checkKey(key string) error {
	switch {
	case key == "":
		return encErr("Key", RuleKey, "empty")
	case len(key) > MaxKeyLen:
		return encErr("Key", RuleKey, "%d characters, more than %d", len(key), MaxKeyLen)
	case !isPrintableASCII(key) || strings.ContainsRune(key, ' '):
		return encErr("Key", RuleKey, "%q has spaces or characters outside printable ASCII", key)
	}
	if strings.HasPrefix(key, "+") {
		if !strings.HasPrefix(key, "+55") || !isDigits(key[1:]) || (len(key) != 13 && len(key) != 14) {
			return encErr("Key", RuleKey, "%q is not a phone key (+55, DDD and 8 or 9 digits)", key)
		}
		return nil
	}
	if isDigits(key) {
		if len(key) != 11 && len(key) != 14 {
			return encErr("Key", RuleKey, "%q: a CPF key has 11 digits and a CNPJ key 14", key)
		}
		return nil
	}
	if at := strings.IndexByte(key, '@'); at >= 0 {
		dom := key[at+1:]
		if at == 0 || strings.IndexByte(dom, '@') >= 0 || !strings.Contains(dom, ".") ||
			strings.HasPrefix(dom, ".") || strings.HasSuffix(dom, ".") {
			return encErr("Key", RuleKey, "%q is not an email key", key)
		}
		return nil
	}
	if isUUID(key) {
		return nil
	}
	return encErr("Key", RuleKey, "%q is none of: email, +55 phone, CPF, CNPJ, EVP (UUID)", key)
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isAlnum(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7E {
			return false
		}
	}
	return true
}

// isURLText: printable ASCII without spaces.
func isURLText(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= 0x20 || s[i] > 0x7E {
			return false
		}
	}
	return true
}

// hasScheme reports a leading URI scheme ("https://", "http://", "ftp://"...).
func hasScheme(s string) bool {
	i := strings.Index(s, "://")
	if i <= 0 {
		return false
	}
	for j := 0; j < i; j++ {
		c := s[j]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || j > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}

// asciiText reduces s to printable ASCII for the BR Code: accents and other marks removed,
// a few letters and punctuation transliterated, whitespace runs made one space, anything else
// dropped; then upper-cased if asked, trimmed and cut to limit characters.
func asciiText(s string, upper bool, limit int) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		switch {
		case r < 0x80 && r >= 0x21 && r != 0x7F:
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(r)
		case unicode.IsSpace(r):
			space = true
		case r >= 0x300 && r <= 0x36F: // combining marks (decomposed accents)
		default:
			t, ok := foldTable[r]
			if !ok {
				continue
			}
			if space && b.Len() > 0 && t != "" {
				b.WriteByte(' ')
			}
			space = false
			b.WriteString(t)
		}
	}
	out := b.String()
	if upper {
		out = strings.ToUpper(out)
	}
	if len(out) > limit {
		out = strings.TrimRight(out[:limit], " ")
	}
	return out
}

var foldTable = func() map[rune]string {
	m := make(map[rune]string, 256)
	add := func(from, to string) {
		for _, r := range from {
			m[r] = to
		}
	}
	add("ÀÁÂÃÄÅĀĂĄǍȀȂȦẠẢẤẦẨẪẬẮẰẲẴẶ", "A")
	add("àáâãäåāăąǎȁȃȧạảấầẩẫậắằẳẵặª", "a")
	add("ÇĆĈĊČ", "C")
	add("çćĉċč", "c")
	add("ĎĐÐ", "D")
	add("ďđð", "d")
	add("ÈÉÊËĒĔĖĘĚẸẺẼẾỀỂỄỆ", "E")
	add("èéêëēĕėęěẹẻẽếềểễệ", "e")
	add("ĜĞĠĢ", "G")
	add("ĝğġģ", "g")
	add("ĤĦ", "H")
	add("ĥħ", "h")
	add("ÌÍÎÏĨĪĬĮİỈỊ", "I")
	add("ìíîïĩīĭįıỉị", "i")
	add("Ĵ", "J")
	add("ĵ", "j")
	add("Ķ", "K")
	add("ķ", "k")
	add("ĹĻĽĿŁ", "L")
	add("ĺļľŀł", "l")
	add("ÑŃŅŇ", "N")
	add("ñńņňŉ", "n")
	add("ÒÓÔÕÖØŌŎŐƠỌỎỐỒỔỖỘỚỜỞỠỢ", "O")
	add("òóôõöøōŏőơọỏốồổỗộớờởỡợº°", "o")
	add("ŔŖŘ", "R")
	add("ŕŗř", "r")
	add("ŚŜŞŠȘ", "S")
	add("śŝşšș", "s")
	add("ŢŤŦȚ", "T")
	add("ţťŧț", "t")
	add("ÙÚÛÜŨŪŬŮŰŲƯỤỦỨỪỬỮỰ", "U")
	add("ùúûüũūŭůűųưụủứừửữự", "u")
	add("Ŵ", "W")
	add("ŵ", "w")
	add("ÝŶŸỲỴỶỸ", "Y")
	add("ýÿŷỳỵỷỹ", "y")
	add("ŹŻŽ", "Z")
	add("źżž", "z")
	add("Æ", "AE")
	add("æ", "ae")
	add("Œ", "OE")
	add("œ", "oe")
	add("ß", "ss")
	add("Þ", "TH")
	add("þ", "th")
	add("‘’‚‛′´", "'")
	add("“”„‟″«»", "\"")
	add("‐‑‒–—―−", "-")
	add("…", "...")
	add("·•", ".")
	return m
}()

// TLV is one element of a BR Code: a 2-digit id and its value.
type TLV struct {
	ID    string `json:"id"`
	Value string `json:"value"`
}

// ParseTLV splits s into elements. Lengths count characters (runes), as PIX.md says. On a
// malformed element it returns the elements before it and an error.
func ParseTLV(s string) ([]TLV, error) {
	var out []TLV
	i := 0
	for i < len(s) {
		if len(s)-i < 4 {
			return out, fmt.Errorf("%d characters left at offset %d, too few for an id and a length", len(s)-i, i)
		}
		id, ln := s[i:i+2], s[i+2:i+4]
		if !isDigits(id) {
			return out, fmt.Errorf("id %q at offset %d is not 2 digits", id, i)
		}
		if !isDigits(ln) {
			return out, fmt.Errorf("length %q of %s at offset %d is not 2 digits", ln, id, i)
		}
		n := int(ln[0]-'0')*10 + int(ln[1]-'0')
		j := i + 4
		for k := 0; k < n; k++ {
			if j >= len(s) {
				return out, fmt.Errorf("%s says %d characters but only %d follow", id, n, k)
			}
			if s[j] < utf8.RuneSelf {
				j++
			} else {
				_, w := utf8.DecodeRuneInString(s[j:])
				j += w
			}
		}
		out = append(out, TLV{ID: id, Value: s[i+4 : j]})
		i = j
	}
	return out, nil
}

// Violation is one broken rule.
type Violation struct {
	Rule  string `json:"rule"`
	Error string `json:"error"`
}

// Decoded is every field a payload carried and whether it is a valid Pix code.
type Decoded struct {
	Valid             bool   `json:"valid"`
	Error             string `json:"error,omitempty"` // the first broken rule, in words
	Rule              string `json:"rule,omitempty"`  // its Rule* id
	Kind              string `json:"kind"`            // "static" | "dynamic" | "recurrence" | "" when unknown
	Key               string `json:"key,omitempty"`
	Info              string `json:"info,omitempty"`
	URL               string `json:"url,omitempty"`
	Amount            string `json:"amount,omitempty"` // as written, "10.00"
	AmountCents       int64  `json:"amount_cents,omitempty"`
	MerchantName      string `json:"merchant_name,omitempty"`
	MerchantCity      string `json:"merchant_city,omitempty"`
	PostalCode        string `json:"postal_code,omitempty"`
	TxID              string `json:"txid,omitempty"`
	CRC               string `json:"crc,omitempty"` // as written
	PayloadFormat     string `json:"payload_format,omitempty"`
	PointOfInitiation string `json:"point_of_initiation,omitempty"`
	MCC               string `json:"mcc,omitempty"`
	Currency          string `json:"currency,omitempty"`
	Country           string `json:"country,omitempty"`
	GUI               string `json:"gui,omitempty"`

	FSS           string `json:"fss,omitempty"`            // 26-03, Pix Saque/Troco service provider
	RecurrenceURL string `json:"recurrence_url,omitempty"` // 25 of a br.gov.bcb.pix template in 80-99 (Pix Automático)
	// Templates holds the sub-elements of every template that parsed: 26-51, 62 and 80-99,
	// by id ("27" -> {"00": "BR.COM.OUTRO", ...}).
	Templates  map[string]map[string]string `json:"templates,omitempty"`
	Fields     []TLV                        `json:"fields,omitempty"`     // top-level elements, in order, as written
	Violations []Violation                  `json:"violations,omitempty"` // the broken rules (up to 20), first one first
}

// Err is nil for a valid code, otherwise an error naming the first broken rule.
func (d Decoded) Err() error {
	if d.Valid {
		return nil
	}
	return fmt.Errorf("pix: invalid BR Code: %s (rule %s)", d.Error, d.Rule)
}

// maxViolations bounds what a hostile payload (thousands of duplicate ids) can make Decode list.
const maxViolations = 20

func (d *Decoded) fail(rule, format string, args ...any) {
	if len(d.Violations) >= maxViolations {
		return
	}
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	d.Violations = append(d.Violations, Violation{Rule: rule, Error: msg})
}

// Decode parses leniently (accents accepted, unknown templates skipped) and validates strictly:
// Valid only when the CRC and every Pix rule hold; otherwise Error/Rule name the first broken
// rule (Violations lists them, up to 20) and the fields that parsed are still filled. Never
// panics.
func Decode(payload string) (d Decoded) {
	defer func() {
		if r := recover(); r != nil { // a bug: say so first, whatever was found before
			d.Violations = append([]Violation{{Rule: RuleInternal, Error: fmt.Sprintf("decoder failure: %v", r)}}, d.Violations...)
		}
		if len(d.Violations) > 0 {
			d.Valid = false
			d.Rule, d.Error = d.Violations[0].Rule, d.Violations[0].Error
		} else {
			d.Valid = true
		}
	}()
	decode(payload, &d)
	return d
}

func decode(p string, d *Decoded) {
	// Whole-payload rules.
	if len(p) > MaxPayloadBytes {
		d.fail(RuleLength, "payload is %d bytes, more than %d", len(p), MaxPayloadBytes)
	}
	if !utf8.ValidString(p) {
		d.fail(RuleASCII, "payload is not valid UTF-8")
	}
	for i, r := range p {
		if r < 0x20 || r == 0x7F || (r >= 0x80 && r < 0xA0) {
			d.fail(RuleASCII, "control character U+%04X at byte %d", r, i)
			break
		}
	}
	if n := len(p); n >= 8 && p[n-8:n-4] == "6304" {
		written := p[n-4:]
		if !isUpperHex(written) {
			d.fail(RuleCRC, "CRC %q is not 4 uppercase hex digits", written)
		} else if got := hex4(crc16String(p[:n-4])); got != written {
			d.fail(RuleCRC, "CRC is %s, computed %s", written, got)
		}
	} else {
		d.fail(RuleCRC, "payload does not end with the CRC (6304 and 4 hex digits)")
	}

	fields, err := ParseTLV(p)
	d.Fields = fields
	if err != nil {
		d.fail(RuleTLV, "%v", err)
	}
	top := make(map[string]string, len(fields))
	for _, f := range fields {
		if _, dup := top[f.ID]; dup {
			d.fail(RuleTLV, "id %s appears twice", f.ID)
			continue
		}
		top[f.ID] = f.Value
	}
	if len(fields) > 0 && fields[len(fields)-1].ID != "63" {
		if _, ok := top["63"]; ok {
			d.fail(RuleCRC, "the CRC (63) is not the last element")
		}
	}

	// 00
	if v, ok := top["00"]; ok {
		d.PayloadFormat = v
		if fields[0].ID != "00" {
			d.fail(RulePayloadFormat, "payload format indicator (00) is not the first element")
		} else if v != "01" {
			d.fail(RulePayloadFormat, "payload format indicator (00) is %q, not \"01\"", v)
		}
	} else {
		d.fail(RuleMandatory, "payload format indicator (00) missing")
	}
	// 01
	if v, ok := top["01"]; ok {
		d.PointOfInitiation = v
		if v != "11" && v != "12" {
			d.fail(RulePointOfInitiation, "point of initiation (01) is %q, not \"11\" or \"12\"", v)
		}
	}

	// Templates (26-51, 62, 80-99): parsed for the record, leniently.
	var sub26, sub62 map[string]string
	for _, f := range fields {
		n := int(f.ID[0]-'0')*10 + int(f.ID[1]-'0')
		if !(n >= 26 && n <= 51 || n == 62 || n >= 80) {
			continue
		}
		els, err := ParseTLV(f.Value)
		if n == 26 || n == 62 {
			name := "merchant account (26)"
			if n == 62 {
				name = "additional data (62)"
			}
			if err != nil {
				d.fail(RuleTLV, "%s: %v", name, err)
			}
			m := make(map[string]string, len(els))
			for _, e := range els {
				if _, dup := m[e.ID]; dup {
					d.fail(RuleTLV, "%s: id %s appears twice", name, e.ID)
					continue
				}
				m[e.ID] = e.Value
			}
			if n == 26 && sub26 == nil {
				sub26 = m
			} else if n == 62 && sub62 == nil {
				sub62 = m
			}
		} else if err != nil {
			continue // unknown or foreign template that is not TLV: skipped
		}
		if d.Templates == nil {
			d.Templates = make(map[string]map[string]string, 4)
		}
		if _, seen := d.Templates[f.ID]; seen {
			continue
		}
		m := make(map[string]string, len(els))
		for _, e := range els {
			if _, dup := m[e.ID]; !dup {
				m[e.ID] = e.Value
			}
		}
		d.Templates[f.ID] = m
		if n >= 80 && d.RecurrenceURL == "" && strings.EqualFold(m["00"], pixGUI) {
			d.RecurrenceURL = m["25"]
		}
	}

	// 26
	_, hasKey := sub26["01"]
	_, hasURL := sub26["25"]
	if _, ok := top["26"]; !ok {
		d.fail(RuleMandatory, "merchant account (26) missing")
	} else {
		d.GUI = sub26["00"]
		d.Key = sub26["01"]
		d.Info = sub26["02"]
		d.FSS = sub26["03"]
		d.URL = sub26["25"]
		if _, ok := sub26["00"]; !ok {
			d.fail(RuleGUI, "merchant account (26) has no GUI (26-00)")
		} else if !strings.EqualFold(d.GUI, pixGUI) {
			d.fail(RuleGUI, "GUI (26-00) is %q, not %s", d.GUI, pixGUI)
		}
		if hasKey {
			switch {
			case d.Key == "":
				d.fail(RuleKey, "key (26-01) empty")
			case utf8.RuneCountInString(d.Key) > MaxKeyLen:
				d.fail(RuleKey, "key (26-01) longer than %d", MaxKeyLen)
			case !isURLText(d.Key):
				d.fail(RuleKey, "key (26-01) %q has spaces or characters outside printable ASCII", d.Key)
			}
		}
		if hasURL {
			checkURL(d, "URL (26-25)", d.URL)
		}
		switch {
		case hasKey && hasURL:
			d.fail(RuleKeyAndURL, "merchant account (26) has both a key (01) and a URL (25)")
		case !hasKey && !hasURL && d.RecurrenceURL == "":
			d.fail(RuleKeyOrURL, "merchant account (26) has neither a key (01) nor a URL (25)")
		}
	}
	switch {
	case hasURL && !hasKey:
		d.Kind = "dynamic"
	case hasKey && !hasURL:
		d.Kind = "static"
	case !hasKey && !hasURL && d.RecurrenceURL != "":
		d.Kind = "recurrence"
	}

	// 52, 53, 54, 58, 59, 60, 61
	if v, ok := top["52"]; !ok {
		d.fail(RuleMandatory, "merchant category code (52) missing")
	} else if d.MCC = v; len(v) != 4 || !isDigits(v) {
		d.fail(RuleMCC, "merchant category code (52) %q is not 4 digits", v)
	}
	if v, ok := top["53"]; !ok {
		d.fail(RuleMandatory, "currency (53) missing")
	} else if d.Currency = v; v != "986" {
		d.fail(RuleCurrency, "currency (53) is %q, not 986 (BRL)", v)
	}
	if v, ok := top["54"]; ok {
		d.Amount = v
		if c, ok := parseAmount(v); ok {
			d.AmountCents = c
		} else {
			d.fail(RuleAmount, "amount (54) %q is not like 10.00 (up to 10 digits, 13 characters)", v)
		}
	}
	if v, ok := top["58"]; !ok {
		d.fail(RuleMandatory, "country (58) missing")
	} else if d.Country = v; v != "BR" {
		d.fail(RuleCountry, "country (58) is %q, not BR", v)
	}
	if v, ok := top["59"]; !ok {
		d.fail(RuleMandatory, "merchant name (59) missing")
	} else {
		d.MerchantName = v
		if n := utf8.RuneCountInString(v); n == 0 {
			d.fail(RuleName, "merchant name (59) empty")
		} else if n > MaxNameLen {
			d.fail(RuleName, "merchant name (59) longer than %d", MaxNameLen)
		}
	}
	if v, ok := top["60"]; !ok {
		d.fail(RuleMandatory, "merchant city (60) missing")
	} else {
		d.MerchantCity = v
		if n := utf8.RuneCountInString(v); n == 0 {
			d.fail(RuleCity, "merchant city (60) empty")
		} else if n > MaxCityLen {
			d.fail(RuleCity, "merchant city (60) longer than %d", MaxCityLen)
		}
	}
	d.PostalCode = top["61"]

	// 62
	if _, ok := top["62"]; !ok {
		d.fail(RuleMandatory, "additional data (62) with the txid missing")
	} else if txid, ok := sub62["05"]; !ok {
		d.fail(RuleTxID, "additional data (62) has no txid (62-05)")
	} else {
		d.TxID = txid
		switch {
		case d.Kind == "dynamic":
			if txid != txidAny {
				d.fail(RuleTxID, "txid (62-05) of a dynamic code is %q, not ***", txid)
			}
		case txid == txidAny:
		case utf8.RuneCountInString(txid) > MaxTxIDLen:
			d.fail(RuleTxID, "txid (62-05) %q longer than %d", txid, MaxTxIDLen)
		case !isAlnum(txid):
			d.fail(RuleTxID, "txid (62-05) %q has characters outside [A-Za-z0-9] (and is not ***)", txid)
		}
	}

	// 80-99: Pix Automático location.
	if d.RecurrenceURL != "" || recurrenceWithoutURL(d) {
		checkURL(d, "recurrence URL (25 of a br.gov.bcb.pix template in 80-99)", d.RecurrenceURL)
	}

	// 63
	if v, ok := top["63"]; ok {
		d.CRC = v
		if len(v) != 4 {
			d.fail(RuleCRC, "CRC (63) has %d characters, not 4", utf8.RuneCountInString(v))
		}
	} else {
		d.fail(RuleMandatory, "CRC (63) missing")
	}
}

// recurrenceWithoutURL: a Pix template in 80-99 that carries a 25 element, but an empty one.
func recurrenceWithoutURL(d *Decoded) bool {
	for id, m := range d.Templates {
		if id[0] >= '8' && strings.EqualFold(m["00"], pixGUI) {
			if v, ok := m["25"]; ok && v == "" {
				return true
			}
		}
	}
	return false
}

func checkURL(d *Decoded, name, u string) {
	switch {
	case u == "":
		d.fail(RuleURL, "%s empty", name)
	case hasScheme(u):
		d.fail(RuleURLScheme, "%s must not include a scheme (https://): %q", name, u)
	case utf8.RuneCountInString(u) > MaxURLLen:
		d.fail(RuleURL, "%s longer than %d", name, MaxURLLen)
	case !isURLText(u):
		d.fail(RuleURL, "%s %q has spaces or characters outside printable ASCII", name, u)
	}
}

// parseAmount reads 54 leniently, as EMV allows: 1 to 10 digits, then optionally a dot and up to
// 2 digits ("10.00", "10.5", "10.", "100"), at most 13 characters.
func parseAmount(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 13 {
		return 0, false
	}
	ip, fp := s, ""
	if i := strings.IndexByte(s, '.'); i >= 0 {
		ip, fp = s[:i], s[i+1:]
		if len(fp) > 2 || (fp != "" && !isDigits(fp)) {
			return 0, false
		}
	}
	if len(ip) == 0 || len(ip) > 10 || !isDigits(ip) {
		return 0, false
	}
	v, _ := strconv.ParseInt(ip, 10, 64)
	c := v * 100
	switch len(fp) {
	case 1:
		c += int64(fp[0]-'0') * 10
	case 2:
		c += int64(fp[0]-'0')*10 + int64(fp[1]-'0')
	}
	return c, true
}

func isUpperHex(s string) bool {
	if len(s) != 4 {
		return false
	}
	for i := 0; i < 4; i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

var crcTable = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// CRC16 is CRC16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final xor), the BR
// Code checksum.
func CRC16(data []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, b := range data {
		crc = crc<<8 ^ crcTable[byte(crc>>8)^b]
	}
	return crc
}

func crc16String(s string) uint16 {
	crc := uint16(0xFFFF)
	for i := 0; i < len(s); i++ {
		crc = crc<<8 ^ crcTable[byte(crc>>8)^s[i]]
	}
	return crc
}
