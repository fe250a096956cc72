package virtual

import (
	"bytes"
	"image/png"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"
)

// seq builds a byte sequence from bytes, ints, runes, strings and slices.
func seq(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch v := p.(type) {
		case byte:
			b = append(b, v)
		case int:
			b = append(b, byte(v))
		case rune:
			b = append(b, byte(v))
		case string:
			b = append(b, v...)
		case []byte:
			b = append(b, v...)
		default:
			panic("seq: bad part")
		}
	}
	return b
}

const (
	ESC = 0x1B
	GS  = 0x1D
	LF  = 0x0A
)

func render(t testing.TB, data []byte, o Options) *Result {
	t.Helper()
	r, err := Render(data, o)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	return r
}

func sp(n int) string { return strings.Repeat(" ", n) }

func TestOptions(t *testing.T) {
	for _, o := range []Options{{Dots: -1}, {Dots: 10}, {Dots: 100000}, {Charset: "EBCDIC"}, {Slots: map[byte]string{1: "nope"}}} {
		if _, err := Render(nil, o); err == nil {
			t.Errorf("Render(%+v): no error", o)
		}
	}
	r := render(t, nil, Options{})
	if r.Text != "" || r.Height != 0 || len(r.Unknown) != 0 {
		t.Errorf("empty input: %+v", r)
	}
	if img := r.Image(); img.Bounds().Dx() != 576 || img.Bounds().Dy() != 1 {
		t.Errorf("empty image %v", img.Bounds())
	}
	if _, err := r.PNG(); err != nil {
		t.Errorf("PNG: %v", err)
	}
}

