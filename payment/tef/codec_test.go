package tef

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"
)

// crlf joins lines into a message text, each line ended by CRLF.
func crlf(lines ...string) string { return strings.Join(lines, "\r\n") + "\r\n" }

// cp1252 encodes UTF-8 test text to CP1252 bytes, independently of Encode.
func cp1252(t testing.TB, s string) []byte {
	t.Helper()
	b, err := charmap.Windows1252.NewEncoder().String(s)
	if err != nil {
		t.Fatalf("test text %q is not CP1252: %v", s, err)
	}
	return []byte(b)
}

// approvedCRT is a PayGo-style approved card sale, as a manager writes it (CRLF, quoted lines).
var approvedCRT = crlf(
	"000-000 = CRT",
	"001-000 = 4100000123",
	"002-000 = 000451",
	"003-000 = 2570",
	"004-000 = 0",
	"009-000 = 0",
	"010-000 = REDE",
	"011-000 = 10",
	"012-000 = 0A1B2C3D4E5F",
	"013-000 = 654321",
	"015-000 = 1503142530",
	"016-000 = 1503142528",
	"017-000 = 0",
	"018-000 = 1",
	"022-000 = 15032026",
	"023-000 = 142530",
	"027-000 = REDE;0A1B2C3D4E5F;20260315142530;7F",
	"028-000 = 5",
	`029-001 = "         REDE - CREDITO A VISTA         "`,
	`029-002 = "VISA ************1234"`,
	`029-003 = "VALOR: R$ 25,70"`,
	`029-004 = ""`,
	`029-005 = "AUT: 654321  NSU: 0A1B2C3D4E5F"`,
	"030-000 = TRANSACAO APROVADA",
	"040-000 = VISA",
	"710-000 = 2",
	`711-001 = "REDE VISA ************1234"`,
	`711-002 = "R$ 25,70 AUT 654321"`,
	"712-000 = 2",
	`713-001 = "VIA CLIENTE"`,
	`713-002 = "R$ 25,70"`,
	"714-000 = 2",
	`715-001 = "VIA ESTABELECIMENTO"`,
	`715-002 = "R$ 25,70"`,
	"729-000 = 2",
	"731-000 = 1",
	"740-000 = ************1234",
	"999-999 = 0",
)

