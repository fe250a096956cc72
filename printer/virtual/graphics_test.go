package virtual

import (
	"image"
	"reflect"
	"strconv"
	"strings"
	"testing"

	qrcode "github.com/skip2/go-qrcode"
)

// rowRuns returns the run lengths of row y from x0 to x1, starting with a
// black run (a leading white run is skipped).
func rowRuns(img *image.Gray, x0, x1, y int) []int {
	var runs []int
	black := true
	n := 0
	for x := x0; x < x1; x++ {
		b := img.GrayAt(x, y).Y == 0
		if b == black {
			n++
			continue
		}
		if n > 0 || !black {
			runs = append(runs, n)
		}
		black, n = b, 1
	}
	if n > 0 {
		runs = append(runs, n)
	}
	return runs
}

// black tells whether the dot at x, y is inked (outside the image: no).
func black(img *image.Gray, x, y int) bool {
	return image.Pt(x, y).In(img.Bounds()) && img.GrayAt(x, y).Y == 0
}

// moduleRuns turns a module string into element widths times n.
func moduleRuns(m string, n int) []int {
	var e []int
	for _, r := range runs(m) {
		e = append(e, r*n)
	}
	return e
}

const ean13Example = "101" +
	"0001011" + "0100111" + "0110011" + "0010011" + "0111101" + "0011101" + // 9 L, 0 G, 1 G, 2 L, 3 L, 4 G (first digit 5: LGGLLG)
	"01010" +
	"1100110" + "1101100" + "1000010" + "1011100" + "1001110" + "1000100" + // 1 2 3 4 5 7, R
	"101"

const itf1234 = "1010" +
	"111" + "0" + "1" + "000" + "1" + "0" + "1" + "0" + "111" + "000" + // bars of 1 WNNNW, spaces of 2 NWNNW
	"111" + "0" + "111" + "0" + "1" + "000" + "1" + "0" + "1" + "000" + // bars of 3 WWNNN, spaces of 4 NNWNW
	"111" + "0" + "1"