func TestText(t *testing.T) {
	w58 := Options{Dots: 384}
	tests := []struct {
		name string
		o    Options
		in   []byte
		want string
	}{
		{"plain", Options{}, seq("Hello", LF), "Hello\n"},
		{"CR ignored", Options{}, seq("Hel\rlo\r\n"), "Hello\n"},
		{"blank lines", Options{}, seq("a", LF, LF, "b", LF), "a\n\nb\n"},
		{"center 48", Options{}, seq(ESC, 'a', 1, "ABC", LF), sp(22) + "ABC\n"},
		{"right 48", Options{}, seq(ESC, 'a', 2, "ABC", LF), sp(45) + "ABC\n"},
		{"center ascii param", Options{}, seq(ESC, 'a', '1', "ABC", LF), sp(22) + "ABC\n"},
		{"center 32", w58, seq(ESC, 'a', 1, "ABC", LF), sp(14) + "ABC\n"},
		{"right 32", w58, seq(ESC, 'a', 2, "ABC", LF), sp(29) + "ABC\n"},
		{"left after center", Options{}, seq(ESC, 'a', 1, "AB", LF, ESC, 'a', 0, "CD", LF), sp(23) + "AB\nCD\n"},
		{"double width", Options{}, seq(GS, '!', 0x10, "ABC", LF), "A B C\n"},
		{"double width center", Options{}, seq(GS, '!', 0x11, ESC, 'a', 1, "ABC", LF), sp(21) + "A B C\n"},
		{"double width right 32", w58, seq(GS, '!', 0x10, ESC, 'a', 2, "AB", LF), sp(28) + "A B\n"},
		{"double width wraps at 24", Options{}, seq(ESC, '!', 0x20, strings.Repeat("x", 30), LF),
			strings.TrimSpace(strings.Repeat("x ", 24)) + "\n" + strings.TrimSpace(strings.Repeat("x ", 6)) + "\n"},
		{"triple width wraps at 16", Options{}, seq(GS, '!', 0x20, strings.Repeat("y", 17), LF),
			strings.TrimSpace(strings.Repeat("y  ", 16)) + "\ny\n"},
		{"wrap at 48", Options{}, seq(strings.Repeat("a", 50), LF), strings.Repeat("a", 48) + "\naa\n"},
		{"wrap at 32", w58, seq(strings.Repeat("a", 33), LF), strings.Repeat("a", 32) + "\na\n"},
		{"font B 64 columns", Options{}, seq(ESC, 'M', 1, strings.Repeat("b", 65), LF), strings.Repeat("b", 64) + "\nb\n"},
		{"font B 42 columns", w58, seq(ESC, 'M', 1, strings.Repeat("b", 43), LF), strings.Repeat("b", 42) + "\nb\n"},
		{"font B right", Options{}, seq(ESC, 'M', '1', ESC, 'a', 2, "ABC", LF), sp(61) + "ABC\n"},
		{"ESC ! font B", Options{}, seq(ESC, '!', 1, strings.Repeat("c", 65), LF), strings.Repeat("c", 64) + "\nc\n"},
		{"tab", Options{}, seq("A\tB\tC", LF), "A" + sp(7) + "B" + sp(7) + "C\n"},
		{"tab font B", Options{}, seq(ESC, 'M', 1, "A\tB", LF), "A" + sp(7) + "B\n"},
		{"tab at 8", Options{}, seq("12345678\tX", LF), "12345678" + sp(8) + "X\n"},
		{"ESC d", Options{}, seq("X", ESC, 'd', 3, "Y", LF), "X\n\n\nY\n"},
		{"ESC d empty", Options{}, seq(ESC, 'd', 2, "Y", LF), "\n\nY\n"},
		{"ESC J prints", Options{}, seq("X", ESC, 'J', 50, "Y", LF), "X\nY\n"},
		{"ESC J empty", Options{}, seq(ESC, 'J', 50, "Y", LF), "Y\n"},
		{"no LF at end", Options{}, seq("A", LF, "B"), "A\n"},
		{"ESC @ keeps paper", Options{}, seq(ESC, 'a', 1, GS, '!', 0x11, "AB", LF, ESC, '@', "CD", LF), sp(22) + "A B\nCD\n"},
		{"margin", Options{}, seq(GS, 'L', 120, 0, "AB", LF), sp(10) + "AB\n"},
		{"margin center", Options{}, seq(GS, 'L', 96, 0, GS, 'W', 0x20, 1, ESC, 'a', 1, "AB", LF), sp(8+11) + "AB\n"},
		{"print area wraps", Options{}, seq(GS, 'W', 120, 0, strings.Repeat("z", 12), LF), strings.Repeat("z", 10) + "\nzz\n"},
		{"ESC a mid-line ignored", Options{}, seq("A", ESC, 'a', 2, "B", LF, "C", LF), "AB\nC\n"},
		{"GS L mid-line ignored", Options{}, seq("A", GS, 'L', 120, 0, "B", LF, "C", LF), "AB\nC\n"},
		{"cuts", Options{}, seq("A", LF, GS, 'V', 0, GS, 'V', 1, GS, 'V', 48, GS, 'V', 49, GS, 'V', 65, 0, GS, 'V', 66, 20),
			"A\n--- cut ---\n--- partial cut ---\n--- cut ---\n--- partial cut ---\n--- cut ---\n--- partial cut ---\n"},
		{"cut prints pending", Options{}, seq("A", GS, 'V', 1), "A\n--- partial cut ---\n"},
		{"presenter", Options{}, seq("T", LF, GS, 'e', 0, GS, 'e', 3, 10, GS, 'e', 4, GS, 'e', 5, GS, 'e', 1, GS, 'e', 2),
			"T\n--- present ---\n--- present ---\n--- retract ---\n--- eject ---\n"},
		{"accepted no-ops", Options{}, seq(ESC, '=', 1, ESC, 'c', '3', 0, ESC, 'c', '4', 0, ESC, 'c', '5', 1, "A", LF), "A\n"},
		{"trailing spaces trimmed", Options{}, seq("A   ", LF), "A\n"},
		{"utf-8 bytes are not decoded", Options{}, seq("\xc3\xa7", LF), "├º\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := render(t, tt.in, tt.o)
			if r.Text != tt.want {
				t.Errorf("Text:\n%q\nwant\n%q", r.Text, tt.want)
			}
			if len(r.Unknown) != 0 {
				t.Errorf("Unknown: %v", r.Unknown)
			}
			if n := strings.Count(r.Text, "\n"); n != len(r.Lines) {
				t.Errorf("%d text lines, %d Lines", n, len(r.Lines))
			}
		})
	}
}

