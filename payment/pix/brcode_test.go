package pix

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

type brVector struct {
	ID             string         `json:"id"`
	Payload        string         `json:"payload"`
	Source         string         `json:"source"`
	Kind           string         `json:"kind"`
	Tags           []string       `json:"tags"`
	ExpectCRCValid bool           `json:"expect_crc_valid"`
	ExpectValid    bool           `json:"expect_semantically_valid"`
	Expected       map[string]any `json:"expected"`
	Notes          *string        `json:"notes"`
}

func loadVectors(tb testing.TB) []brVector {
	tb.Helper()
	b, err := os.ReadFile("testdata/brcode-vectors.json")
	if err != nil {
		tb.Fatal(err)
	}
	var vs []brVector
	if err := json.Unmarshal(b, &vs); err != nil {
		tb.Fatal(err)
	}
	if len(vs) == 0 {
		tb.Fatal("no vectors")
	}
	return vs
}

// vectorFirstRule is the rule each broken vector breaks first (checked: every vector Decode
// refuses must be listed, so a new broken vector cannot pass unnoticed).
var vectorFirstRule = map[string]string{
	"bcb-brcode-manual-full-example":  RuleTxID, // txid RP12345678-2019 has '-'
	"stone-neg-url-with-protocol":     RuleURLScheme,
	"stone-neg-emoji-reference-label": RuleTxID,
	"stone-neg-oversize":              RuleLength,
	"qrcodepix-txid-underscore":       RuleTxID,
	"nascent-neg-banrisul-bad-crc":    RuleCRC,
	"stark-dynamic-subscription":      RuleTxID, // see vectorOverrides
}

// vectorOverrides: where a vector's assertion contradicts PIX.md, PIX.md wins.
var vectorOverrides = map[string]struct {
	valid bool
	why   string
}{
	"stark-dynamic-subscription": {false, "a dynamic code (26-25 location) must carry txid *** in 62-05 (PIX.md); " +
		"this one carries 5656565656565656 (Stark's decoder does not check it)"},
}

// vectorField reads the Decoded field a vector's expectation key names.
func vectorField(t *testing.T, d Decoded, key string) (any, bool) {
	t.Helper()
	switch key {
	case "payload_format_indicator":
		return d.PayloadFormat, true
	case "point_of_initiation_method":
		return d.PointOfInitiation, true
	case "gui":
		return d.GUI, true
	case "chave":
		return d.Key, true
	case "info_adicional":
		return d.Info, true
	case "fss":
		return d.FSS, true
	case "url":
		return d.URL, true
	case "url_rec":
		return d.RecurrenceURL, true
	case "merchant_category_code":
		return d.MCC, true
	case "transaction_currency":
		return d.Currency, true
	case "transaction_amount":
		return d.Amount, true
	case "country_code":
		return d.Country, true
	case "merchant_name":
		return d.MerchantName, true
	case "merchant_city":
		return d.MerchantCity, true
	case "postal_code":
		return d.PostalCode, true
	case "txid":
		return d.TxID, true
	case "crc":
		return d.CRC, true
	case "type":
		return d.Kind, true
	case "mai_26":
		return anyMap(d.Templates["26"]), true
	case "other_template_27":
		return anyMap(d.Templates["27"]), true
	case "unreserved_80":
		return anyMap(d.Templates["80"]), true
	case "brcode_version_62_50":
		els, err := ParseTLV(d.Templates["62"]["50"])
		if err != nil {
			t.Errorf("62-50: %v", err)
		}
		m := map[string]any{}
		for _, e := range els {
			m[e.ID] = e.Value
		}
		return m, true
	}
	return nil, false
}

func anyMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestBRCodeVectors(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.ID, func(t *testing.T) {
			d := Decode(v.Payload)

			// CRC, on its own.
			crcBroken := false
			for _, p := range d.Violations {
				crcBroken = crcBroken || p.Rule == RuleCRC
			}
			if crcBroken == v.ExpectCRCValid {
				t.Errorf("CRC valid = %v, vector says %v (%v)", !crcBroken, v.ExpectCRCValid, d.Violations)
			}
			if v.ExpectCRCValid {
				n := len(v.Payload)
				if got := fmt.Sprintf("%04X", CRC16([]byte(v.Payload[:n-4]))); got != v.Payload[n-4:] {
					t.Errorf("CRC16 = %s, payload says %s", got, v.Payload[n-4:])
				}
			}

			// Valid, and the first broken rule.
			want := v.ExpectValid
			if o, ok := vectorOverrides[v.ID]; ok {
				want = o.valid
				t.Logf("PIX.md overrides the vector (valid %v -> %v): %s", v.ExpectValid, o.valid, o.why)
			}
			if d.Valid != want {
				t.Fatalf("Valid = %v, want %v (rule %q: %s)", d.Valid, want, d.Rule, d.Error)
			}
			if !d.Valid {
				rule, ok := vectorFirstRule[v.ID]
				if !ok {
					t.Fatalf("broken vector without an expected rule; Decode says %q: %s", d.Rule, d.Error)
				}
				if d.Rule != rule || d.Error == "" {
					t.Errorf("rule %q (%s), want %q; vector says %v", d.Rule, d.Error, rule, v.Expected["error"])
				}
				if len(d.Violations) == 0 || d.Violations[0].Rule != d.Rule || d.Violations[0].Error != d.Error {
					t.Errorf("Violations %v do not start with Rule/Error", d.Violations)
				}
			} else if d.Rule != "" || d.Error != "" || len(d.Violations) != 0 {
				t.Errorf("valid but Rule %q Error %q Violations %v", d.Rule, d.Error, d.Violations)
			}

			// Every field the vector asserts.
			for key, exp := range v.Expected {
				switch key {
				case "error", "generator_input": // checked above / in TestBRCodeVectorGenerators
					continue
				case "id_01_unusual":
					// The vector's note is wrong: the sample has no tag 01; "0414 12345678901234"
					// is tag 04 (a card network's merchant account, EMV ids 02-25), skipped.
					if d.PointOfInitiation != "" || !hasField(d, "04", "12345678901234") {
						t.Errorf("want no 01 and 04=12345678901234, got 01=%q fields %v", d.PointOfInitiation, d.Fields)
					}
					continue
				}
				got, ok := vectorField(t, d, key)
				if !ok {
					t.Errorf("expectation %q not mapped to a Decoded field", key)
					continue
				}
				if !reflect.DeepEqual(got, exp) {
					t.Errorf("%s = %#v, want %#v", key, got, exp)
				}
			}
		})
	}
}

func hasField(d Decoded, id, value string) bool {
	for _, f := range d.Fields {
		if f.ID == id && f.Value == value {
			return true
		}
	}
	return false
}

// TestBRCodeVectorGenerators feeds the vectors' generator inputs to the encoder.
func TestBRCodeVectorGenerators(t *testing.T) {
	vs := map[string]brVector{}
	for _, v := range loadVectors(t) {
		vs[v.ID] = v
	}
	in := func(id string) map[string]any {
		m, _ := vs[id].Expected["generator_input"].(map[string]any)
		if m == nil {
			t.Fatalf("%s: no generator_input", id)
		}
		return m
	}
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }

	t.Run("pixutils-static-amount-info is produced byte for byte", func(t *testing.T) {
		g := in("pixutils-static-amount-info")
		got, err := EncodeStatic(Static{Key: str(g, "pixKey"), Info: str(g, "infoAdicional"),
			MerchantName: str(g, "merchantName"), MerchantCity: str(g, "merchantCity"),
			AmountCents: int64(g["transactionAmount"].(float64) * 100)})
		if err != nil || got != vs["pixutils-static-amount-info"].Payload {
			t.Fatalf("got %q, %v\nwant %q", got, err, vs["pixutils-static-amount-info"].Payload)
		}
	})
	t.Run("pixutils-dynamic-normalized-name is produced byte for byte (reusable: no 01)", func(t *testing.T) {
		v := vs["pixutils-dynamic-normalized-name"]
		g := in(v.ID)
		got, err := EncodeDynamic(Dynamic{Location: Decode(v.Payload).URL, MerchantName: str(g, "merchantName"),
			MerchantCity: str(g, "merchantCity"), Reusable: true})
		if err != nil || got != v.Payload {
			t.Fatalf("got %q, %v\nwant %q", got, err, v.Payload)
		}
	})
	t.Run("qrcodepix-message decodes to the same fields", func(t *testing.T) {
		v := vs["qrcodepix-message"]
		g := in(v.ID)
		got, err := EncodeStatic(Static{Key: str(g, "key"), Info: str(g, "message"),
			MerchantName: str(g, "name"), MerchantCity: str(g, "city")})
		if err != nil {
			t.Fatal(err)
		}
		a, b := Decode(got), Decode(v.Payload)
		if !a.Valid || a.Key != b.Key || a.Info != b.Info || a.MerchantName != b.MerchantName ||
			a.MerchantCity != b.MerchantCity || a.TxID != b.TxID {
			t.Fatalf("encoded %+v\nvector %+v", a, b)
		}
	})
	t.Run("qrcodepix-txid-underscore is refused", func(t *testing.T) {
		g := in("qrcodepix-txid-underscore")
		_, err := EncodeStatic(Static{Key: str(g, "key"), MerchantName: str(g, "name"),
			MerchantCity: str(g, "city"), TxID: str(g, "transactionId")})
		wantEncodeError(t, err, "TxID", RuleTxID)
	})
}