func TestBarcodes(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		kind    string
		data    string
		modules string
		values  []int
	}{
		{"EAN13 13 digits", seq(GS, 'k', 67, 13, "5901234123457"), "EAN13", "5901234123457", ean13Example, nil},
		{"EAN13 12 digits", seq(GS, 'k', 67, 12, "590123412345"), "EAN13", "5901234123457", ean13Example, nil},
		{"EAN13 function A", seq(GS, 'k', 2, "590123412345", 0), "EAN13", "5901234123457", ean13Example, nil},
		{"UPC-A", seq(GS, 'k', 0, "03600029145", 0), "UPC-A", "036000291452", "", nil},
		{"EAN8", seq(GS, 'k', 68, 7, "9638507"), "EAN8", "96385074", "", nil},
		{"ITF", seq(GS, 'k', 70, 4, "1234"), "ITF", "1234", itf1234, nil},
		{"ITF function A", seq(GS, 'k', 5, "1234", 0), "ITF", "1234", itf1234, nil},
		{"CODE128 {B", seq(GS, 'k', 73, 6, "{B1234"), "CODE128", "1234", "", []int{104, 17, 18, 19, 20, 88, 106}},
		{"CODE128 {C", seq(GS, 'k', 73, 5, "{C", 12, 34, 56), "CODE128", "123456", "", []int{105, 12, 34, 56, 44, 106}},
		{"CODE128 {B then {C", seq(GS, 'k', 73, 7, "{BAB{C", 12), "CODE128", "AB12", "", []int{104, 33, 34, 99, 12, 35, 106}},
		{"CODE128 {A shift", seq(GS, 'k', 73, 6, "{AX{Sa"), "CODE128", "Xa", "", []int{103, 56, 98, 65, (103 + 56 + 2*98 + 3*65) % 103, 106}},
		{"CODE128 FNC1 and {{", seq(GS, 'k', 73, 9, "{C{1", 1, "{B{{"), "CODE128", "01{", "",
			[]int{105, 102, 1, 100, 91, (105 + 102 + 2*1 + 3*100 + 4*91) % 103, 106}},
		{"CODE39", seq(GS, 'k', 69, 3, "A-1"), "CODE39", "A-1", "", nil},
		{"CODE39 with stars", seq(GS, 'k', 4, "*A-1*", 0), "CODE39", "A-1", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := render(t, tt.in, Options{})
			if len(r.Unknown) != 0 || len(r.Warnings) != 0 || len(r.Barcodes) != 1 {
				t.Fatalf("Unknown %v Warnings %v Barcodes %v", r.Unknown, r.Warnings, r.Barcodes)
			}
			c := r.Barcodes[0]
			if c.Kind != tt.kind || c.Data != tt.data {
				t.Errorf("got %s %q, want %s %q", c.Kind, c.Data, tt.kind, tt.data)
			}
			if want := "[" + tt.kind + " " + tt.data + "]\n"; r.Text != want {
				t.Errorf("Text %q, want %q", r.Text, want)
			}
			if tt.modules != "" && c.Modules != tt.modules {
				t.Errorf("Modules\n%s\nwant\n%s", c.Modules, tt.modules)
			}
			if tt.values != nil && !reflect.DeepEqual(c.Values, tt.values) {
				t.Errorf("Values %v, want %v", c.Values, tt.values)
			}
			if tt.kind == "CODE128" {
				if !strings.HasPrefix(c.Modules, code128Modules(tt.values[0])) || !strings.HasSuffix(c.Modules, "1100011101011") ||
					len(c.Modules) != 11*(len(tt.values)-1)+13 {
					t.Errorf("CODE128 start/stop/length wrong: %s", c.Modules)
				}
			}
			if strings.HasPrefix(tt.kind, "EAN") || tt.kind == "UPC-A" {
				n := map[string]int{"EAN13": 95, "UPC-A": 95, "EAN8": 67}[tt.kind]
				if len(c.Modules) != n || !strings.HasPrefix(c.Modules, "101") || !strings.HasSuffix(c.Modules, "101") ||
					c.Modules[n/2-2:n/2+3] != "01010" {
					t.Errorf("%s guards wrong: %s", tt.kind, c.Modules)
				}
			}
			// The bars in the image: default module width 3, height 162.
			img := r.Image()
			want := moduleRuns(c.Modules, 3)
			if c.Kind == "ITF" || c.Kind == "CODE39" {
				want = nil
				for _, e := range runs(c.Modules) {
					want = append(want, map[int]int{1: 3, 3: 8}[e])
				}
			}
			for _, y := range []int{c.Y, c.Y + 161} {
				if got := rowRuns(img, c.X, c.X+c.W, y); !reflect.DeepEqual(got, want) {
					t.Errorf("row %d runs %v\nwant %v", y, got, want)
				}
			}
			if c.H != 162 || r.Height != 162 || black(img, c.X, c.Y+162) {
				t.Errorf("height: H %d Height %d", c.H, r.Height)
			}
		})
	}
}

func code128Modules(v int) string {
	var b strings.Builder
	for i, w := range code128Patterns[v] {
		b.WriteString(strings.Repeat(string("10"[i%2]), int(w-'0')))
	}
	return b.String()
}

func TestCode128Table(t *testing.T) {
	seen := map[string]bool{}
	for v, p := range code128Patterns {
		sum, bars := 0, 0
		for i, w := range p {
			sum += int(w - '0')
			if i%2 == 0 {
				bars += int(w - '0')
			}
		}
		want := 11
		if v == c128Stop {
			want = 13
		}
		if sum != want || bars%2 != 0 || seen[p] {
			t.Errorf("pattern %d %s: %d modules, %d bar modules, duplicate %v", v, p, sum, bars, seen[p])
		}
		seen[p] = true
	}
	if code128Modules(104) != "11010010000" || code128Modules(103) != "11010000100" || code128Modules(105) != "11010011100" {
		t.Error("start patterns")
	}
}