func TestStyles(t *testing.T) {
	A := func(mod func(*Style)) Style {
		s := Style{Font: FontA, Width: 1, Height: 1}
		if mod != nil {
			mod(&s)
		}
		return s
	}
	bold := A(func(s *Style) { s.Bold = true })
	tests := []struct {
		name string
		in   []byte
		want []Run
	}{
		{"bold run", seq("a", ESC, 'E', 1, "b", ESC, 'E', 0, "c", LF),
			[]Run{{"a", A(nil)}, {"b", bold}, {"c", A(nil)}}},
		{"double strike is bold", seq(ESC, 'G', 1, "b", ESC, 'G', 0, "c", LF), []Run{{"b", bold}, {"c", A(nil)}}},
		{"underline 1 and 2", seq(ESC, '-', 1, "u", ESC, '-', '2', "v", ESC, '-', 0, "w", LF),
			[]Run{{"u", A(func(s *Style) { s.Underline = 1 })}, {"v", A(func(s *Style) { s.Underline = 2 })}, {"w", A(nil)}}},
		{"inverse", seq(GS, 'B', 1, "inv", GS, 'B', 0, " x", LF),
			[]Run{{"inv", A(func(s *Style) { s.Inverse = true })}, {" x", A(nil)}}},
		{"GS ! sizes", seq(GS, '!', 0x01, "h", GS, '!', 0x10, "w", GS, '!', 0x77, "8", LF),
			[]Run{{"h", A(func(s *Style) { s.Height = 2 })}, {"w", A(func(s *Style) { s.Width = 2 })}, {"8", A(func(s *Style) { s.Width, s.Height = 8, 8 })}}},
		{"ESC ! all bits", seq(ESC, '!', 0xB9, "x", LF),
			[]Run{{"x", Style{Font: FontB, Bold: true, Underline: 1, Width: 2, Height: 2}}}},
		{"ESC ! resets", seq(ESC, '!', 0x08, ESC, '-', 2, "a", ESC, '!', 0, "b", LF),
			[]Run{{"a", A(func(s *Style) { s.Bold, s.Underline = true, 2 })}, {"b", A(nil)}}},
		{"font B", seq(ESC, 'M', 1, "b", ESC, 'M', 0, "a", LF), []Run{{"b", Style{Font: FontB, Width: 1, Height: 1}}, {"a", A(nil)}}},
		{"tab joins the run", seq("a\tb", LF), []Run{{"a\tb", A(nil)}}},
		{"ESC @ resets styles", seq(ESC, 'E', 1, GS, 'B', 1, ESC, '@', "r", LF), []Run{{"r", A(nil)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := render(t, tt.in, Options{})
			if len(r.Lines) != 1 {
				t.Fatalf("%d lines: %q", len(r.Lines), r.Text)
			}
			l := r.Lines[0]
			if !reflect.DeepEqual(l.Runs, tt.want) {
				t.Errorf("Runs %+v\nwant %+v", l.Runs, tt.want)
			}
			if l.Style != tt.want[0].Style {
				t.Errorf("line style %+v, want %+v", l.Style, tt.want[0].Style)
			}
			if len(r.Unknown) != 0 {
				t.Errorf("Unknown: %v", r.Unknown)
			}
		})
	}
}

func TestLineGeometry(t *testing.T) {
	r := render(t, seq(ESC, 'a', 1, "AB", LF, GS, '!', 0x11, "C", LF, ESC, '3', 40, GS, '!', 0, "D", LF, ESC, 'J', 100, ESC, '2', "E", LF), Options{})
	want := []struct{ x, y, w, h int }{
		{276, 0, 24, 24},   // centre: (576-24)/2
		{276, 30, 24, 48},  // double: taller than the spacing
		{282, 78, 12, 24},  // ESC 3 40
		{282, 218, 12, 24}, // after ESC J 100
	}
	if len(r.Lines) != len(want) {
		t.Fatalf("lines: %q", r.Text)
	}
	for i, w := range want {
		l := r.Lines[i]
		if l.X != w.x || l.Y != w.y || l.W != w.w || l.H != w.h {
			t.Errorf("line %d box %d,%d %dx%d, want %v", i, l.X, l.Y, l.W, l.H, w)
		}
	}
	if r.Height != 248 {
		t.Errorf("Height %d, want 248", r.Height)
	}
	if l := r.Lines[0]; l.Align != AlignCenter || l.Align.String() != "center" {
		t.Errorf("align %v", l.Align)
	}
}

func TestCounters(t *testing.T) {
	in := seq(
		ESC, 'p', 0, 25, 250, // drawer
		"A", LF,
		0x10, 0x04, 1, // DLE EOT 1 @7
		GS, 'r', 1, // @10
		GS, 'a', 0, // @13
		GS, 'I', 67, // @16
		ESC, 'u', 0, // @19
		ESC, 'v', // @22
		GS, '(', 'k', 3, 0, 49, 82, 48, // @24 QR size
		GS, 'e', 6, // @32
		ESC, 'p', '1', 50, 50,
		GS, 'V', 65, 0, GS, 'V', 1,
	)
	r := render(t, in, Options{})
	if r.Drawer != 2 || r.Cuts != 2 {
		t.Errorf("Drawer %d Cuts %d", r.Drawer, r.Cuts)
	}
	want := []StatusRequest{{7, "DLE EOT", 1}, {10, "GS r", 1}, {13, "GS a", 0}, {16, "GS I", 67}, {19, "ESC u", 0}, {22, "ESC v", 0}, {24, "GS ( k", 82}, {32, "GS e", 6}}
	if !reflect.DeepEqual(r.Status, want) {
		t.Errorf("Status %v\nwant %v", r.Status, want)
	}
	if len(r.Unknown) != 0 {
		t.Errorf("Unknown %v", r.Unknown)
	}
	if r.Text != "A\n--- cut ---\n--- partial cut ---\n" {
		t.Errorf("Text %q", r.Text)
	}
}

func TestWarnings(t *testing.T) {
	tests := []struct {
		name, in, reason string
	}{
		{"ESC a mid-line", "A\x1ba\x01\n", "ESC a not at the beginning of a line"},
		{"GS W mid-line", "A\x1dW\x01\x01\n", "GS W not at the beginning of a line"},
		{"ESC @ discards", "AB\x1b@C\n", `ESC @ discarded unprinted text "AB"`},
		{"no LF at end", "A\nBC", `no LF at the end of the data ("BC")`},
		{"printer disabled", "\x1b=\x00A\n", "ESC = 0 disables the printer"},
		{"check digit", "\x1dkC\x0d5901234123458", "check digit 8, expected 7"},
		{"barcode mid-line", "A\x1dkF\x041234", "GS k with text pending"},
		{"margin beyond paper", "\x1dL\xff\x0fA\n", "GS L 4095 beyond the paper"},
		{"real-time in raster", "\x1dv0\x00\x03\x00\x01\x00\x10\x04\x01", "1 real-time command sequence(s)"},
		{"QR model 1", "\x1d(k\x04\x001A1\x00", "QR model 1: drawn as model 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := render(t, []byte(tt.in), Options{})
			if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0].Reason, tt.reason) {
				t.Errorf("Warnings %v, want one with %q", r.Warnings, tt.reason)
			}
			if len(r.Unknown) != 0 {
				t.Errorf("Unknown %v", r.Unknown)
			}
		})
	}
}

