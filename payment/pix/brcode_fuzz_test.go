package pix

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

func FuzzDecode(f *testing.F) {
	for _, v := range loadVectors(f) {
		f.Add(v.Payload)
	}
	f.Add("")
	f.Add("6304")
	f.Add("000201")
	f.Add("00020126180014br.gov.bcb.pix630400000")
	f.Add(strings.Repeat("99", 300))
	f.Fuzz(func(t *testing.T, s string) {
		d := Decode(s)
		if d.Rule == RuleInternal {
			t.Fatalf("Decode(%q) panicked: %s", s, d.Error)
		}
		if !d.Valid {
			if d.Rule == "" || d.Error == "" || len(d.Violations) == 0 || d.Violations[0].Rule != d.Rule {
				t.Fatalf("invalid without a rule: %+v", d)
			}
			return
		}
		if d.Rule != "" || d.Error != "" || len(d.Violations) != 0 {
			t.Fatalf("valid with a rule: %+v", d)
		}
		n := len(s)
		if n < 8 || n > MaxPayloadBytes || s[n-8:n-4] != "6304" {
			t.Fatalf("valid but shaped wrong: %q", s)
		}
		if crc, err := strconv.ParseUint(s[n-4:], 16, 16); err != nil || uint16(crc) != CRC16([]byte(s[:n-4])) || d.CRC != s[n-4:] {
			t.Fatalf("valid but CRC %q does not match %04X", s[n-4:], CRC16([]byte(s[:n-4])))
		}
		if d.Kind == "" || d.MerchantName == "" || d.MerchantCity == "" || d.TxID == "" || !strings.EqualFold(d.GUI, pixGUI) {
			t.Fatalf("valid but fields missing: %+v", d)
		}
		if d2 := Decode(s); !d2.Valid || d2.Kind != d.Kind || d2.CRC != d.CRC {
			t.Fatalf("re-validation differs: %+v", d2)
		}
		// A valid code's fields re-encode to a valid code.
		var p string
		var err error
		switch d.Kind {
		case "static":
			if checkKey(d.Key) != nil || !isPrintableASCII(d.PostalCode) || len(d.PostalCode) > MaxPostalLen {
				return // lenient decode, strict generation
			}
			p, err = EncodeStatic(Static{Key: d.Key, Info: d.Info, MerchantName: d.MerchantName, MerchantCity: d.MerchantCity,
				PostalCode: d.PostalCode, AmountCents: d.AmountCents, TxID: d.TxID})
		case "dynamic":
			if !isPrintableASCII(d.PostalCode) || len(d.PostalCode) > MaxPostalLen {
				return
			}
			p, err = EncodeDynamic(Dynamic{Location: d.URL, MerchantName: d.MerchantName, MerchantCity: d.MerchantCity,
				PostalCode: d.PostalCode, AmountCents: d.AmountCents, Reusable: d.PointOfInitiation != "12"})
		default:
			return
		}
		if err != nil {
			if e, ok := err.(*EncodeError); ok && (e.Rule == RuleName || e.Rule == RuleCity || e.Rule == RuleInfo) {
				return // nothing ASCII left of a name, or an info that only fitted with accents
			}
			t.Fatalf("re-encoding a valid %s code: %v\n%q", d.Kind, err, s)
		}
		if d3 := Decode(p); !d3.Valid || d3.Kind != d.Kind || d3.AmountCents != d.AmountCents || d3.Key != d.Key || d3.URL != d.URL {
			t.Fatalf("re-encoded %q -> %+v", p, d3)
		}
	})
}