func wantEncodeError(t *testing.T, err error, field, rule string) {
	t.Helper()
	var e *EncodeError
	if !errors.As(err, &e) {
		t.Fatalf("error %v, want an *EncodeError (%s, %s)", err, field, rule)
	}
	if e.Field != field || e.Rule != rule {
		t.Fatalf("error %q names %s/%s, want %s/%s", err, e.Field, e.Rule, field, rule)
	}
	if !strings.Contains(err.Error(), field) || !strings.Contains(err.Error(), rule) {
		t.Fatalf("error text %q does not name the field and the rule", err)
	}
}

func TestCRC16(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want uint16
	}{
		{"123456789", 0x29B1}, // the CRC-16/CCITT-FALSE check value
		{"", 0xFFFF},
		{strings.TrimSuffix(bcbStatic, "1D3D"), 0x1D3D},
	} {
		if got := CRC16([]byte(tt.in)); got != tt.want {
			t.Errorf("CRC16(%q) = %04X, want %04X", tt.in, got, tt.want)
		}
		if got := crc16String(tt.in); got != tt.want {
			t.Errorf("crc16String(%q) = %04X, want %04X", tt.in, got, tt.want)
		}
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	type want struct {
		kind, key, info, url, name, city, postal, txid, amount, poi string
		cents                                                       int64
	}
	tests := []struct {
		name string
		s    *Static
		d    *Dynamic
		want want
	}{
		{name: "static accents stripped and cut, 1 centavo",
			s: &Static{Key: "fulano@example.com", Info: "Pedido nº 12 — balcão", MerchantName: "Padaria São João da Esquina Ltda ME",
				MerchantCity: "São José dos Campos", AmountCents: 1, TxID: "PEDIDO12"},
			want: want{kind: "static", key: "fulano@example.com", info: "Pedido no 12 - balcao", name: "PADARIA SAO JOAO DA ESQUI",
				city: "SAO JOSE DOS CA", txid: "PEDIDO12", amount: "0.01", cents: 1}},
		{name: "static no amount, phone key, postal code, txid defaults to ***",
			s:    &Static{Key: "+5511987654321", MerchantName: "  Açaí   do Zé ", MerchantCity: "Goiânia", PostalCode: "74000000"},
			want: want{kind: "static", key: "+5511987654321", name: "ACAI DO ZE", city: "GOIANIA", postal: "74000000", txid: "***"}},
		{name: "static 100 centavos, CPF key, decomposed accents",
			s:    &Static{Key: "12345678901", MerchantName: "Jose\u0301 Ma\u0303o", MerchantCity: "Sa\u0303o Paulo", AmountCents: 100, TxID: "***"},
			want: want{kind: "static", key: "12345678901", name: "JOSE MAO", city: "SAO PAULO", txid: "***", amount: "1.00", cents: 100}},
		{name: "static ten-digit amount, CNPJ key, 25-char txid",
			s: &Static{Key: "12345678000195", MerchantName: "Loja", MerchantCity: "Recife", AmountCents: 123456789012,
				TxID: "abcdefghijklmnopqrstuvwxy"},
			want: want{kind: "static", key: "12345678000195", name: "LOJA", city: "RECIFE", txid: "abcdefghijklmnopqrstuvwxy",
				amount: "1234567890.12", cents: 123456789012}},
		{name: "static EVP key, name cut before a space is trimmed",
			s:    &Static{Key: "123e4567-e12b-12d1-a456-426655440000", MerchantName: "ABCDEFGHIJKLMNOPQRSTUVWX YZ", MerchantCity: "Rio Branco do Sul e Mais"},
			want: want{kind: "static", key: "123e4567-e12b-12d1-a456-426655440000", name: "ABCDEFGHIJKLMNOPQRSTUVWX", city: "RIO BRANCO DO S", txid: "***"}},
		{name: "dynamic single use, https:// stripped, 123456789012 centavos",
			d: &Dynamic{Location: "https://pix.example.com/qr/v2/cob/0a1b2c3d4e5f", MerchantName: "Lanchonete Ñandú", MerchantCity: "Florianópolis",
				AmountCents: 123456789012},
			want: want{kind: "dynamic", url: "pix.example.com/qr/v2/cob/0a1b2c3d4e5f", name: "LANCHONETE NANDU", city: "FLORIANOPOLIS",
				txid: "***", poi: "12", amount: "1234567890.12", cents: 123456789012}},
		{name: "dynamic reusable, no amount, HTTPS:// in capitals stripped",
			d:    &Dynamic{Location: "HTTPS://psp.example/loc/9", MerchantName: "Kiosk", MerchantCity: "Curitiba", PostalCode: "80000-000", Reusable: true},
			want: want{kind: "dynamic", url: "psp.example/loc/9", name: "KIOSK", city: "CURITIBA", postal: "80000-000", txid: "***"}},
		{name: "dynamic 100 centavos, 77-char location",
			d: &Dynamic{Location: "pix.example.com/" + strings.Repeat("a", 61), MerchantName: "x", MerchantCity: "y", AmountCents: 100},
			want: want{kind: "dynamic", url: "pix.example.com/" + strings.Repeat("a", 61), name: "X", city: "Y", txid: "***", poi: "12",
				amount: "1.00", cents: 100}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p string
			var err error
			if tt.s != nil {
				p, err = EncodeStatic(*tt.s)
			} else {
				p, err = EncodeDynamic(*tt.d)
			}
			if err != nil {
				t.Fatal(err)
			}
			if !isPrintableASCII(p) || len(p) > MaxPayloadBytes {
				t.Fatalf("payload not printable ASCII or too long: %q", p)
			}
			d := Decode(p)
			if !d.Valid {
				t.Fatalf("Decode(%q): %s (%s)", p, d.Error, d.Rule)
			}
			got := want{d.Kind, d.Key, d.Info, d.URL, d.MerchantName, d.MerchantCity, d.PostalCode, d.TxID, d.Amount,
				d.PointOfInitiation, d.AmountCents}
			if got != tt.want {
				t.Fatalf("decoded %+v\nwant    %+v\npayload %q", got, tt.want, p)
			}
			if d.PayloadFormat != "01" || d.GUI != "br.gov.bcb.pix" || d.MCC != "0000" || d.Currency != "986" || d.Country != "BR" {
				t.Fatalf("fixed fields: %+v", d)
			}
			if d.Fields[0].ID != "00" || d.Fields[len(d.Fields)-1].ID != "63" {
				t.Fatalf("00 not first or 63 not last: %v", d.Fields)
			}
		})
	}
}