func TestCharsets(t *testing.T) {
	const pt = "Ação São João"
	enc := func(cm *charmap.Charmap, s string) []byte {
		b, err := cm.NewEncoder().Bytes([]byte(s))
		if err != nil {
			t.Fatalf("encode %q: %v", s, err)
		}
		return b
	}
	tests := []struct {
		name string
		o    Options
		in   []byte
		want string
	}{
		{"CP850 slot 2", Options{}, seq(ESC, 't', 2, enc(charmap.CodePage850, pt), LF), pt},
		{"CP860 slot 3", Options{}, seq(ESC, 't', 3, enc(charmap.CodePage860, pt), LF), pt},
		{"WPC1252 slot 16", Options{}, seq(ESC, 't', 16, enc(charmap.Windows1252, pt), LF), pt},
		{"CP858 slot 19", Options{}, seq(ESC, 't', 19, enc(charmap.CodePage858, pt+" €"), LF), pt + " €"},
		{"CP437 slot 0", Options{}, seq(ESC, 't', 2, ESC, 't', 0, enc(charmap.CodePage437, "Ç é ñ º ½"), LF), "Ç é ñ º ½"},
		{"default CP437", Options{}, seq(enc(charmap.CodePage437, "Ç é"), LF), "Ç é"},
		{"initial CP850", Options{Charset: "cp850"}, seq(enc(charmap.CodePage850, pt), LF), pt},
		{"ESC @ back to initial", Options{Charset: "CP860"}, seq(ESC, 't', 16, ESC, '@', enc(charmap.CodePage860, pt), LF), pt},
		{"Star ESC GS t", Options{Slots: map[byte]string{6: "CP860", 1: "CP437"}}, seq(ESC, GS, 't', 6, enc(charmap.CodePage860, pt), LF), pt},
		{"Bematech slots", Options{Slots: map[byte]string{2: "CP850", 4: "CP860"}}, seq(ESC, 't', 4, enc(charmap.CodePage860, pt), LF), pt},
		{"mid-line switch", Options{}, seq(ESC, 't', 2, enc(charmap.CodePage850, "ã"), ESC, 't', 16, enc(charmap.Windows1252, "õ"), LF), "ãõ"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := render(t, tt.in, tt.o)
			if got := r.Lines[0].Text; got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if r.Text != tt.want+"\n" {
				t.Errorf("Text %q", r.Text)
			}
			if len(r.Unknown) != 0 {
				t.Errorf("Unknown %v", r.Unknown)
			}
		})
	}
	// Every Latin-1 letter of the tables draws something other than the
	// replacement glyph.
	repl := glyphFor('\uFFFD')
	for _, r := range "ÁÀÂÃÄÅÇÉÈÊËÍÌÎÏÑÓÒÔÕÖÚÙÛÜÝáàâãäåçéèêëíìîïñóòôõöúùûüýÿ°ºª€£ßæÆøØµ¿¡«»±§·²³¹×÷" {
		if g := glyphFor(r); *g == *repl || *g == (glyphBits{}) {
			t.Errorf("%c has no glyph", r)
		}
	}
	if *glyphFor('ã') == *glyphFor('a') || *glyphFor('ã') == *glyphFor('á') {
		t.Error("ã drawn like a or á")
	}
}