func TestCode39Table(t *testing.T) {
	for c, p := range code39Chars {
		if len(p) != 9 || strings.Count(p, "W") != 3 {
			t.Errorf("%c: %s", c, p)
		}
	}
	// Known patterns in the 1:2 notation.
	for c, want := range map[byte]string{'*': "100101101101", 'A': "110101001011", '0': "101001101101", '1': "110100101011"} {
		var b strings.Builder
		for i, e := range code39Chars[c] {
			w := 1
			if e == 'W' {
				w = 2
			}
			b.WriteString(strings.Repeat(string("10"[i%2]), w))
		}
		if b.String() != want {
			t.Errorf("%c: %s, want %s", c, b.String(), want)
		}
	}
}

func TestBarcodeLayout(t *testing.T) {
	ean := seq(GS, 'k', 67, 12, "590123412345")
	// Centred, HRI below in font B, module 2, height 50.
	r := render(t, seq("A", LF, ESC, 'a', 1, GS, 'h', 50, GS, 'w', 2, GS, 'H', 2, GS, 'f', 1, ean, "B", LF), Options{})
	c := r.Barcodes[0]
	l := r.Lines[1]
	if c.W != 95*2 || c.X != (576-190)/2 || c.Y != 30 || c.H != 50 || l.H != 50+17 || l.Kind != KindBarcode {
		t.Errorf("code %+v line %+v", c, l)
	}
	img := r.Image()
	ink := func(y0, y1 int) bool {
		for y := y0; y < y1; y++ {
			for x := c.X; x < c.X+c.W; x++ {
				if img.GrayAt(x, y).Y == 0 {
					return true
				}
			}
		}
		return false
	}
	if !ink(80, 97) {
		t.Error("no HRI below the bars")
	}
	if r.Lines[2].Y != 97 || r.Text != "A\n[EAN13 5901234123457]\n"+sp(23)+"B\n" {
		t.Errorf("after barcode: %+v %q", r.Lines[2], r.Text)
	}
	// HRI above and below.
	r = render(t, seq(GS, 'H', '3', ean), Options{})
	if c := r.Barcodes[0]; c.Y != 24 || r.Lines[0].H != 162+48 || r.Height != 210 {
		t.Errorf("HRI both: %+v %+v", c, r.Lines[0])
	}
	// Too wide: not printed.
	r = render(t, seq(GS, 'w', 6, GS, 'k', 73, 42, "{B", strings.Repeat("W", 40), "C", LF), Options{})
	if len(r.Barcodes) != 0 || len(r.Unknown) != 1 || !strings.Contains(r.Unknown[0].Reason, "not printed") || r.Text != "C\n" {
		t.Errorf("too wide: %v %q", r.Unknown, r.Text)
	}
	// Invalid CODE128 data is reported, the rest printed.
	for _, d := range [][]byte{[]byte("1234"), seq("{C", 100), []byte("{Aa"), []byte("{B{"), []byte("{B{X1"), []byte("{C{2")} {
		r = render(t, seq(GS, 'k', 73, len(d), d, "ok", LF), Options{})
		if len(r.Unknown) != 1 || r.Text != "ok\n" || !strings.HasPrefix(r.Unknown[0].Reason, "GS k CODE128: ") {
			t.Errorf("%q: %v %q", d, r.Unknown, r.Text)
		}
	}
}

const pix = "00020126580014BR.GOV.BCB.PIX0136123e4567-e12b-12d1-a456-4266554400005204000053039865802BR5913Fulano de Tal6008BRASILIA62070503***63041D3D"

func qrSeq(payload string, module, level byte) []byte {
	k := len(payload) + 3
	return seq(
		GS, '(', 'k', 4, 0, 49, 65, 50, 0,
		GS, '(', 'k', 3, 0, 49, 67, module,
		GS, '(', 'k', 3, 0, 49, 69, level,
		GS, '(', 'k', k, k>>8, 49, 80, 48, payload,
		GS, '(', 'k', 3, 0, 49, 81, 48,
	)
}