func TestEncodeRequests(t *testing.T) {
	tests := []struct {
		name  string
		build func() *Message
		want  string
	}{
		{"ATV", func() *Message { return New("ATV", 1) }, crlf(
			"000-000 = ATV",
			"001-000 = 1",
			"999-999 = 0",
		)},
		{"CRT", func() *Message {
			m := New("CRT", 4100000123)
			m.Set(2, 0, "000451")
			m.Set(3, 0, FormatAmount(2570))
			m.Set(4, 0, "0")
			m.Set(731, 0, "") // any card: not written
			m.Set(706, 0, "4")
			m.Set(735, 0, "TOTEMD")
			m.Set(736, 0, "1.4.0")
			return m
		}, crlf(
			"000-000 = CRT",
			"001-000 = 4100000123",
			"002-000 = 000451",
			"003-000 = 2570",
			"004-000 = 0",
			"706-000 = 4",
			"735-000 = TOTEMD",
			"736-000 = 1.4.0",
			"999-999 = 0",
		)},
		{"CNF echoes 010 012 027", func() *Message {
			m := New("CNF", 4100000124)
			m.Set(10, 0, "REDE")
			m.Set(12, 0, "0A1B2C3D4E5F")
			m.Set(27, 0, "REDE;0A1B2C3D4E5F;20260315142530;7F")
			return m
		}, crlf(
			"000-000 = CNF",
			"001-000 = 4100000124",
			"010-000 = REDE",
			"012-000 = 0A1B2C3D4E5F",
			"027-000 = REDE;0A1B2C3D4E5F;20260315142530;7F",
			"999-999 = 0",
		)},
		{"empty values omitted", func() *Message {
			return &Message{Fields: []Field{{0, 0, "CRT"}, {1, 0, "7"}, {2, 0, ""}, {3, 0, "100"}, {30, 0, ""}}}
		}, crlf(
			"000-000 = CRT",
			"001-000 = 7",
			"003-000 = 100",
			"999-999 = 0",
		)},
		{"trailer moved last and written as 0", func() *Message {
			return &Message{Fields: []Field{{999, 999, "5"}, {0, 0, "ATV"}, {1, 0, "2"}}}
		}, crlf(
			"000-000 = ATV",
			"001-000 = 2",
			"999-999 = 0",
		)},
		{"ids over 999, small ids and seqs padded", func() *Message {
			return &Message{Fields: []Field{{7, 12, "y"}, {1001, 2, "x"}, {12345, 999, "z"}}}
		}, crlf(
			"007-012 = y",
			"1001-002 = x",
			"12345-999 = z",
			"999-999 = 0",
		)},
		{"values as is", func() *Message {
			return &Message{Fields: []Field{{30, 0, "  A = B  "}, {29, 1, `"quoted"`}}}
		}, crlf(
			"030-000 =   A = B  ",
			`029-001 = "quoted"`,
			"999-999 = 0",
		)},
		{"nil message", func() *Message { return nil }, crlf("999-999 = 0")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.build().Encode()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("Encode:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	big := strings.Repeat("A", MaxMessageSize/4)
	tests := []struct {
		name   string
		fields []Field
		want   string // in the error
	}{
		{"CR", []Field{{30, 0, "A\rB"}}, "030-000: control character U+000D"},
		{"LF", []Field{{30, 0, "A\nB"}}, "U+000A"},
		{"tab", []Field{{30, 0, "A\tB"}}, "U+0009"},
		{"NUL", []Field{{30, 0, "A\x00"}}, "U+0000"},
		{"DEL", []Field{{30, 0, "A\x7f"}}, "U+007F"},
		{"C1 control", []Field{{30, 0, "A\u0085"}}, "U+0085"},
		{"not in CP1252", []Field{{31, 0, "Pix \U0001F4B8"}}, "031-000: U+1F4B8 not in CP1252"},
		{"replacement char", []Field{{31, 0, "\uFFFD"}}, "U+FFFD not in CP1252"},
		{"invalid UTF-8", []Field{{31, 0, "\xff"}}, "U+FFFD not in CP1252"},
		{"seq over 999", []Field{{29, 1000, "x"}}, "29-1000: id or seq out of range"},
		{"negative seq", []Field{{29, -1, "x"}}, "out of range"},
		{"negative id", []Field{{-1, 0, "x"}}, "out of range"},
		{"id over 9 digits", []Field{{1_000_000_000, 0, "x"}}, "out of range"},
		{"duplicate", []Field{{0, 0, "CRT"}, {3, 0, "1"}, {3, 0, "2"}}, "field 003-000 twice"},
		{"duplicate among many", []Field{{0, 0, "CRT"}, {1, 0, "1"}, {2, 0, "2"}, {3, 0, "3"}, {4, 0, "4"},
			{5, 0, "5"}, {6, 0, "6"}, {7, 0, "7"}, {8, 0, "8"}, {2, 0, "again"}}, "field 002-000 twice"},
		{"too big", []Field{{29, 1, big}, {29, 2, big}, {29, 3, big}, {29, 4, big}}, "more than 1048576 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := (&Message{Fields: tt.fields}).Encode()
			if !errors.Is(err, ErrEncode) || b != nil {
				t.Fatalf("Encode = %q, %v; want ErrEncode", b, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not say %q", err, tt.want)
			}
		})
	}
	// A duplicate whose other copy is empty is not one: the empty one is not written.
	if _, err := (&Message{Fields: []Field{{3, 0, ""}, {3, 0, "2"}}}).Encode(); err != nil {
		t.Fatal(err)
	}
}

func TestSetGet(t *testing.T) {
	m := New("CRT", 9)
	m.Set(3, 0, "100")
	m.Set(2, 0, "DOC")
	m.Set(3, 0, "200") // replaced in place
	want := []Field{{0, 0, "CRT"}, {1, 0, "9"}, {3, 0, "200"}, {2, 0, "DOC"}}
	if !reflect.DeepEqual(m.Fields, want) {
		t.Fatalf("fields %v, want %v", m.Fields, want)
	}
	m.Set(3, 0, "") // removed
	if v, ok := m.Get(3, 0); ok || v != "" {
		t.Fatalf("Get(3, 0) = %q, %v after removal", v, ok)
	}
	if m.Value(2, 0) != "DOC" || m.Command() != "CRT" || m.RequestID() != "9" {
		t.Fatalf("Value/Command/RequestID wrong: %v", m.Fields)
	}
	// Set collapses duplicates a caller appended by hand.
	m.Fields = append(m.Fields, Field{2, 0, "DOC2"})
	m.Set(2, 0, "DOC3")
	want = []Field{{0, 0, "CRT"}, {1, 0, "9"}, {2, 0, "DOC3"}}
	if !reflect.DeepEqual(m.Fields, want) {
		t.Fatalf("fields %v, want %v", m.Fields, want)
	}
	var nilMsg *Message
	if _, ok := nilMsg.Get(0, 0); ok || nilMsg.Command() != "" || nilMsg.Lines(28, 29) != nil {
		t.Fatal("nil message not empty")
	}
	if New("", 0).Command() != "" || New("", 0).RequestID() != "0" {
		t.Fatal("New with an empty command")
	}
}

func TestParseResponses(t *testing.T) {
	crt := New("CRT", 4100000123)
	type want struct {
		get     map[[2]int]string
		absent  [][2]int
		amount  int64
		lines   []string
		copies  map[int][]string
		check   *Message // request it answers
		nfields int
	}
	tests := []struct {
		name string
		data []byte
		want want
	}{
		{"approved CRT", []byte(approvedCRT), want{
			get: map[[2]int]string{
				{0, 0}: "CRT", {1, 0}: "4100000123", {9, 0}: "0", {10, 0}: "REDE", {11, 0}: "10",
				{12, 0}: "0A1B2C3D4E5F", {13, 0}: "654321", {27, 0}: "REDE;0A1B2C3D4E5F;20260315142530;7F",
				{28, 0}: "5", {29, 4}: `""`, {40, 0}: "VISA", {729, 0}: "2", {731, 0}: "1",
				{740, 0}: "************1234", {999, 999}: "0",
			},
			absent: [][2]int{{30, 1}, {31, 0}, {729, 1}},
			amount: 2570,
			lines: []string{"         REDE - CREDITO A VISTA         ", "VISA ************1234",
				"VALOR: R$ 25,70", "", "AUT: 654321  NSU: 0A1B2C3D4E5F"},
			copies: map[int][]string{
				710: nil,
				711: {"REDE VISA ************1234", "R$ 25,70 AUT 654321"},
				713: {"VIA CLIENTE", "R$ 25,70"},
				715: {"VIA ESTABELECIMENTO", "R$ 25,70"},
			},
			check:   crt,
			nfields: 38,
		}},
		{"status", []byte(crlf("000-000 = CRT", "001-000 = 4100000123", "009-000 = 0", "999-999 = 0")), want{
			get:     map[[2]int]string{{0, 0}: "CRT", {9, 0}: "0"},
			absent:  [][2]int{{3, 0}, {28, 0}},
			check:   crt,
			nfields: 4,
		}},
		{"declined, CP1252", cp1252(t, crlf(
			"000-000 = CRT",
			"001-000 = 4100000124",
			"002-000 = 000452",
			"003-000 = 1051",
			"009-000 = 51",
			"010-000 = CIELO",
			"030-000 = NÃO AUTORIZADA",
			"031-000 = Cartão recusado pelo emissor",
			"999-999 = 0",
		)), want{
			get: map[[2]int]string{{9, 0}: "51", {30, 0}: "NÃO AUTORIZADA",
				{31, 0}: "Cartão recusado pelo emissor"},
			absent:  [][2]int{{12, 0}, {27, 0}, {28, 0}},
			amount:  1051,
			check:   New("CRT", 4100000124),
			nfields: 9,
		}},
		{"leftover FF", []byte(crlf(
			"000-000 = CRT",
			"001-000 = 4100000125",
			"009-000 = FF",
			"030-000 = OPERACAO CANCELADA",
			"999-999 = 0",
		)), want{
			get:     map[[2]int]string{{9, 0}: "FF", {30, 0}: "OPERACAO CANCELADA"},
			check:   New("CRT", 4100000125),
			nfields: 5,
		}},
		{"reais with comma, bare LF, no final newline, unknown fields", []byte(
			"000-000 = CRT\n001-000 = 0000000126\n003-000 = 260,70\n009-000 = 0\n" +
				"028-000 = 2\n029-001 = LINHA 1\n029-002 = LINHA 2\n" +
				"800-000 = whatever\n4321-007 = more\n999-999 = 0"), want{
			get:     map[[2]int]string{{800, 0}: "whatever", {4321, 7}: "more", {1, 0}: "0000000126"},
			amount:  26070,
			lines:   []string{"LINHA 1", "LINHA 2"},
			check:   New("CRT", 126), // a padded echo still matches
			nfields: 10,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse(tt.data)
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Fields) != tt.want.nfields {
				t.Errorf("%d fields, want %d", len(m.Fields), tt.want.nfields)
			}
			if last := m.Fields[len(m.Fields)-1]; last != (Field{999, 999, "0"}) {
				t.Errorf("last field %v, want the trailer", last)
			}
			for k, v := range tt.want.get {
				if got, ok := m.Get(k[0], k[1]); !ok || got != v {
					t.Errorf("Get(%d, %d) = %q, %v; want %q", k[0], k[1], got, ok, v)
				}
			}
			for _, k := range tt.want.absent {
				if got, ok := m.Get(k[0], k[1]); ok {
					t.Errorf("Get(%d, %d) = %q; want absent", k[0], k[1], got)
				}
			}
			cents, ok, err := m.Amount(3)
			if err != nil || ok != (tt.want.amount != 0) || cents != tt.want.amount {
				t.Errorf("Amount(3) = %d, %v, %v; want %d", cents, ok, err, tt.want.amount)
			}
			if got := m.Lines(28, 29); !reflect.DeepEqual(got, tt.want.lines) {
				t.Errorf("Lines(28, 29) = %q, want %q", got, tt.want.lines)
			}
			for id, want := range tt.want.copies {
				if got := m.CopyLines(id); !reflect.DeepEqual(got, want) {
					t.Errorf("CopyLines(%d) = %q, want %q", id, got, want)
				}
			}
			if err := Check(tt.want.check, m); err != nil {
				t.Errorf("Check: %v", err)
			}
		})
	}
}

func TestParseLeniency(t *testing.T) {
	tr := Field{999, 999, "0"}
	tests := []struct {
		name string
		data string
		want []Field
	}{
		{"CRLF", "000-000 = ATV\r\n001-000 = 1\r\n999-999 = 0\r\n", []Field{{0, 0, "ATV"}, {1, 0, "1"}, tr}},
		{"bare LF", "000-000 = ATV\n001-000 = 1\n999-999 = 0\n", []Field{{0, 0, "ATV"}, {1, 0, "1"}, tr}},
		{"mixed endings, last line without one", "000-000 = ATV\n001-000 = 1\r\n999-999 = 0", []Field{{0, 0, "ATV"}, {1, 0, "1"}, tr}},
		{"trailer only", "999-999 = 0", []Field{tr}},
		{"blank lines anywhere", "\r\n000-000 = ATV\r\n  \r\n\t\n001-000 = 1\r\n999-999 = 0\r\n\r\n\r\n", []Field{{0, 0, "ATV"}, {1, 0, "1"}, tr}},
		{"NUL padding and Ctrl-Z after the trailer", "000-000 = ATV\r\n999-999 = 0\r\n\x1a\x00\x00", []Field{{0, 0, "ATV"}, tr}},
		{"spaces missing around =", "000-000=ATV\r\n001-000 =1\r\n002-000= D\r\n999-999=0\r\n", []Field{{0, 0, "ATV"}, {1, 0, "1"}, {2, 0, "D"}, tr}},
		{"values untrimmed", "030-000 =  A  \r\n031-000 = =x\r\n032-000 ==y\r\n999-999 = 0\r\n", []Field{{30, 0, " A  "}, {31, 0, "=x"}, {32, 0, "=y"}, tr}},
		{"trailer with spaces", "000-000 = ATV\r\n999-999 =  0 \t\r\n", []Field{{0, 0, "ATV"}, tr}},
		{"duplicates: last value, first place", "003-000 = 1\r\n010-000 = X\r\n003-000 = 2\r\n999-999 = 0\r\n", []Field{{3, 0, "2"}, {10, 0, "X"}, tr}},
		{"empty value is absent", "003-000 = \r\n010-000 =\r\n999-999 = 0\r\n", []Field{tr}},
		{"empty value removes an earlier one", "003-000 = 1\r\n010-000 = X\r\n003-000 = \r\n999-999 = 0\r\n", []Field{{10, 0, "X"}, tr}},
		{"removed then set again", "003-000 = 1\r\n010-000 = X\r\n003-000 = \r\n003-000 = 3\r\n999-999 = 0\r\n", []Field{{3, 0, "3"}, {10, 0, "X"}, tr}},
		{"long ids, leading zeros", "1000-001 = a\r\n0012-000 = b\r\n123456789-999 = c\r\n999-999 = 0\r\n", []Field{{1000, 1, "a"}, {12, 0, "b"}, {123456789, 999, "c"}, tr}},
		{"control characters kept", "030-000 = A\tB\rC\x01\r\n999-999 = 0\r\n", []Field{{30, 0, "A\tB\rC\x01"}, tr}},
		{"CP1252", "030-000 = N\xc3O \x80 \x81\r\n999-999 = 0\r\n", []Field{{30, 0, "NÃO € \uFFFD"}, tr}},
		{"UTF-8 after a byte order mark", "\xef\xbb\xbf030-000 = NÃO\r\n999-999 = 0\r\n", []Field{{30, 0, "NÃO"}, tr}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse([]byte(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(m.Fields, tt.want) {
				t.Fatalf("fields\n got %#v\nwant %#v", m.Fields, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	long := "029-001 " + strings.Repeat("x", 52) + "TAIL-NOT-SHOWN"
	tests := []struct {
		name string
		data string
		err  error
		msg  string // in the error
	}{
		{"empty", "", ErrNoTrailer, "empty"},
		{"blank", "\r\n \r\n", ErrNoTrailer, "empty"},
		{"no trailer", crlf("000-000 = CRT", "001-000 = 1"), ErrNoTrailer, `last line "001-000 = 1"`},
		{"cut mid-line", "000-000 = CRT\r\n001-000 = 1\r\n009-0", ErrNoTrailer, `"009-0"`},
		{"cut in the trailer", "000-000 = CRT\r\n999-999 = ", ErrNoTrailer, ""},
		{"cut before the trailer's value", "000-000 = CRT\r\n999-99", ErrNoTrailer, ""},
		{"trailer not 0", crlf("000-000 = CRT", "999-999 = 1"), ErrNoTrailer, ""},
		{"field after the trailer", crlf("000-000 = CRT", "999-999 = 0", "003-000 = 1"), ErrNoTrailer, ""},
		{"no trailer, malformed line too", crlf("garbage", "001-000 = 1"), ErrNoTrailer, ""},
		{"two trailers", crlf("000-000 = CRT", "999-999 = 0", "003-000 = 1", "999-999 = 0"), ErrMalformed, `line 2: trailer "999-999 = 0" before the end`},
		{"short id", crlf("000-000 = CRT", "01-000 = 1", "999-999 = 0"), ErrMalformed, `line 2: "01-000 = 1"`},
		{"short seq", crlf("000-000 = CRT", "001-00 = 1", "999-999 = 0"), ErrMalformed, "line 2"},
		{"long seq", crlf("001-0000 = 1", "999-999 = 0"), ErrMalformed, "line 1"},
		{"no dash", crlf("001000 = 1", "999-999 = 0"), ErrMalformed, "line 1"},
		{"colon", crlf("001-000 : 1", "999-999 = 0"), ErrMalformed, "line 1"},
		{"two spaces before =", crlf("001-000  = 1", "999-999 = 0"), ErrMalformed, "line 1"},
		{"leading space", crlf(" 001-000 = 1", "999-999 = 0"), ErrMalformed, "line 1"},
		{"no =", crlf("001-000 1", "999-999 = 0"), ErrMalformed, "line 1"},
		{"key only", crlf("001-000", "999-999 = 0"), ErrMalformed, "line 1"},
		{"id of 10 digits", crlf("0000000001-000 = 1", "999-999 = 0"), ErrMalformed, "line 1"},
		{"text", crlf("000-000 = CRT", "", "TRANSACAO APROVADA", "999-999 = 0"), ErrMalformed, `line 3: "TRANSACAO APROVADA"`},
		{"long line cut to 60", crlf("000-000 = CRT", long, "999-999 = 0"), ErrMalformed, "line 2: \"" + long[:60] + "…\""},
		{"bad UTF-8 after a byte order mark", "\xef\xbb\xbf030-000 = N\xc3O\r\n999-999 = 0\r\n", ErrMalformed, "not UTF-8"},
		{"too big", strings.Repeat("029-001 = x\r\n", MaxMessageSize/13) + "999-999 = 0\r\n", ErrMalformed, "more than 1048576"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse([]byte(tt.data))
			if !errors.Is(err, tt.err) || m != nil {
				t.Fatalf("Parse = %v, %v; want %v", m, err, tt.err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("error %q does not say %q", err, tt.msg)
			}
			if tt.name == "long line cut to 60" && strings.Contains(err.Error(), "TAIL") {
				t.Fatalf("error %q not cut", err)
			}
		})
	}
	// Just under the limit parses.
	n := (MaxMessageSize - len("999-999 = 0\r\n")) / 13
	if _, err := Parse([]byte(strings.Repeat("029-001 = x\r\n", n) + "999-999 = 0\r\n")); err != nil {
		t.Fatal(err)
	}
}

func TestAmount(t *testing.T) {
	tests := []struct {
		value string
		cents int64
		ok    bool
		err   bool
	}{
		{"1000", 1000, true, false},
		{"0", 0, true, false},
		{"000000002570", 2570, true, false},
		{"260,70", 26070, true, false},
		{"260,7", 26070, true, false},
		{"0,05", 5, true, false},
		{"1.260,70", 126070, true, false},
		{"12.345.678,90", 1234567890, true, false},
		{"260.70", 26070, true, false},
		{"260.7", 26070, true, false},
		{" 1000 ", 1000, true, false},
		{"999999999999999999", 999999999999999999, true, false},
		{"9999999999999999,99", 999999999999999999, true, false},
		{"", 0, false, false},
		{"1.000", 0, true, true},
		{"1000000000000000000", 0, true, true},
		{"-100", 0, true, true},
		{"+100", 0, true, true},
		{"10,000", 0, true, true},
		{",50", 0, true, true},
		{"10,", 0, true, true},
		{"1,2,3", 0, true, true},
		{"12.34,56", 0, true, true},
		{"1234.567,00", 0, true, true},
		{".50", 0, true, true},
		{"R$ 10,00", 0, true, true},
		{"10 00", 0, true, true},
		{"   ", 0, true, true},
		{"1e3", 0, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			m := &Message{Fields: []Field{{3, 0, tt.value}}}
			cents, ok, err := m.Amount(3)
			if cents != tt.cents || ok != tt.ok || (err != nil) != tt.err {
				t.Fatalf("Amount(%q) = %d, %v, %v; want %d, %v, err %v", tt.value, cents, ok, err, tt.cents, tt.ok, tt.err)
			}
			if err != nil && (!errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "003-000")) {
				t.Fatalf("error %v", err)
			}
		})
	}
	if _, ok, err := (&Message{}).Amount(3); ok || err != nil {
		t.Fatal("absent amount")
	}
}

func TestFormatAmount(t *testing.T) {
	for cents, want := range map[int64]string{0: "0", 5: "5", 1000: "1000", 26070: "26070"} {
		if got := FormatAmount(cents); got != want {
			t.Errorf("FormatAmount(%d) = %q, want %q", cents, got, want)
		}
		m := &Message{Fields: []Field{{3, 0, FormatAmount(cents)}}}
		if got, ok, err := m.Amount(3); got != cents || !ok || err != nil {
			t.Errorf("Amount(FormatAmount(%d)) = %d, %v, %v", cents, got, ok, err)
		}
	}
}

func TestLines(t *testing.T) {
	l := func(seq int, v string) Field { return Field{29, seq, v} }
	tests := []struct {
		name   string
		fields []Field
		want   []string
	}{
		{"count obeyed", []Field{{28, 0, "2"}, l(1, `"A"`), l(2, `"B"`)}, []string{"A", "B"}},
		{"count shorter than the lines", []Field{{28, 0, "1"}, l(1, `"A"`), l(2, `"B"`)}, []string{"A"}},
		{"count absent", []Field{l(2, `"B"`), l(1, `"A"`), l(3, "C")}, []string{"A", "B", "C"}},
		{"count too big", []Field{{28, 0, "5"}, l(1, "A"), l(2, "B")}, []string{"A", "B"}},
		{"count names a missing line", []Field{{28, 0, "2"}, l(1, "A"), l(3, "C")}, []string{"A", "C"}},
		{"count not a number", []Field{{28, 0, "dois"}, l(1, "A"), l(2, "B")}, []string{"A", "B"}},
		{"count with spaces", []Field{{28, 0, " 2 "}, l(1, "A"), l(2, "B"), l(3, "C")}, []string{"A", "B"}},
		{"count 0 with lines", []Field{{28, 0, "0"}, l(1, "A")}, []string{"A"}},
		{"count 0, no lines", []Field{{28, 0, "0"}}, nil},
		{"no lines", []Field{{0, 0, "CRT"}}, nil},
		{"029-000 is not a line", []Field{{29, 0, "X"}, l(1, "A")}, []string{"A"}},
		{"quotes: one each side, only when wrapped", []Field{l(1, `""x""`), l(2, `"open`), l(3, `close"`), l(4, `"`), l(5, `""`), l(6, ` "sp" `)},
			[]string{`"x"`, `"open`, `close"`, `"`, "", ` "sp" `}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &Message{Fields: tt.fields}
			if got := m.Lines(28, 29); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Lines = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCopyLines(t *testing.T) {
	m, err := Parse([]byte(crlf(
		"000-000 = CRT",
		"710-000 = 2",
		`710-002 = "SEGUNDA"`,
		`710-001 = "PRIMEIRA"`,
		`712-001 = "CLIENTE"`,
		"712-002 = SEM ASPAS",
		"999-999 = 0",
	)))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.CopyLines(710), []string{"PRIMEIRA", "SEGUNDA"}; !reflect.DeepEqual(got, want) {
		t.Errorf("CopyLines(710) = %q, want %q", got, want)
	}
	if got, want := m.CopyLines(712), []string{"CLIENTE", "SEM ASPAS"}; !reflect.DeepEqual(got, want) {
		t.Errorf("CopyLines(712) = %q, want %q", got, want)
	}
	if got := m.CopyLines(714); got != nil {
		t.Errorf("CopyLines(714) = %q", got)
	}
	// The approved CRT's layout: the count in 710-000, the lines in 711-xxx.
	crt, err := Parse([]byte(approvedCRT))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := crt.Lines(710, 711), crt.CopyLines(711); len(got) != 2 || !reflect.DeepEqual(got, want) {
		t.Errorf("Lines(710, 711) = %q, CopyLines(711) = %q", got, want)
	}
}

func TestCheck(t *testing.T) {
	msg := func(cmd, id string) *Message {
		m := &Message{}
		m.Set(0, 0, cmd)
		m.Set(1, 0, id)
		return m
	}
	req := New("CRT", 4100000123)
	tests := []struct {
		name      string
		req, resp *Message
		ok        bool
	}{
		{"same", req, msg("CRT", "4100000123"), true},
		{"status message", New("CNF", 77), msg("CNF", "77"), true},
		{"padded id", New("CRT", 123), msg("CRT", "0000000123"), true},
		{"case and spaces", req, msg(" crt ", "4100000123 "), true},
		{"other id", req, msg("CRT", "4100000122"), false},
		{"other command", req, msg("ATV", "4100000123"), false},
		{"no id", req, msg("CRT", ""), false},
		{"no command", req, msg("", "4100000123"), false},
		{"request without command", msg("", "1"), msg("", "1"), false},
		{"request without id", msg("CRT", ""), msg("CRT", ""), false},
		{"letters compared exactly", msg("CRT", "A1"), msg("CRT", "0A1"), false},
		{"nil response", req, nil, false},
		{"nil request", nil, req, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.req, tt.resp)
			if tt.ok && err != nil || !tt.ok && !errors.Is(err, ErrForeignID) {
				t.Fatalf("Check = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

func TestCP1252RoundTrip(t *testing.T) {
	for _, s := range []string{"NÃO AUTORIZADA", "cartão", "Transação aprovada – obrigado! € çÇ áéíóú âêô ãõ à ü ª º °"} {
		t.Run(s, func(t *testing.T) {
			m := New("CRT", 1)
			m.Set(31, 0, s)
			b, err := m.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if want := cp1252(t, "031-000 = "+s+"\r\n"); !bytes.Contains(b, want) {
				t.Fatalf("Encode = %q, want it to hold %q", b, want)
			}
			if bytes.Contains(b, []byte(s)) {
				t.Fatalf("UTF-8 on the wire: %q", b)
			}
			back, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if got := back.Value(31, 0); got != s {
				t.Fatalf("round trip %q, want %q", got, s)
			}
		})
	}
}

// chunkReader returns its data in pieces of the sizes next() picks.
type chunkReader struct {
	data []byte
	next func() int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := min(r.next(), len(p), len(r.data))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

// scanAll splits data read in chunks, returning the tokens and the scanner's error.
func scanAll(data []byte, next func() int) ([]string, error) {
	sc := bufio.NewScanner(&chunkReader{data: data, next: next})
	sc.Buffer(make([]byte, 0, 16), MaxMessageSize+2)
	sc.Split(SplitMessages)
	var out []string
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out, sc.Err()
}

func TestSplitMessages(t *testing.T) {
	status := crlf("000-000 = CRT", "001-000 = 4100000123", "009-000 = 0", "999-999 = 0")
	declined := string(cp1252(t, crlf("000-000 = CRT", "001-000 = 4100000124", "009-000 = 51", "030-000 = NÃO AUTORIZADA", "999-999 = 0")))
	lf := "000-000 = ATV\n001-000 = 9\n999-999 = 0\n"
	badTrailer := crlf("000-000 = ATV", "999-999 = 1")
	last := "000-000 = CNF\r\n001-000 = 10\r\n999-999 = 0" // no line end: the connection closed
	stream := status + approvedCRT + "\r\n\r\n" + declined + lf + " \r\n" + badTrailer + last
	want := []string{status, approvedCRT, declined, lf, badTrailer, last}

	sizes := map[string]func() int{
		"whole":  func() int { return len(stream) },
		"bytes":  func() int { return 1 },
		"3":      func() int { return 3 },
		"random": func() func() int { r := rand.New(rand.NewPCG(1, 2)); return func() int { return 1 + r.IntN(200) } }(),
	}
	for name, next := range sizes {
		t.Run(name, func(t *testing.T) {
			got, err := scanAll([]byte(stream), next)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("tokens\n got %q\nwant %q", got, want)
			}
			for i, tok := range got {
				m, err := Parse([]byte(tok))
				if i == 4 {
					if !errors.Is(err, ErrNoTrailer) {
						t.Fatalf("token %d: %v, want ErrNoTrailer", i, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("token %d: %v", i, err)
				}
				if i == 2 && m.Value(30, 0) != "NÃO AUTORIZADA" {
					t.Fatalf("token 2: 030-000 = %q", m.Value(30, 0))
				}
			}
		})
	}

	t.Run("dropped mid-message", func(t *testing.T) {
		got, err := scanAll([]byte(status+"000-000 = CRT\r\n001-000 = 4100000123\r\n009-0"), func() int { return 7 })
		if !errors.Is(err, ErrNoTrailer) || !reflect.DeepEqual(got, []string{status}) {
			t.Fatalf("tokens %q, err %v; want the status then ErrNoTrailer", got, err)
		}
	})
	t.Run("blank tail", func(t *testing.T) {
		got, err := scanAll([]byte(status+"\r\n \r\n"), func() int { return 5 })
		if err != nil || !reflect.DeepEqual(got, []string{status}) {
			t.Fatalf("tokens %q, err %v", got, err)
		}
	})
	t.Run("nothing", func(t *testing.T) {
		got, err := scanAll(nil, func() int { return 5 })
		if err != nil || got != nil {
			t.Fatalf("tokens %q, err %v", got, err)
		}
	})
	t.Run("no trailer in 1 MiB", func(t *testing.T) {
		data := bytes.Repeat([]byte("029-001 = x\r\n"), MaxMessageSize/13+1)
		adv, tok, err := SplitMessages(data, false)
		if !errors.Is(err, ErrMalformed) || tok != nil || adv != 0 {
			t.Fatalf("SplitMessages = %d, %q, %v; want ErrMalformed", adv, tok, err)
		}
	})
	t.Run("waits for the trailer's line end", func(t *testing.T) {
		data := []byte("\r\n000-000 = ATV\r\n999-999 = 0")
		adv, tok, err := SplitMessages(data, false)
		if adv != 2 || tok != nil || err != nil {
			t.Fatalf("SplitMessages = %d, %q, %v; want 2 (the blank line), nil, nil", adv, tok, err)
		}
	})
}