func TestEncodeRefusals(t *testing.T) {
	ok := Static{Key: "fulano@example.com", MerchantName: "Loja", MerchantCity: "Recife"}
	okD := Dynamic{Location: "pix.example.com/qr/1", MerchantName: "Loja", MerchantCity: "Recife"}
	st := func(f func(*Static)) func() error {
		return func() error { s := ok; f(&s); _, err := EncodeStatic(s); return err }
	}
	dy := func(f func(*Dynamic)) func() error {
		return func() error { d := okD; f(&d); _, err := EncodeDynamic(d); return err }
	}
	for _, tt := range []struct {
		name, field, rule string
		run               func() error
	}{
		{"key too long", "Key", RuleKey, st(func(s *Static) { s.Key = strings.Repeat("a", 66) + "@example.com" })},
		{"key empty", "Key", RuleKey, st(func(s *Static) { s.Key = " " })},
		{"key formatted CPF", "Key", RuleKey, st(func(s *Static) { s.Key = "123.456.789-01" })},
		{"key phone without +55", "Key", RuleKey, st(func(s *Static) { s.Key = "+14155550100" })},
		{"key with a space", "Key", RuleKey, st(func(s *Static) { s.Key = "a b@example.com" })},
		{"key not ASCII", "Key", RuleKey, st(func(s *Static) { s.Key = "joão@example.com" })},
		{"txid with -", "TxID", RuleTxID, st(func(s *Static) { s.TxID = "PEDIDO-12" })},
		{"txid of 26", "TxID", RuleTxID, st(func(s *Static) { s.TxID = strings.Repeat("A", 26) })},
		{"empty name", "MerchantName", RuleName, st(func(s *Static) { s.MerchantName = "" })},
		{"name with nothing ASCII", "MerchantName", RuleName, st(func(s *Static) { s.MerchantName = "👀 ☕" })},
		{"empty city", "MerchantCity", RuleCity, st(func(s *Static) { s.MerchantCity = "\t" })},
		{"negative amount", "AmountCents", RuleAmount, st(func(s *Static) { s.AmountCents = -1 })},
		{"amount over 10 digits", "AmountCents", RuleAmount, st(func(s *Static) { s.AmountCents = MaxAmountCents + 1 })},
		{"info that does not fit 26", "Info", RuleInfo, st(func(s *Static) {
			s.Key = "123e4567-e12b-12d1-a456-426655440000"
			s.Info = strings.Repeat("i", 99-18-40-4+1)
		})},
		{"postal code too long", "PostalCode", RulePostalCode, st(func(s *Static) { s.PostalCode = "12345678901" })},
		{"dynamic negative amount", "AmountCents", RuleAmount, dy(func(d *Dynamic) { d.AmountCents = -100 })},
		{"dynamic amount over 10 digits", "AmountCents", RuleAmount, dy(func(d *Dynamic) { d.AmountCents = 1 << 62 })},
		{"dynamic empty location", "Location", RuleURL, dy(func(d *Dynamic) { d.Location = "https://" })},
		{"dynamic http://", "Location", RuleURLScheme, dy(func(d *Dynamic) { d.Location = "http://pix.example.com/qr/1" })},
		{"dynamic https://https://", "Location", RuleURLScheme, dy(func(d *Dynamic) { d.Location = "https://https://x/1" })},
		{"dynamic location of 78", "Location", RuleURL, dy(func(d *Dynamic) { d.Location = strings.Repeat("a", 78) })},
		{"dynamic location with a space", "Location", RuleURL, dy(func(d *Dynamic) { d.Location = "pix.example.com/q r" })},
		{"dynamic empty name", "MerchantName", RuleName, dy(func(d *Dynamic) { d.MerchantName = "" })},
		{"payload over 512", "payload", RuleLength, func() error {
			// Unreachable through EncodeStatic/EncodeDynamic (see TestEncodeMaxSize); the check
			// that guards it is exercised directly.
			f := []TLV{{"00", "01"}}
			for i := range 6 {
				f = append(f, TLV{fmt.Sprintf("%02d", 80+i), strings.Repeat("9", 99)})
			}
			_, err := assembleTLV(f)
			return err
		}},
		{"element over 99", "id 80", RuleTLV, func() error {
			_, err := assembleTLV([]TLV{{"00", "01"}, {"80", strings.Repeat("9", 100)}})
			return err
		}},
	} {
		t.Run(tt.name, func(t *testing.T) { wantEncodeError(t, tt.run(), tt.field, tt.rule) })
	}

	t.Run("key and URL together impossible by type", func(t *testing.T) {
		for typ, forbidden := range map[reflect.Type][]string{
			reflect.TypeFor[Static]():  {"Location", "URL"},
			reflect.TypeFor[Dynamic](): {"Key", "TxID", "Info"},
		} {
			for _, f := range forbidden {
				if _, ok := typ.FieldByName(f); ok {
					t.Errorf("%s has a %s field", typ, f)
				}
			}
		}
	})
}

