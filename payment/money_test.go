package payment_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/totemd/totemd/payment"
)

func TestMoneyString(t *testing.T) {
	tests := []struct {
		m    payment.Money
		want string
	}{
		{0, "R$ 0,00"},
		{5, "R$ 0,05"},
		{50, "R$ 0,50"},
		{100, "R$ 1,00"},
		{-100, "-R$ 1,00"},
		{-5, "-R$ 0,05"},
		{99999, "R$ 999,99"},
		{100000, "R$ 1.000,00"},
		{123456, "R$ 1.234,56"},
		{-123456, "-R$ 1.234,56"},
		{12345678, "R$ 123.456,78"},
		{123456789, "R$ 1.234.567,89"},
		{100000000000, "R$ 1.000.000.000,00"},
		{payment.MaxMoney, "R$ 9.999.999.999,99"},
		{-payment.MaxMoney, "-R$ 9.999.999.999,99"},
		{9223372036854775807, "R$ 92.233.720.368.547.758,07"},
	}
	for _, tt := range tests {
		if got := tt.m.String(); got != tt.want {
			t.Errorf("Money(%d).String() = %q, want %q", int64(tt.m), got, tt.want)
		}
	}
}

func TestMoneyDecimal(t *testing.T) {
	tests := []struct {
		m    payment.Money
		want string
	}{
		{0, "0.00"},
		{1, "0.01"},
		{10, "0.10"},
		{1000, "10.00"},
		{123456, "1234.56"},
		{-150, "-1.50"},
		{payment.MaxMoney, "9999999999.99"},
	}
	for _, tt := range tests {
		if got := tt.m.Decimal(); got != tt.want {
			t.Errorf("Money(%d).Decimal() = %q, want %q", int64(tt.m), got, tt.want)
		}
	}
}

func TestParseMoneyAccepted(t *testing.T) {
	tests := []struct {
		in   string
		want payment.Money
	}{
		{"10", 1000},
		{"0", 0},
		{"12.34", 1234},
		{"12,34", 1234},
		{"12,3", 1230},
		{"12.3", 1230},
		{"0,05", 5},
		{",50", 50},
		{"1.234,56", 123456},
		{"1.234.567,89", 123456789},
		{"1.234", 123400}, // a dot followed by three digits groups thousands
		{"1.000.000", 100000000},
		{"1234.56", 123456},
		{"R$ 1.234,56", 123456},
		{"R$1,00", 100},
		{"  R$  7,00  ", 700},
		{"R$\u00a01.234,56", 123456}, // what Intl.NumberFormat writes: a no-break space
		{"9999999999.99", payment.MaxMoney},
		{"9.999.999.999,99", payment.MaxMoney},
	}
	for _, tt := range tests {
		got, err := payment.ParseMoney(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseMoney(%q) = %d, %v; want %d, nil", tt.in, got, err, tt.want)
		}
	}
}

func TestParseMoneyRefused(t *testing.T) {
	tests := []struct {
		in, why string
	}{
		{"", "empty"},
		{"   ", "empty"},
		{"R$", "empty"},
		{"-1,00", "negative"},
		{"R$ -1,00", "negative"},
		{"+1", "sign"},
		{"1,234", "three digits after a comma"},
		{"1,", "no digits after the separator"},
		{"1.", "no digits after the separator"},
		{",", "no digits"},
		{"1,2,3", "two commas"},
		{"1,234.56", "US thousands"},
		{"12.34.5", "bad grouping"},
		{"1234.567", "first group too long"},
		{"1.2345,00", "group of four"},
		{"1..5", "empty group"},
		{".1.000", "empty first group"},
		{"abc", "letters"},
		{"1e5", "exponent"},
		{"1 000,00", "space inside"},
		{"0x10", "hex"},
		{"١٢", "non-ASCII digits"},
		{"10000000000", "above MaxMoney"},
		{"10000000000,00", "above MaxMoney"},
		{"99999999999", "above MaxMoney"},
		{"R$ R$ 1", "double currency"},
	}
	for _, tt := range tests {
		got, err := payment.ParseMoney(tt.in)
		if err == nil {
			t.Errorf("ParseMoney(%q) = %d, nil; want an error (%s)", tt.in, got, tt.why)
			continue
		}
		if !errors.Is(err, payment.ErrBadAmount) {
			t.Errorf("ParseMoney(%q) error %v does not wrap ErrBadAmount", tt.in, err)
		}
		if got != 0 {
			t.Errorf("ParseMoney(%q) returned %d with its error; want 0", tt.in, got)
		}
	}
}

func FuzzParseMoney(f *testing.F) {
	for _, s := range []string{"10", "12.34", "12,34", "1.234,56", "R$ 1.234,56", ",5", "1.", "-1",
		"9999999999.99", "10000000000", "1.2.3", "R$\u00a01,00", "0,001", "1..1", "١"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := payment.ParseMoney(s)
		if err != nil {
			if !errors.Is(err, payment.ErrBadAmount) {
				t.Fatalf("ParseMoney(%q): error %v does not wrap ErrBadAmount", s, err)
			}
			return
		}
		if m < 0 || m > payment.MaxMoney {
			t.Fatalf("ParseMoney(%q) = %d, outside [0, MaxMoney]", s, m)
		}
		for _, again := range []string{m.Decimal(), m.String(), strings.ReplaceAll(m.Decimal(), ".", ",")} {
			back, err := payment.ParseMoney(again)
			if err != nil || back != m {
				t.Fatalf("ParseMoney(%q) = %d, but ParseMoney(%q) = %d, %v", s, m, again, back, err)
			}
		}
	})
}
