package tef

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode"

	"golang.org/x/text/encoding/charmap"
)

func fuzzSeeds(f *testing.F) [][]byte {
	f.Helper()
	seeds := [][]byte{
		nil,
		[]byte(approvedCRT),
		[]byte(crlf("000-000 = CRT", "001-000 = 4100000123", "009-000 = 0", "999-999 = 0")),
		cp1252(f, crlf("000-000 = CRT", "001-000 = 9", "003-000 = 260,70", "009-000 = 51", "030-000 = NÃO AUTORIZADA", "999-999 = 0")),
		[]byte("000-000=ATV\n001-000 =1\n003-000 = 3\n003-000 = \n1000-001 = x\n\n999-999 = 0"),
		[]byte("\xef\xbb\xbf030-000 = NÃO\r\n999-999 = 0\r\n\x1a"),
		[]byte("030-000 = A\tB\rC\r\n999-999 =  0 \r\n"),
		[]byte("000-000 = CRT\r\n999-999 = 0\r\n003-000 = 1\r\n999-999 = 0"),
		[]byte("000-000 = CRT\r\n001-000 = 1\r\n009-0"),
		[]byte("0012-000 = \x81\x80\xe3\r\n999-999 = 0"),
	}
	return seeds
}

// encodable reports whether every value of m can be written: no control character, every
// rune in CP1252. Written apart from Encode so the fuzzer checks Encode's refusals.
func encodable(m *Message) bool {
	for _, f := range m.Fields {
		for _, r := range f.Value {
			if unicode.IsControl(r) {
				return false
			}
			if _, ok := charmap.Windows1252.EncodeRune(r); !ok {
				return false
			}
		}
	}
	return true
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err != nil {
			if m != nil || !errors.Is(err, ErrNoTrailer) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse = %v, %v", m, err)
			}
			return
		}
		// The shape of a parsed message: the trailer last, no other one, no empty value, no
		// duplicate.
		n := len(m.Fields)
		if n == 0 || m.Fields[n-1] != (Field{999, 999, "0"}) {
			t.Fatalf("fields %#v do not end with the trailer", m.Fields)
		}
		seen := map[[2]int]bool{}
		for _, fl := range m.Fields[:n-1] {
			k := [2]int{fl.ID, fl.Seq}
			if fl.Value == "" || seen[k] || k == [2]int{999, 999} || fl.ID < 0 || fl.Seq < 0 || fl.Seq > 999 {
				t.Fatalf("bad field %#v in %#v", fl, m.Fields)
			}
			seen[k] = true
		}
		_ = m.Lines(28, 29)
		_ = m.CopyLines(711)
		_, _, _ = m.Amount(3)

		enc, err := m.Encode()
		if err != nil {
			if !errors.Is(err, ErrEncode) || encodable(m) && len(data) < MaxMessageSize/2 {
				t.Fatalf("Encode of a parsed message: %v", err)
			}
			return
		}
		if !encodable(m) {
			t.Fatalf("Encode wrote an unencodable value: %q", enc)
		}
		back, err := Parse(enc)
		if err != nil {
			t.Fatalf("Parse(Encode) = %v\nencoded %q", err, enc)
		}
		if !reflect.DeepEqual(back.Fields, m.Fields) {
			t.Fatalf("round trip\n got %#v\nwant %#v", back.Fields, m.Fields)
		}
		if again, err := back.Encode(); err != nil || !bytes.Equal(again, enc) {
			t.Fatalf("Encode not stable: %q, %v", again, err)
		}
	})
}

func FuzzSplit(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s, uint8(1))
		f.Add(append(bytes.Repeat(s, 2), "\r\n999-999 = 0"...), uint8(7))
	}
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		size := 1 + int(chunk)
		whole, errWhole := scanAll(data, func() int { return len(data) + 1 })
		pieces, errPieces := scanAll(data, func() int { return size })
		// The tokens do not depend on how the stream arrives.
		if !reflect.DeepEqual(whole, pieces) || (errWhole == nil) != (errPieces == nil) {
			t.Fatalf("whole: %q, %v\nin %d-byte pieces: %q, %v", whole, errWhole, size, pieces, errPieces)
		}
		if errWhole != nil && !errors.Is(errWhole, ErrNoTrailer) {
			t.Fatalf("scan error %v", errWhole)
		}
		// Tokens appear in the stream in order, each ending with a 999-999 line, with only
		// blank lines between them.
		rest := data
		for i, tok := range whole {
			at := strings.Index(string(rest), tok)
			if at < 0 || !isBlank(rest[:at]) {
				t.Fatalf("token %d %q not next in %q", i, tok, rest)
			}
			rest = rest[at+len(tok):]
			body := bytes.TrimRight([]byte(tok), "\r\n")
			if !isTrailerLine(body[bytes.LastIndexByte(body, '\n')+1:]) || len(tok) == 0 {
				t.Fatalf("token %d %q does not end with a 999-999 line", i, tok)
			}
			if i < len(whole)-1 && !strings.HasSuffix(tok, "\n") {
				t.Fatalf("token %d %q has no line end", i, tok)
			}
			if _, err := Parse([]byte(tok)); err != nil && !errors.Is(err, ErrNoTrailer) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("token %d: Parse: %v", i, err)
			}
		}
		if errWhole == nil && !isBlank(rest) {
			t.Fatalf("left over %q", rest)
		}
	})
}