// TestEncodeMaxSize: the largest payloads the encoders can produce stay under 512 bytes, so the
// size refusal is a guard, not a reachable path.
func TestEncodeMaxSize(t *testing.T) {
	name, city := strings.Repeat("N", 40), strings.Repeat("C", 40)
	s, err := EncodeStatic(Static{Key: strings.Repeat("k", 65) + "@example.com", MerchantName: name, MerchantCity: city,
		PostalCode: "1234567890", AmountCents: MaxAmountCents, TxID: strings.Repeat("T", 25)})
	if err != nil {
		t.Fatal(err)
	}
	d, err := EncodeDynamic(Dynamic{Location: strings.Repeat("u", 77), MerchantName: name, MerchantCity: city,
		PostalCode: "1234567890", AmountCents: MaxAmountCents})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{s, d} {
		if len(p) > 300 || !Decode(p).Valid {
			t.Errorf("%d bytes, valid %v: %q", len(p), Decode(p).Valid, p)
		}
	}
}

// bcbStatic is the example of the Manual de Padrões (vector bcb-manual-static-no-amount).
const bcbStatic = "00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-4266554400005204000053039865802BR5913Fulano de Tal6008BRASILIA62070503***63041D3D"

// tlv writes one element, its length in characters.
func tlv(id, v string) string { return id + fmt.Sprintf("%02d", utf8.RuneCountInString(v)) + v }

