package payment

import (
	"strings"
	"testing"
)

func TestMaskRuns(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"CARTAO 4111 1111 1111 1111", "CARTAO 4111 11** **** 1111"},
		{"4111111111111111", "411111******1111"},
		{"NSU 123456789012", "NSU 123456789012"},         // 12 digits: not a card
		{"DOC 4111111111111112", "DOC 4111111111111112"}, // fails Luhn
		{"VALOR R$ 150,00 - 10/03/2025", "VALOR R$ 150,00 - 10/03/2025"},
		{"", ""},
	} {
		if got := maskRuns(tc.in); got != tc.want {
			t.Errorf("maskRuns(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzMaskRuns(f *testing.F) {
	for _, s := range []string{"4111 1111 1111 1111", "x5454545454545454y", "1-2-3", "0000000000000", "NSU 1234"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m := maskRuns(s)
		if len(m) != len(s) {
			t.Fatalf("length changed: %q -> %q", s, m)
		}
		if hasFullPAN(m) {
			t.Fatalf("a card number left in %q (from %q)", m, s)
		}
		if !hasFullPAN(s) && m != s {
			t.Fatalf("changed a line without a card number: %q -> %q", s, m)
		}
		if strings.Count(m, "*") < strings.Count(s, "*") {
			t.Fatalf("lost masking: %q -> %q", s, m)
		}
	})
}