func TestQR(t *testing.T) {
	levels := map[byte]qrcode.RecoveryLevel{48: qrcode.Low, 49: qrcode.Medium, 50: qrcode.High, 51: qrcode.Highest}
	for lv, ql := range levels {
		r := render(t, seq(ESC, 'a', 1, qrSeq(pix, 4, lv), "fim", LF), Options{})
		if len(r.Unknown) != 0 || len(r.Warnings) != 0 {
			t.Fatalf("Unknown %v Warnings %v", r.Unknown, r.Warnings)
		}
		if len(r.QRs) != 1 || r.QRs[0] != pix {
			t.Fatalf("QRs %q", r.QRs)
		}
		if !strings.HasPrefix(r.Text, "[QR "+pix+"]\n") {
			t.Errorf("Text %q", r.Text)
		}
		q, err := qrcode.New(pix, ql)
		if err != nil {
			t.Fatal(err)
		}
		q.DisableBorder = true
		bm := q.Bitmap()
		l := r.Lines[0]
		n := len(bm)
		if l.Kind != KindQR || l.W != 4*n || l.H != 4*n || l.X != (576-4*n)/2 || l.Y != 0 {
			t.Fatalf("QR line %+v, %d modules", l, n)
		}
		img := r.Image()
		bad := 0
		for row := 0; row < n; row++ {
			for col := 0; col < n; col++ {
				for dy := 0; dy < 4; dy++ {
					for dx := 0; dx < 4; dx++ {
						black := img.GrayAt(l.X+4*col+dx, l.Y+4*row+dy).Y == 0
						if black != bm[row][col] {
							bad++
						}
					}
				}
			}
		}
		if bad != 0 {
			t.Errorf("level %c: %d dots differ from go-qrcode's bitmap", lv, bad)
		}
		if r.Lines[1].Y != 4*n {
			t.Errorf("text after QR at %d", r.Lines[1].Y)
		}
	}
	// Stored data is printed again by a second print; too big is reported.
	r := render(t, seq(qrSeq("abc", 3, 48), GS, '(', 'k', 3, 0, 49, 81, 48, qrSeq(strings.Repeat("x", 1000), 16, 51)), Options{})
	if !reflect.DeepEqual(r.QRs, []string{"abc", "abc"}) || len(r.Unknown) != 1 || !strings.Contains(r.Unknown[0].Reason, "not printed") {
		t.Errorf("QRs %q Unknown %v", r.QRs, r.Unknown)
	}
	// Payloads with control characters stay on one line.
	r = render(t, qrSeq("a\nb", 3, 48), Options{})
	if r.Text != `[QR a\nb]`+"\n" || r.QRs[0] != "a\nb" {
		t.Errorf("Text %q", r.Text)
	}
}

func TestRaster(t *testing.T) {
	pattern := []byte{0x80, 0x01, 0xFF, 0x00, 0x00, 0xFF}
	want := []string{
		"#..............#",
		"########........",
		"........########",
	}
	tests := []struct {
		name   string
		in     []byte
		x, y   int
		sx, sy int
	}{
		{"left", seq("A", LF, GS, 'v', '0', 0, 2, 0, 3, 0, pattern), 0, 30, 1, 1},
		{"right", seq(ESC, 'a', 2, GS, 'v', '0', 0, 2, 0, 3, 0, pattern), 560, 0, 1, 1},
		{"centre double width", seq(ESC, 'a', 1, GS, 'v', '0', 1, 2, 0, 3, 0, pattern), 272, 0, 2, 1},
		{"double height", seq(GS, 'v', '0', '2', 2, 0, 3, 0, pattern), 0, 0, 1, 2},
		{"quadruple", seq(GS, 'v', '0', 3, 2, 0, 3, 0, pattern), 0, 0, 2, 2},
		{"margin", seq(GS, 'L', 100, 0, GS, 'v', '0', 0, 2, 0, 3, 0, pattern), 100, 0, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := render(t, tt.in, Options{})
			if len(r.Unknown) != 0 || r.Images != 1 {
				t.Fatalf("Unknown %v Images %d", r.Unknown, r.Images)
			}
			l := r.Lines[len(r.Lines)-1]
			w, h := 16*tt.sx, 3*tt.sy
			if l.Kind != KindImage || l.X != tt.x || l.Y != tt.y || l.W != w || l.H != h {
				t.Errorf("line %+v", l)
			}
			if !strings.HasSuffix(r.Text, "[IMAGE "+strconv.Itoa(w)+"x"+strconv.Itoa(h)+"]\n") {
				t.Errorf("Text %q", r.Text)
			}
			img := r.Image()
			for y := -1; y <= h; y++ {
				for x := -1; x <= w; x++ {
					black := black(img, tt.x+x, tt.y+y)
					exp := x >= 0 && y >= 0 && x < w && y < h && want[y/tt.sy][x/tt.sx] == '#'
					if tt.x+x < 0 || tt.y+y < 0 || (y < 0 && tt.y > 0) {
						continue // outside the paper or in the text line above
					}
					if black != exp {
						t.Fatalf("dot %d,%d black %v, want %v", x, y, black, exp)
					}
				}
			}
		})
	}
}