func withCRC(s string) string { s += "6304"; return s + fmt.Sprintf("%04X", CRC16([]byte(s))) }

func TestDecodeRules(t *testing.T) {
	mai := tlv("26", tlv("00", "br.gov.bcb.pix")+tlv("01", "fulano@example.com"))
	tail := tlv("52", "0000") + tlv("53", "986") + tlv("58", "BR") + tlv("59", "Loja") + tlv("60", "Recife") + tlv("62", tlv("05", "***"))
	good := withCRC(tlv("00", "01") + mai + tail)
	if d := Decode(good); !d.Valid || d.Kind != "static" {
		t.Fatalf("base payload: %+v", d)
	}
	// Key and URL <= 77 are what a 99-character template leaves after the GUI: 78 cannot be written.
	for _, sub := range []string{tlv("01", strings.Repeat("k", 77)), tlv("25", strings.Repeat("u", 77))} {
		p := withCRC(tlv("00", "01") + tlv("26", tlv("00", "br.gov.bcb.pix")+sub) + tail)
		if d := Decode(p); !d.Valid {
			t.Fatalf("77-character key/URL: %s", d.Error)
		}
	}
	repl := func(old, new string) string {
		s := tlv("00", "01") + mai + tail
		if !strings.Contains(s, old) {
			t.Fatalf("%q not in %q", old, s)
		}
		return withCRC(strings.Replace(s, old, new, 1))
	}
	dyn := tlv("26", tlv("00", "br.gov.bcb.pix")+tlv("25", "pix.example.com/qr/1"))
	for _, tt := range []struct {
		name, payload, rule string
	}{
		{"empty", "", RuleCRC},
		{"over 512", withCRC(tlv("00", "01") + mai + tail + tlv("96", strings.Repeat("x", 99)) + tlv("97", strings.Repeat("x", 99)) +
			tlv("98", strings.Repeat("x", 99)) + tlv("99", strings.Repeat("x", 99))), RuleLength},
		{"invalid UTF-8", repl(tlv("59", "Loja"), "5904Loj\xff"), RuleASCII},
		{"control character", repl(tlv("59", "Loja"), tlv("59", "Lo\nja")), RuleASCII},
		{"CRC mismatch", strings.TrimSuffix(bcbStatic, "1D3D") + "1D3C", RuleCRC},
		{"CRC lower case", strings.TrimSuffix(bcbStatic, "1D3D") + "1d3d", RuleCRC},
		{"no CRC", tlv("00", "01") + mai + tail, RuleCRC},
		{"CRC not last", withCRC(tlv("00", "01")+mai+tail) + tlv("99", "x"), RuleCRC},
		{"length not digits", repl(tlv("59", "Loja"), "59x4Loja"), RuleTLV},
		{"length past the end", withCRC(tlv("00", "01") + mai + tail + "9950abc"), RuleTLV},
		{"duplicate id", repl(tlv("59", "Loja"), tlv("59", "Loja")+tlv("59", "Loja")), RuleTLV},
		{"00 not first", withCRC(mai + tlv("00", "01") + tail), RulePayloadFormat},
		{"00 not 01", repl(tlv("00", "01"), tlv("00", "02")), RulePayloadFormat},
		{"00 missing", withCRC(mai + tail), RuleMandatory},
		{"01 is 13", repl(mai, tlv("01", "13")+mai), RulePointOfInitiation},
		{"26 missing", repl(mai, ""), RuleMandatory},
		{"26 not TLV", repl(mai, tlv("26", "0014br.gov.bcb.pix01")), RuleTLV},
		{"GUI other", repl("br.gov.bcb.pix", "br.gov.bcb.pax"), RuleGUI},
		{"GUI missing", repl(mai, tlv("26", tlv("01", "fulano@example.com"))), RuleGUI},
		{"key with a space", repl(mai, tlv("26", tlv("00", "br.gov.bcb.pix")+tlv("01", "a b"))), RuleKey},
		{"key and URL", repl(mai, tlv("26", tlv("00", "br.gov.bcb.pix")+tlv("01", "a@b.c")+tlv("25", "x.y/z"))), RuleKeyAndURL},
		{"neither key nor URL", repl(mai, tlv("26", tlv("00", "br.gov.bcb.pix")+tlv("02", "info"))), RuleKeyOrURL},
		{"URL with https://", repl(mai, tlv("26", tlv("00", "br.gov.bcb.pix")+tlv("25", "https://x.y/z"))), RuleURLScheme},
		{"URL empty", repl(mai, tlv("26", tlv("00", "br.gov.bcb.pix")+tlv("25", ""))), RuleURL},
		{"dynamic txid not ***", repl(mai+tail, dyn+strings.Replace(tail, "***", "ABC", 1)), RuleTxID},
		{"MCC letters", repl(tlv("52", "0000"), tlv("52", "00A0")), RuleMCC},
		{"MCC missing", repl(tlv("52", "0000"), ""), RuleMandatory},
		{"currency USD", repl(tlv("53", "986"), tlv("53", "840")), RuleCurrency},
		{"amount 3 decimals", repl(tlv("58", "BR"), tlv("54", "1.234")+tlv("58", "BR")), RuleAmount},
		{"amount comma", repl(tlv("58", "BR"), tlv("54", "1,00")+tlv("58", "BR")), RuleAmount},
		{"amount 11 digits", repl(tlv("58", "BR"), tlv("54", "12345678901")+tlv("58", "BR")), RuleAmount},
		{"amount negative", repl(tlv("58", "BR"), tlv("54", "-1.00")+tlv("58", "BR")), RuleAmount},
		{"country US", repl(tlv("58", "BR"), tlv("58", "US")), RuleCountry},
		{"name of 26", repl(tlv("59", "Loja"), tlv("59", strings.Repeat("n", 26))), RuleName},
		{"name empty", repl(tlv("59", "Loja"), tlv("59", "")), RuleName},
		{"city of 16", repl(tlv("60", "Recife"), tlv("60", strings.Repeat("c", 16))), RuleCity},
		{"city missing", repl(tlv("60", "Recife"), ""), RuleMandatory},
		{"62 missing", repl(tlv("62", tlv("05", "***")), ""), RuleMandatory},
		{"txid missing", repl(tlv("62", tlv("05", "***")), tlv("62", tlv("50", "x"))), RuleTxID},
		{"txid of 26", repl(tlv("62", tlv("05", "***")), tlv("62", tlv("05", strings.Repeat("t", 26)))), RuleTxID},
		{"txid with _", repl(tlv("62", tlv("05", "***")), tlv("62", tlv("05", "a_b"))), RuleTxID},
		{"txid with an accent", repl(tlv("62", tlv("05", "***")), tlv("62", tlv("05", "pedidoé"))), RuleTxID},
		{"recurrence URL with https://", repl(mai, tlv("26", tlv("00", "br.gov.bcb.pix"))+tlv("80", tlv("00", "br.gov.bcb.pix")+tlv("25", "https://r/1"))), RuleURLScheme},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := Decode(tt.payload)
			if d.Valid || d.Rule != tt.rule || d.Error == "" {
				t.Fatalf("Valid %v rule %q (%s), want rule %q; violations %v\n%q", d.Valid, d.Rule, d.Error, tt.rule, d.Violations, tt.payload)
			}
			if d.Err() == nil || !strings.Contains(d.Err().Error(), tt.rule) {
				t.Fatalf("Err() = %v", d.Err())
			}
		})
	}
}

