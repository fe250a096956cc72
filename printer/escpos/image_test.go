package escpos

import (
	"bytes"
	"image"
	"image/color"
	"testing"

	qrcode "github.com/skip2/go-qrcode"
)

// solid returns a w×h gray image of value v.
func solid(w, h int, v uint8) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, w, h))
	for i := range g.Pix {
		g.Pix[i] = v
	}
	return g
}

// pattern returns a black/white image from rows of '#' (black) and '.'.
func pattern(rows ...string) *image.Gray {
	g := solid(len(rows[0]), len(rows), 255)
	for y, r := range rows {
		for x, c := range r {
			if c == '#' {
				g.SetGray(x, y, color.Gray{0})
			}
		}
	}
	return g
}

// realtimeImage is a 24×1 image whose raster row is 10 04 01.
func realtimeImage() *image.Gray {
	return pattern("...#.........#.........#")
}

var tenByThree = []string{
	"#.#.#.#.#.",
	"##########",
	"###......#",
}

func TestImageRasterGolden(t *testing.T) {
	e := enc()
	e.Image(pattern(tenByThree...), Raster, 576)
	want := h(0x1D, 0x76, 0x30, 0x00, 0x02, 0x00, 0x03, 0x00,
		0xAA, 0x80,
		0xFF, 0xC0,
		0xE0, 0x40)
	if e.Err() != nil || !bytes.Equal(e.Bytes(), want) {
		t.Fatalf("got % X (%v)\nwant % X", e.Bytes(), e.Err(), want)
	}
}

func TestImageRGBAAndTransparency(t *testing.T) {
	img := image.NewNRGBA(image.Rect(5, 5, 15, 8)) // non-zero origin
	for y := 5; y < 8; y++ {
		for x := 5; x < 15; x++ {
			c := color.NRGBA{255, 255, 255, 255}
			if tenByThree[y-5][x-5] == '#' {
				c = color.NRGBA{0, 0, 0, 255}
			} else if x%3 == 0 {
				c = color.NRGBA{0, 0, 0, 0} // transparent black: white on paper
			}
			img.Set(x, y, c)
		}
	}
	a, b := enc(), enc()
	a.Image(img, Raster, 576)
	b.Image(pattern(tenByThree...), Raster, 576)
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatalf("NRGBA % X\n gray % X", a.Bytes(), b.Bytes())
	}
}

func TestImageScaledToMaxWidth(t *testing.T) {
	e := enc()
	e.Image(solid(1200, 100, 0), Raster, 576)
	b := e.Bytes()
	// 576 dots = 72 bytes; 100×576/1200 = 48 rows.
	if want := h(0x1D, 0x76, 0x30, 0, 72, 0, 48, 0); !bytes.Equal(b[:8], want) {
		t.Fatalf("header % X, want % X", b[:8], want)
	}
	if len(b) != 8+72*48 || bytes.Count(b[8:], []byte{0xFF}) != 72*48 {
		t.Errorf("data not all black: %d bytes", len(b)-8)
	}
	// Narrower images are not scaled up.
	e = enc()
	e.Image(solid(100, 10, 0), Raster, 576)
	if b := e.Bytes(); b[4] != 13 || b[6] != 10 {
		t.Errorf("header % X", b[:8])
	}
}

func TestImageScaleAverages(t *testing.T) {
	// Columns alternate black and white: halved, every dot is 50% gray,
	// which dithers to about half black.
	g := solid(400, 100, 255)
	for y := 0; y < 100; y++ {
		for x := 0; x < 400; x += 2 {
			g.SetGray(x, y, color.Gray{0})
		}
	}
	bm := dither(grayScaled(g, 200, 50), 200, 50)
	if r := blackRatio(bm); r < 0.45 || r > 0.55 {
		t.Errorf("black ratio %.3f, want ~0.5", r)
	}
}

func TestImageRasterBands(t *testing.T) {
	e := enc()
	e.Image(solid(8, 600, 0), Raster, 576)
	b := e.Bytes()
	var rows []int
	for i := 0; i < len(b); {
		if !bytes.Equal(b[i:i+4], h(0x1D, 0x76, 0x30, 0)) {
			t.Fatalf("no GS v 0 at %d", i)
		}
		x := int(b[i+4]) | int(b[i+5])<<8
		y := int(b[i+6]) | int(b[i+7])<<8
		rows = append(rows, y)
		i += 8 + x*y
	}
	if len(rows) != 3 || rows[0] != 256 || rows[1] != 256 || rows[2] != 88 {
		t.Errorf("bands %v, want [256 256 88]", rows)
	}
}

func blackRatio(bm *bitmap) float64 {
	n := 0
	for y := 0; y < bm.h; y++ {
		for x := 0; x < bm.w; x++ {
			if bm.get(x, y) {
				n++
			}
		}
	}
	return float64(n) / float64(bm.w*bm.h)
}