// FuzzRoundTrip: random Static/Dynamic fields -> encode -> Decode valid with the same fields.
// Raw fields that encode must decode valid; the same fields coerced into shape must encode.
func FuzzRoundTrip(f *testing.F) {
	f.Add(false, uint8(0), "thalesog", "Pedido 123", "Thales Ogliari", "SÃO MIGUÉL DO O", "", int64(1000), "", "", false)
	f.Add(true, uint8(1), "x", "", "Bárbara Pelé", "São Paulo", "01310-100", int64(123456789012), "", "https://pix.example.com/qr/v2/1", false)
	f.Add(false, uint8(4), "seed", "ção", "👀", "☕", "\x00", int64(-5), "abc-def", "http://x", true)
	f.Add(true, uint8(3), "", strings.Repeat("i", 120), strings.Repeat("N", 40), " ", "12345678901", int64(1<<62), strings.Repeat("t", 30), strings.Repeat("u", 90), true)
	f.Fuzz(func(t *testing.T, dynamic bool, keyKind uint8, keySeed, info, name, city, postal string, amount int64, txid, location string, reusable bool) {
		// 1. Raw: whatever encodes must decode valid, with the normalized fields.
		roundTrip(t, dynamic, Static{Key: keySeed, Info: info, MerchantName: name, MerchantCity: city, PostalCode: postal,
			AmountCents: amount, TxID: txid}, Dynamic{Location: location, MerchantName: name, MerchantCity: city,
			PostalCode: postal, AmountCents: amount, Reusable: reusable}, false)

		// 2. Coerced into shape: must encode.
		key := fuzzKey(keyKind, keySeed)
		if asciiText(name, true, MaxNameLen) == "" {
			name = "Loja " + name
		}
		if asciiText(city, true, MaxCityLen) == "" {
			city = "Recife " + city
		}
		postal = keepOnly(postal, "0123456789", 8)
		if amount < 0 {
			amount = -(amount + 1)
		}
		amount %= MaxAmountCents + 1
		txid = keepOnly(txid, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", MaxTxIDLen)
		if room := 99 - 18 - 4 - len(key) - 4; len(asciiText(info, false, len(info))) > room {
			info = asciiText(info, false, len(info))[:room]
		}
		location = keepOnly(location, "abcdefghijklmnopqrstuvwxyz0123456789./-_~%?=&", MaxURLLen)
		if location == "" {
			location = "pix.example.com/qr/" + strconv.Itoa(int(keyKind))
		}
		roundTrip(t, dynamic, Static{Key: key, Info: info, MerchantName: name, MerchantCity: city, PostalCode: postal,
			AmountCents: amount, TxID: txid}, Dynamic{Location: location, MerchantName: name, MerchantCity: city,
			PostalCode: postal, AmountCents: amount, Reusable: reusable}, true)
	})
}

func roundTrip(t *testing.T, dynamic bool, s Static, dy Dynamic, mustEncode bool) {
	t.Helper()
	var p string
	var err error
	if dynamic {
		p, err = EncodeDynamic(dy)
	} else {
		p, err = EncodeStatic(s)
	}
	if err != nil {
		if _, ok := err.(*EncodeError); !ok {
			t.Fatalf("error of type %T: %v", err, err)
		}
		if mustEncode {
			t.Fatalf("encode %+v %+v: %v", s, dy, err)
		}
		return
	}
	if !isPrintableASCII(p) || len(p) > MaxPayloadBytes {
		t.Fatalf("payload not printable ASCII or too long: %q", p)
	}
	d := Decode(p)
	if !d.Valid {
		t.Fatalf("Decode(%q): %s (%s)", p, d.Error, d.Rule)
	}
	name, city := asciiText(s.MerchantName, true, MaxNameLen), asciiText(s.MerchantCity, true, MaxCityLen)
	if len(name) > MaxNameLen || len(city) > MaxCityLen || strings.IndexFunc(name+city, unicode.IsLower) >= 0 ||
		d.MerchantName != name || d.MerchantCity != city || d.PostalCode != strings.TrimSpace(s.PostalCode) ||
		d.AmountCents != s.AmountCents || (s.AmountCents == 0) != (d.Amount == "") {
		t.Fatalf("common fields: got %+v\nfrom %+v", d, s)
	}
	if dynamic {
		loc := strings.TrimSpace(dy.Location)
		if len(loc) >= 8 && strings.EqualFold(loc[:8], "https://") {
			loc = loc[8:]
		}
		poi := "12"
		if dy.Reusable {
			poi = ""
		}
		if d.Kind != "dynamic" || d.URL != loc || d.Key != "" || d.TxID != "***" || d.PointOfInitiation != poi {
			t.Fatalf("dynamic: got %+v\nfrom %+v", d, dy)
		}
		return
	}
	txid := s.TxID
	if txid == "" {
		txid = "***"
	}
	if d.Kind != "static" || d.Key != strings.TrimSpace(s.Key) || d.URL != "" || d.TxID != txid ||
		d.Info != asciiText(s.Info, false, len(s.Info)) || d.PointOfInitiation != "" {
		t.Fatalf("static: got %+v\nfrom %+v", d, s)
	}
}

// fuzzKey makes a well-formed key of each kind from a seed.
func fuzzKey(kind uint8, seed string) string {
	h := fnv.New64a()
	h.Write([]byte(seed))
	n := h.Sum64()
	digits := func(k int) string {
		s := fmt.Sprintf("%020d", n)
		return s[len(s)-k:]
	}
	switch kind % 5 {
	case 0:
		local := keepOnly(strings.ToLower(seed), "abcdefghijklmnopqrstuvwxyz0123456789._", 60)
		if local == "" {
			local = "k" + digits(4)
		}
		return local + "@example.com"
	case 1:
		return "+55" + digits(11)
	case 2:
		return digits(11)
	case 3:
		return digits(14)
	default:
		x := fmt.Sprintf("%016x%016x", n, ^n)
		return x[:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
	}
}

func keepOnly(s, allowed string, limit int) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() < limit && strings.ContainsRune(allowed, r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}