func TestUnknown(t *testing.T) {
	tests := []struct {
		name   string
		in     []byte
		text   string
		want   []Unknown // Bytes left out: checked through Len
		height bool
	}{
		{"ESC ( A", seq("x", LF, ESC, '(', 'A', 2, 0, 1, 2, "OK", LF), "x\nOK\n",
			[]Unknown{{Offset: 2, Len: 7, Reason: "ESC ( A unsupported"}}, false},
		{"lone GS at the end", seq("A", LF, GS), "A\n",
			[]Unknown{{Offset: 2, Len: 1, Reason: "truncated GS: want 2 bytes, have 1"}}, false},
		{"lone ESC", seq(ESC), "", []Unknown{{Offset: 0, Len: 1, Reason: "truncated ESC: want 2 bytes, have 1"}}, false},
		{"truncated ESC t", seq("A", LF, ESC, 't'), "A\n", []Unknown{{Offset: 2, Len: 2, Reason: "truncated ESC t: want 3 bytes, have 2"}}, false},
		{"truncated raster", seq(GS, 'v', '0', 0, 10, 0, 120, 0, bytes.Repeat([]byte{0xAA}, 30)), "",
			[]Unknown{{Offset: 0, Len: 38, Reason: "truncated GS v 0: want 1200 bytes, have 30"}}, false},
		{"truncated ESC *", seq(ESC, '*', 33, 10, 0, 1, 2, 3), "",
			[]Unknown{{Offset: 0, Len: 8, Reason: "truncated ESC * 33: want 30 bytes, have 3"}}, false},
		{"truncated GS k B", seq(GS, 'k', 73, 10, '{', 'B'), "",
			[]Unknown{{Offset: 0, Len: 6, Reason: "truncated GS k CODE128: want 14 bytes, have 6"}}, false},
		{"truncated GS k A", seq(GS, 'k', 2, '1', '2'), "",
			[]Unknown{{Offset: 0, Len: 5, Reason: "truncated GS k EAN13: no NUL at the end of the data"}}, false},
		{"truncated GS ( k", seq(GS, '(', 'k', 20, 0, 49, 80, 48, "abc"), "",
			[]Unknown{{Offset: 0, Len: 11, Reason: "truncated GS ( k: want 25 bytes, have 11"}}, false},
		{"GS ( k 170", seq(GS, '(', 'k', 3, 0, 49, 70, 0, "A", LF), "A\n",
			[]Unknown{{Offset: 0, Len: 8, Reason: "GS ( k function 170 unsupported"}}, false},
		{"PDF417", seq(GS, '(', 'k', 3, 0, 48, 67, 3, "A", LF), "A\n",
			[]Unknown{{Offset: 0, Len: 8, Reason: "GS ( k function 067 unsupported (PDF417)"}}, false},
		{"GS ( L", seq(GS, '(', 'L', 2, 0, 48, 50, "A", LF), "A\n",
			[]Unknown{{Offset: 0, Len: 7, Reason: "GS ( L unsupported"}}, false},
		{"FS p NV image", seq(0x1C, 'p', 1, 0, "A", LF), "A\n", []Unknown{{Offset: 0, Len: 4, Reason: "FS p unsupported"}}, false},
		{"ESC SP", seq(ESC, ' ', 2, "A", LF), "A\n", []Unknown{{Offset: 0, Len: 3, Reason: "ESC SP unsupported"}}, false},
		{"ESC D tabs", seq(ESC, 'D', 4, 8, 0, "A", LF), "A\n", []Unknown{{Offset: 0, Len: 5, Reason: "ESC D unsupported"}}, false},
		{"ESC i", seq("A", LF, ESC, 'i', "B", LF), "A\nB\n", []Unknown{{Offset: 2, Len: 2, Reason: "ESC i unsupported"}}, false},
		{"control byte", seq("A", 0x0C, "B", LF), "AB\n", []Unknown{{Offset: 1, Len: 1, Reason: "control 0x0C unsupported"}}, false},
		{"no charset in slot", seq(ESC, 't', 7, "A", LF), "A\n", []Unknown{{Offset: 0, Len: 3, Reason: "ESC t 7: no charset in that slot"}}, false},
		{"GS ! out of range", seq(GS, '!', 0x08, "A", LF), "A\n", []Unknown{{Offset: 0, Len: 3, Reason: "GS ! 0x08 out of range"}}, false},
		{"ESC M font C", seq(ESC, 'M', 2, "A", LF), "A\n", []Unknown{{Offset: 0, Len: 3, Reason: "ESC M 2: font unsupported"}}, false},
		{"GS V 97", seq(GS, 'V', 97, 3, "A", LF), "A\n", []Unknown{{Offset: 0, Len: 4, Reason: "GS V 97 unsupported"}}, false},
		{"DLE DC4 pulse", seq(0x10, 0x14, 1, 0, 1, "A", LF), "A\n", []Unknown{{Offset: 0, Len: 5, Reason: "DLE DC4 unsupported"}}, false},
		{"CODABAR", seq(GS, 'k', 71, 4, "A12A", "A", LF), "A\n", []Unknown{{Offset: 0, Len: 8, Reason: "GS k CODABAR: symbology unsupported"}}, false},
		{"bad EAN13", seq(GS, 'k', 67, 3, "12x", "A", LF), "A\n", []Unknown{{Offset: 0, Len: 7, Reason: "GS k EAN13: byte 0x78 is not a digit"}}, false},
		{"QR print without data", seq(GS, '(', 'k', 3, 0, 49, 81, 48, "A", LF), "A\n",
			[]Unknown{{Offset: 0, Len: 8, Reason: "GS ( k function 181: no QR data stored"}}, false},
		{"ESC * mode 2", seq(ESC, '*', 2, 1, 0, "A", LF), "A\n", []Unknown{{Offset: 0, Len: 5, Reason: "ESC * mode 2 unsupported"}}, false},
		{"image too tall", bytes.Repeat(seq(ESC, 'J', 255), 80), "",
			[]Unknown{{Offset: 234, Len: 0, Reason: "image too tall: the paper is capped at 20000 dots, the rest is not drawn nor listed in Text and Lines"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := render(t, tt.in, Options{})
			if r.Text != tt.text {
				t.Errorf("Text %q, want %q", r.Text, tt.text)
			}
			got := make([]Unknown, len(r.Unknown))
			for i, u := range r.Unknown {
				if want := tt.in[u.Offset : u.Offset+min(u.Len, 32)]; !bytes.Equal(u.Bytes, want) {
					t.Errorf("Unknown %d Bytes % X, want % X", i, u.Bytes, want)
				}
				got[i] = Unknown{Offset: u.Offset, Len: u.Len, Reason: u.Reason}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Unknown\n%v\nwant\n%v", got, tt.want)
			}
			if tt.height && r.Height != MaxHeight {
				t.Errorf("Height %d", r.Height)
			}
			if _, err := r.PNG(); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestOffsets checks that offsets survive multi-byte commands before them.
func TestOffsets(t *testing.T) {
	in := seq(ESC, '@', ESC, 't', 2, "Olá", LF, 0x1B, 'x', GS, 'v', '0', 0, 1, 0, 1, 0, 0xFF, 0x0C, LF, GS)
	r := render(t, in, Options{})
	var offs []int
	for _, u := range r.Unknown {
		offs = append(offs, u.Offset)
	}
	if !reflect.DeepEqual(offs, []int{10, 21, 23}) {
		t.Errorf("offsets %v: %v", offs, r.Unknown)
	}
}

func TestPNG(t *testing.T) {
	r := render(t, seq(ESC, 'a', 1, GS, 'B', 1, "Ola", LF, GS, 'V', 0), Options{Dots: 384})
	b, err := r.PNG()
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dx() != 384 || img.Bounds().Dy() != r.Height || r.Height != 30 {
		t.Errorf("PNG %v, Height %d", img.Bounds(), r.Height)
	}
	g := r.Image()
	// Inverse text: the cell is black around the glyphs.
	x0 := (384 - 36) / 2
	if g.GrayAt(x0, 0).Y != 0 || g.GrayAt(x0+35, 23).Y != 0 || g.GrayAt(x0-1, 0).Y != 255 || g.GrayAt(x0+36, 0).Y != 255 {
		t.Error("inverse cell not where expected")
	}
	// The cut mark: gray dashes on the last row.
	if g.GrayAt(0, 29).Y != 255-cutMark || g.GrayAt(8, 29).Y != 255 {
		t.Error("no cut mark")
	}
}

func TestCaps(t *testing.T) {
	// Zero line spacing: lines do not move the paper, the line cap holds.
	r := render(t, seq(ESC, '3', 0, bytes.Repeat(seq(ESC, 'd', 255), 100)), Options{})
	if len(r.Lines) != maxLines || strings.Count(r.Text, "\n") != maxLines || len(r.Unknown) != 1 ||
		r.Unknown[0].Reason != "more than 20000 lines: the rest is not listed in Text and Lines" {
		t.Errorf("%d lines, Unknown %v", len(r.Lines), r.Unknown)
	}
	r = render(t, bytes.Repeat([]byte{0x0C}, maxReports+5), Options{})
	if len(r.Unknown) != maxReports+1 || r.Unknown[maxReports].Reason != "5 more not listed" {
		t.Errorf("%d Unknown, last %v", len(r.Unknown), r.Unknown[len(r.Unknown)-1])
	}
	// Below the paper's cap, commands are still interpreted.
	r = render(t, seq(bytes.Repeat(seq(ESC, 'J', 255), 80), "lost", LF, GS, 'V', 0, ESC, 'p', 0, 1, 1), Options{})
	if r.Height != MaxHeight || r.Cuts != 1 || r.Drawer != 1 || len(r.Lines) != 0 || len(r.Unknown) != 1 {
		t.Errorf("Height %d Cuts %d Drawer %d Lines %d Unknown %v", r.Height, r.Cuts, r.Drawer, len(r.Lines), r.Unknown)
	}
}