func TestDitherGradient(t *testing.T) {
	g := image.NewGray(image.Rect(0, 0, 256, 64))
	for y := 0; y < 64; y++ {
		for x := 0; x < 256; x++ {
			g.SetGray(x, y, color.Gray{uint8(x)})
		}
	}
	bm := dither(grayScaled(g, 256, 64), 256, 64)
	if r := blackRatio(bm); r < 0.47 || r > 0.53 {
		t.Errorf("gradient black ratio %.3f, want ~0.5", r)
	}
	// Left quarter (values 0..63, mean 31.5) is ~88% black.
	n := 0
	for y := 0; y < 64; y++ {
		for x := 0; x < 64; x++ {
			if bm.get(x, y) {
				n++
			}
		}
	}
	if r := float64(n) / (64 * 64); r < 0.83 || r > 0.93 {
		t.Errorf("dark quarter black ratio %.3f, want ~0.88", r)
	}
	for _, v := range []uint8{64, 128, 192} {
		bm := dither(grayScaled(solid(100, 100, v), 100, 100), 100, 100)
		want := 1 - float64(v)/255
		if r := blackRatio(bm); r < want-0.03 || r > want+0.03 {
			t.Errorf("gray %d: black ratio %.3f, want %.3f", v, r, want)
		}
	}
}

func TestImageColumnGolden(t *testing.T) {
	e := enc()
	e.Image(pattern(
		"#.",
		".#",
		"#.",
	), Column, 576)
	want := h(0x1B, 0x33, 24,
		0x1B, 0x2A, 33, 2, 0,
		0xA0, 0x00, 0x00, // column 0: rows 0 and 2
		0x40, 0x00, 0x00, // column 1: row 1
		0x0A,
		0x1B, 0x32)
	if e.Err() != nil || !bytes.Equal(e.Bytes(), want) {
		t.Fatalf("got % X (%v)\nwant % X", e.Bytes(), e.Err(), want)
	}
}

func TestImageColumnBands(t *testing.T) {
	rows := make([]string, 30)
	for i := range rows {
		rows[i] = "..."
	}
	rows[0], rows[23], rows[24], rows[29] = "#..", ".#.", "..#", "#.#"
	e := enc()
	e.Image(pattern(rows...), Column, 576)
	want := h(0x1B, 0x33, 24,
		0x1B, 0x2A, 33, 3, 0,
		0x80, 0x00, 0x00, // x=0: row 0
		0x00, 0x00, 0x01, // x=1: row 23
		0x00, 0x00, 0x00,
		0x0A,
		0x1B, 0x2A, 33, 3, 0,
		0x04, 0x00, 0x00, // x=0: row 29 = band row 5
		0x00, 0x00, 0x00,
		0x84, 0x00, 0x00, // x=2: rows 24 and 29
		0x0A,
		0x1B, 0x32)
	if !bytes.Equal(e.Bytes(), want) {
		t.Fatalf("got % X\nwant % X", e.Bytes(), want)
	}
}

func TestImageRealtimeScrubbed(t *testing.T) {
	e := enc()
	e.Image(realtimeImage(), Raster, 576)
	want := h(0x1D, 0x76, 0x30, 0, 3, 0, 1, 0, 0x00, 0x04, 0x01)
	if !bytes.Equal(e.Bytes(), want) {
		t.Fatalf("got % X\nwant % X", e.Bytes(), want)
	}
	// 10 04 followed by 05 is no command: kept.
	e = enc()
	e.Image(pattern("...#.........#.......#.#"), Raster, 576)
	if got := e.Bytes()[8:]; !bytes.Equal(got, h(0x10, 0x04, 0x05)) {
		t.Fatalf("got % X", got)
	}
	// Column data: a column whose bytes are 10 04 01.
	rows := make([]string, 24)
	for i := range rows {
		rows[i] = "."
	}
	rows[3], rows[13], rows[23] = "#", "#", "#"
	e = enc()
	e.Image(pattern(rows...), Column, 576)
	if hasRealtime(e.Bytes()) {
		t.Fatalf("column data keeps the sequence: % X", e.Bytes())
	}
}

func TestQRImageMatchesLibrary(t *testing.T) {
	const data = "https://totemd.example/pix/abc123"
	const module = 3
	q, err := qrcode.New(data, qrcode.Medium)
	if err != nil {
		t.Fatal(err)
	}
	q.DisableBorder = true
	bm := q.Bitmap()
	e := enc()
	e.QRImage(data, module)
	if e.Err() != nil {
		t.Fatal(e.Err())
	}
	b := e.Bytes()
	dots := (len(bm) + 2) * module
	stride := (dots + 7) / 8
	if want := h(0x1D, 0x76, 0x30, 0, byte(stride), 0, byte(dots), 0); !bytes.Equal(b[:8], want) {
		t.Fatalf("header % X, want % X", b[:8], want)
	}
	px := func(x, y int) bool { return b[8+y*stride+x/8]&(0x80>>(x%8)) != 0 }
	for y := 0; y < dots; y++ {
		for x := 0; x < dots; x++ {
			mx, my := x/module-1, y/module-1
			want := mx >= 0 && my >= 0 && mx < len(bm) && my < len(bm) && bm[my][mx]
			if px(x, y) != want {
				t.Fatalf("dot (%d,%d) = %v, want %v", x, y, px(x, y), want)
			}
		}
	}
}