func TestBitImage(t *testing.T) {
	// ESC * 33: two columns of 24 dots.
	r := render(t, seq(ESC, '*', 33, 2, 0, 0x80, 0x00, 0x01, 0xFF, 0xFF, 0xFF, LF), Options{})
	img := r.Image()
	for y := 0; y < 24; y++ {
		if got, want := img.GrayAt(0, y).Y == 0, y == 0 || y == 23; got != want {
			t.Errorf("ESC * 33 col 0 row %d: %v", y, got)
		}
		if img.GrayAt(1, y).Y != 0 || img.GrayAt(2, y).Y != 255 {
			t.Errorf("ESC * 33 col 1/2 row %d", y)
		}
	}
	if r.Text != "[IMAGE 2x24]\n" || r.Images != 1 || r.Lines[0].Kind != KindImage {
		t.Errorf("Text %q Images %d", r.Text, r.Images)
	}
	// ESC * 0: 8 dots, each 3 rows tall and 2 columns wide.
	r = render(t, seq(ESC, '*', 0, 1, 0, 0x81, LF), Options{})
	img = r.Image()
	for y := 0; y < 24; y++ {
		want := y < 3 || y >= 21
		for x := 0; x < 2; x++ {
			if got := img.GrayAt(x, y).Y == 0; got != want {
				t.Errorf("ESC * 0 dot %d,%d: %v", x, y, got)
			}
		}
		if img.GrayAt(2, y).Y != 255 {
			t.Errorf("ESC * 0 column 2 inked")
		}
	}
	// ESC * 1: single width.
	r = render(t, seq(ESC, '*', 1, 1, 0, 0x40, LF), Options{})
	img = r.Image()
	for y := 0; y < 24; y++ {
		if got, want := img.GrayAt(0, y).Y == 0, y >= 3 && y < 6; got != want {
			t.Errorf("ESC * 1 row %d: %v", y, got)
		}
	}
	// Stripes under ESC 3 24 make one image; under the default spacing, three.
	stripe := seq(ESC, '*', 33, 8, 0, make([]byte, 24), LF)
	r = render(t, seq(ESC, '3', 24, stripe, stripe, stripe, ESC, '2', "x", LF), Options{})
	if r.Text != "[IMAGE 8x72]\nx\n" || r.Images != 1 || r.Lines[0].H != 72 || r.Lines[1].Y != 72 {
		t.Errorf("merged: %q %d %+v", r.Text, r.Images, r.Lines)
	}
	r = render(t, seq(stripe, stripe, stripe), Options{})
	if r.Text != strings.Repeat("[IMAGE 8x24]\n", 3) || r.Images != 3 {
		t.Errorf("spaced: %q %d", r.Text, r.Images)
	}
	// Inline with text: bottoms aligned, in the line's text.
	r = render(t, seq("A", ESC, '*', 33, 1, 0, 0xFF, 0xFF, 0xFF, "B", LF), Options{})
	if r.Text != "A[IMAGE 1x24]B\n" || r.Images != 1 || r.Lines[0].Kind != KindText || r.Image().GrayAt(12, 0).Y != 0 {
		t.Errorf("inline: %q", r.Text)
	}
}
