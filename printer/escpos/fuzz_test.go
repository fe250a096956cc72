package escpos

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"unicode/utf8"
)

func FuzzDecodeDLEEOT(f *testing.F) {
	for n := 0; n <= 5; n++ {
		for _, b := range []byte{0x12, 0x16, 0x1A, 0x32, 0x72, 0x7E, 0x10, 0x11, 0x00, 0xFF} {
			f.Add(n, b)
		}
	}
	f.Fuzz(func(t *testing.T, n int, b byte) {
		s, err := DecodeDLEEOT(n, b)
		valid := n >= 1 && n <= 4 && b&0x93 == 0x12
		if valid != (err == nil) {
			t.Fatalf("n=%d 0x%02X: err = %v", n, b, err)
		}
		if err != nil {
			if s != (Status{}) {
				t.Fatalf("status %v with error", s)
			}
			if !errors.Is(err, ErrNotStatus) && !errors.Is(err, ErrArgument) {
				t.Fatalf("unexpected error kind %v", err)
			}
			return
		}
		if s.Known == 0 {
			t.Fatal("nothing known")
		}
		// Decoding looks at bits: the fixed ones carry nothing.
		if s2, _ := DecodeDLEEOT(n, b&^0x93|0x12); s2 != s {
			t.Fatalf("fixed bits changed the status")
		}
		_ = s.String()
		_ = s.Ready()
	})
}

func FuzzDecodeASB(f *testing.F) {
	f.Add([]byte{0x10, 0, 0, 0})
	f.Add([]byte{0x38, 0x08, 0x0C, 0})
	f.Add([]byte{0x12, 0, 0, 0})
	f.Add([]byte{0x10, 0, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, p []byte) {
		s, err := DecodeASB(p)
		valid := len(p) == 4 && p[0]&0x93 == 0x10 && p[1]&0x90 == 0 && p[2]&0x90 == 0 && p[3]&0x90 == 0
		if valid != (err == nil) {
			t.Fatalf("% X: err = %v", p, err)
		}
		if err == nil && s.Known&KnownOnline == 0 {
			t.Fatalf("% X: online not known", p)
		}
		if err != nil && !errors.Is(err, ErrNotStatus) {
			t.Fatalf("unexpected error kind %v", err)
		}
	})
}

// FuzzSplitter feeds data in chunks cut where cuts says: it never panics,
// every byte is accounted for, the frames do not depend on the cuts, and each
// frame decodes as what it claims to be.
func FuzzSplitter(f *testing.F) {
	in, _ := streamBytes()
	f.Add(in, []byte{3, 1, 7})
	f.Add([]byte{0x10, 0x00, 0xFF, 0x10, 0x10, 0, 0, 0}, []byte{1})
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, data, cuts []byte) {
		var whole Splitter
		want := whole.Feed(data)

		var s Splitter
		var got []Frame
		rest := data
		for _, c := range cuts {
			n := min(int(c)%8, len(rest))
			got = append(got, s.Feed(rest[:n])...)
			rest = rest[n:]
		}
		got = append(got, s.Feed(rest)...)
		if !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Fatalf("chunked %v\n  whole %v", got, want)
		}
		if s.Pending() != whole.Pending() {
			t.Fatalf("pending %d vs %d", s.Pending(), whole.Pending())
		}

		var all []byte
		for _, fr := range got {
			all = append(all, fr.Bytes...)
			switch fr.Kind {
			case FrameASB:
				if _, err := DecodeASB(fr.Bytes); err != nil {
					t.Fatalf("ASB frame % X: %v", fr.Bytes, err)
				}
			case FrameByte:
				var err error
				if len(fr.Bytes) != 1 {
					t.Fatalf("byte frame % X", fr.Bytes)
				}
				if b := fr.Bytes[0]; b&0x10 != 0 {
					_, err = DecodeDLEEOT(1, b)
				} else {
					_, err = DecodeGSr1(b)
				}
				if err != nil {
					t.Fatalf("byte frame: %v", err)
				}
			case FrameXON, FrameXOFF, FrameJunk:
				if len(fr.Bytes) != 1 {
					t.Fatalf("%v frame % X", fr.Kind, fr.Bytes)
				}
			default:
				t.Fatalf("kind %v", fr.Kind)
			}
		}
		for _, fr := range s.Flush() {
			all = append(all, fr.Bytes...)
		}
		if !bytes.Equal(all, data) {
			t.Fatalf("bytes not accounted for: %d in, %d out", len(data), len(all))
		}
	})
}

func FuzzText(f *testing.F) {
	f.Add(portuguese)
	f.Add("“Olá” — € … • \u00a0 😀 \x10\x04\x01 \t\r\n")
	f.Add("e\u0301\u0301\u0301 ㏂ ﷺ")
	f.Add("\xff\xfe\x00")
	f.Fuzz(func(t *testing.T, s string) {
		for c := range xcharmaps {
			b := EncodeText(c, s)
			checkText(t, c, s, b)
			e := NewEncoder(Table{Charset: c})
			e.Text(s)
			if !bytes.Equal(e.Bytes(), b) || e.Err() != nil {
				t.Fatalf("Encoder.Text differs from EncodeText")
			}
			if utf8.ValidString(s) && bytes.Count(b, []byte{'\n'}) < countLF(s) {
				t.Fatalf("line feeds lost")
			}
		}
	})
}

func countLF(s string) int {
	n := 0
	for _, r := range s {
		if r == '\n' {
			n++
		}
	}
	return n
}

// FuzzBarcode: no panic, errors are ours, and no real-time sequence leaks.
func FuzzBarcode(f *testing.F) {
	f.Add(byte(73), "160401", 50, 2, byte(0))
	f.Add(byte(67), "5901234123457", 100, 3, byte(2))
	f.Add(byte(70), "1234", 1, 6, byte(3))
	f.Fuzz(func(t *testing.T, kind byte, data string, height, width int, hri byte) {
		e := enc()
		e.Barcode(Barcode(kind), data, height, width, HRI(hri))
		e.QR(data, width, hri)
		if err := e.Err(); err != nil {
			if !errors.Is(err, ErrArgument) && !errors.Is(err, ErrData) {
				t.Fatalf("unexpected error kind %v", err)
			}
			return
		}
		if hasRealtime(e.Bytes()) {
			t.Fatalf("real-time sequence in % X", e.Bytes())
		}
	})
}
