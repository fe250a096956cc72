package virtual

import (
	"bytes"
	"fmt"
	"image/png"
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"
)

// receipt is a typical ~2 KB receipt: header, items, totals, Pix QR, cut.
func receipt() []byte {
	enc := func(s string) []byte {
		b, _ := charmap.CodePage850.NewEncoder().Bytes([]byte(s))
		return b
	}
	b := seq(ESC, '@', ESC, 't', 2, ESC, 'a', 1, ESC, '!', 0x38, "TOTEM LTDA", LF, ESC, '!', 0,
		enc("Av. São João, 1000 - Centro"), LF, "CNPJ 12.345.678/0001-90", LF,
		enc("CUPOM NÃO FISCAL"), LF, ESC, 'a', 0, strings.Repeat("-", 48), LF)
	for i := 0; i < 30; i++ {
		b = append(b, enc(fmt.Sprintf("%03d Pão de queijo tradicional   2 x 4,50    9,00", i+1))...)
		b = append(b, LF)
	}
	b = append(b, seq(strings.Repeat("-", 48), LF, ESC, 'E', 1, GS, '!', 0x01,
		"TOTAL R$                                  180,00", LF, GS, '!', 0, ESC, 'E', 0,
		enc("Pagamento: Pix"), LF, ESC, 'M', 1, enc("Transação 7f3a9c01 autorizada às 12:34:56"), LF, ESC, 'M', 0,
		ESC, 'a', 1, qrSeq(pix, 5, 49), LF, "Obrigado pela preferencia!", LF,
		GS, 'k', 73, 10, "{C", 12, 34, 56, 78, 90, 12, 34, 56, LF,
		ESC, 'd', 4, GS, 'V', 66, 0, GS, 'r', 1)...)
	return b
}

func TestReceipt(t *testing.T) {
	in := receipt()
	r := render(t, in, Options{})
	if len(r.Unknown) != 0 || len(r.Warnings) != 0 {
		t.Fatalf("Unknown %v Warnings %v", r.Unknown, r.Warnings)
	}
	for _, want := range []string{"T O T E M   L T D A", "Av. São João, 1000", "[QR " + pix + "]", "[CODE128 1234567890123456]", "--- partial cut ---", "Transação 7f3a9c01", "030 Pão de queijo tradicional   2 x 4,50    9,00\n"} {
		if !strings.Contains(r.Text, want) {
			t.Errorf("no %q in\n%s", want, r.Text)
		}
	}
	if len(in) < 1800 || len(in) > 2400 {
		t.Errorf("receipt is %d bytes", len(in))
	}
}

func FuzzRender(f *testing.F) {
	f.Add(receipt())
	f.Add(seq(ESC, '*', 33, 2, 0, 1, 2, 3, 4, 5, 6, LF, GS, 'v', '0', 3, 1, 0, 2, 0, 0x10, 0x04))
	f.Add(seq(GS, 'k', 2, "590123412345", 0, GS, 'k', 73, 4, "{A{S", GS, 'H', 3, GS, 'k', 69, 3, "A*B"))
	f.Add(seq(ESC, 'J', 255, ESC, 'd', 255, GS, '!', 0x77, "XY", LF, GS, 'L', 0xFF, 0xFF, GS, 'W', 1, 0, "z\tz", LF))
	f.Add(seq(ESC, '(', 'A', 0xFF, 0xFF, GS, '8', 'L', 0xFF, 0xFF, 0xFF, 0xFF, 0x1C, 'q', 2, 1, 0, 1, 0))
	f.Add(seq(ESC, '&', 3, 32, 126, 2, 1, 1, 1, 1, 1, 1, ESC, 'D', 1, 2, 3))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return // inputs beyond 64 KiB add nothing a smaller one does not, and slow the fuzzer
		}
		o := Options{}
		if len(data)%2 == 1 {
			o = Options{Dots: 384, Charset: "CP860"}
		}
		r, err := Render(data, o)
		if err != nil {
			t.Fatal(err)
		}
		if r.steps > len(data) {
			t.Fatalf("%d steps for %d bytes", r.steps, len(data))
		}
		if r.Height < 0 || r.Height > MaxHeight {
			t.Fatalf("Height %d", r.Height)
		}
		if len(r.Unknown) > min(len(data), maxReports)+3 || len(r.Warnings) > min(len(data), maxReports)+2 {
			t.Fatalf("%d Unknown for %d bytes", len(r.Unknown), len(data))
		}
		if n := strings.Count(r.Text, "\n"); n != len(r.Lines) || n > maxLines {
			t.Fatalf("%d text lines, %d Lines, %d bytes", n, len(r.Lines), len(data))
		}
		for _, u := range r.Unknown {
			if u.Offset < 0 || u.Offset > len(data) || u.Offset+u.Len > len(data) || len(u.Bytes) > 32 {
				t.Fatalf("bad Unknown %v", u)
			}
		}
		b, err := r.PNG()
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := png.DecodeConfig(bytes.NewReader(b))
		if err != nil || cfg.Width != r.dots || cfg.Height != max(r.Height, 1) {
			t.Fatalf("PNG %+v %v", cfg, err)
		}
	})
}

func BenchmarkRender(b *testing.B) {
	in := receipt()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Render(in, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderPNG(b *testing.B) {
	in := receipt()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		r, _ := Render(in, Options{})
		if _, err := r.PNG(); err != nil {
			b.Fatal(err)
		}
	}
}