func TestDecodeLenient(t *testing.T) {
	mai := tlv("26", tlv("00", "BR.Gov.Bcb.Pix")+tlv("01", "fulano@example.com")+tlv("02", "Obrigado pela visita, volte sempre!"))
	p := withCRC(tlv("00", "01") + tlv("01", "11") + tlv("04", "5555666677778888") + mai +
		tlv("27", tlv("00", "br.com.outro")+tlv("01", "x")) + tlv("52", "5812") + tlv("53", "986") + tlv("54", "7.5") +
		tlv("58", "BR") + tlv("59", "Padaria São João") + tlv("60", "Ribeirão Preto") + tlv("61", "14000-000") +
		tlv("62", tlv("05", "Pedido42")+tlv("50", tlv("00", "BR.GOV.BCB.BRCODE")+tlv("01", "1.0.0"))) +
		tlv("64", "unknown") + tlv("81", "not a template"))
	d := Decode(p)
	if !d.Valid {
		t.Fatalf("%s (%s)", d.Error, d.Rule)
	}
	if d.MerchantName != "Padaria São João" || d.MerchantCity != "Ribeirão Preto" || d.AmountCents != 750 || d.Amount != "7.5" ||
		d.PostalCode != "14000-000" || d.TxID != "Pedido42" || d.MCC != "5812" || d.PointOfInitiation != "11" || d.Kind != "static" {
		t.Fatalf("%+v", d)
	}
	if !maps.Equal(d.Templates["27"], map[string]string{"00": "br.com.outro", "01": "x"}) || d.Templates["81"] != nil {
		t.Fatalf("templates %v", d.Templates)
	}
	if !hasField(d, "04", "5555666677778888") || !hasField(d, "64", "unknown") || len(d.Fields) != 16 {
		t.Fatalf("fields %v", d.Fields)
	}
	// JSON shape others rely on.
	j, _ := json.Marshal(d)
	for _, k := range []string{`"valid":true`, `"kind":"static"`, `"amount_cents":750`, `"merchant_name":"Padaria São João"`,
		`"point_of_initiation":"11"`, `"payload_format":"01"`, `"mcc":"5812"`, `"gui":"BR.Gov.Bcb.Pix"`, `"txid":"Pedido42"`} {
		if !strings.Contains(string(j), k) {
			t.Errorf("JSON %s lacks %s", j, k)
		}
	}
	for _, a := range []struct {
		s     string
		cents int64
		ok    bool
	}{{"0.01", 1, true}, {"10.", 1000, true}, {"100", 10000, true}, {"9999999999.99", MaxAmountCents, true},
		{".5", 0, false}, {"1.2.3", 0, false}, {"", 0, false}, {"1e3", 0, false}, {"+1.00", 0, false}, {"1.0a", 0, false}} {
		if c, ok := parseAmount(a.s); c != a.cents || ok != a.ok {
			t.Errorf("parseAmount(%q) = %d, %v", a.s, c, ok)
		}
	}
}

func TestDecodeKeepsFieldsOfBrokenPayloads(t *testing.T) {
	// stone-fi-dynamic-1 with its CRC off by one.
	p := "00020101021226850014br.gov.bcb.pix2563exemplodeurl.com.br/pix/v2/11111111-1111-1111-1111-11111111111152040000530398654040.015802BR5925TESTE DE TESTE DO TESTEIE6014RIO DE JANEIRO62070503***6304CD53"
	d := Decode(p)
	if d.Valid || d.Rule != RuleCRC || d.Error != "CRC is CD53, computed CD52" {
		t.Fatalf("%+v", d)
	}
	if d.Kind != "dynamic" || d.AmountCents != 1 || d.MerchantCity != "RIO DE JANEIRO" || d.CRC != "CD53" {
		t.Fatalf("fields not kept: %+v", d)
	}
	// Truncated: what came before the break is still there.
	d = Decode(p[:150])
	if d.Valid || d.URL == "" || d.MerchantName != "" {
		t.Fatalf("%+v", d)
	}
}

func TestASCIIText(t *testing.T) {
	for _, tt := range []struct {
		in    string
		upper bool
		limit int
		want  string
	}{
		{"SÃO MIGUÉL DO O", true, 15, "SAO MIGUEL DO O"},
		{"Bárbara Pelé", true, 25, "BARBARA PELE"},
		{"Straße Œuvre Ærø", false, 99, "Strasse OEuvre AEro"},
		{"“Café” – nº 5…", false, 99, "\"Cafe\" - no 5..."},
		{" a\u00a0\t b ", false, 9, "a b"},
		{"日本 shop ☕", true, 25, "SHOP"},
		{"ab cd", true, 3, "AB"},
	} {
		if got := asciiText(tt.in, tt.upper, tt.limit); got != tt.want {
			t.Errorf("asciiText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
