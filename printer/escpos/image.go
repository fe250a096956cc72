package escpos

import "image"

// ImageMode is the command an image is printed with.
type ImageMode int

// Image modes.
const (
	// Raster prints with GS v 0, in bands of at most 256 rows.
	Raster ImageMode = iota
	// Column prints with ESC * 33 (24-dot double density) bands under
	// ESC 3 24 line spacing, restoring the default spacing (ESC 2) after: for
	// models without GS v 0. At most 1023 dots wide. 9-pin impact models
	// (TM-U220 class) only have the 8-dot modes ESC * 0/1 and cannot print it.
	Column
)

// maxImageWidth bounds Image's maxWidth: wider than any receipt printer, and
// small enough that no header byte of GS v 0 or ESC * can be 0x04, 0x05 or
// 0x14 after a 0x10.
const maxImageWidth = 4095

// bitmap is a 1-bit image packed as GS v 0 wants it: rows of stride bytes,
// the leftmost dot in the high bit, 1 = black.
type bitmap struct {
	w, h, stride int
	bits         []byte
}

func newBitmap(w, h int) *bitmap {
	s := (w + 7) / 8
	return &bitmap{w: w, h: h, stride: s, bits: make([]byte, s*h)}
}

func (b *bitmap) set(x, y int) { b.bits[y*b.stride+x/8] |= 0x80 >> (x % 8) }

func (b *bitmap) get(x, y int) bool {
	return b.bits[y*b.stride+x/8]&(0x80>>(x%8)) != 0
}

// Image prints img: scaled down (area average) to maxWidth dots if wider,
// keeping the aspect ratio, converted to gray (transparency over white) and
// to 1 bit with Floyd–Steinberg error diffusion, then emitted in mode.
// maxWidth is 1..4095 (576 for 80 mm paper at 203 dpi, 384 for 58 mm). Dots
// that would start a real-time sequence in the data are cleared (see the
// package documentation).
func (e *Encoder) Image(img image.Image, mode ImageMode, maxWidth int) {
	if e.err != nil {
		return
	}
	if img == nil {
		e.argf("Image: nil image")
		return
	}
	if mode != Raster && mode != Column {
		e.argf("Image mode %d: want Raster or Column", mode)
		return
	}
	if maxWidth < 1 || maxWidth > maxImageWidth {
		e.argf("Image maxWidth %d: want 1..%d", maxWidth, maxImageWidth)
		return
	}
	r := img.Bounds()
	if r.Empty() {
		e.argf("Image: empty bounds %v", r)
		return
	}
	w, h := r.Dx(), r.Dy()
	if w > maxWidth {
		w, h = maxWidth, max(1, (h*maxWidth+r.Dx()/2)/r.Dx())
	}
	if mode == Column && w > 1023 {
		e.dataf("Image: %d dots wide, ESC * takes at most 1023", w)
		return
	}
	bm := dither(grayScaled(img, w, h), w, h)
	if mode == Raster {
		e.raster(bm)
	} else {
		e.column(bm)
	}
}

// grayScaled returns img's luminance (0 black .. 255 white, transparency
// composited over white) at w×h, w and h at most img's own: each source pixel
// counts toward the destination pixel it falls in, and each destination
// pixel is the average of its source pixels.
func grayScaled(img image.Image, w, h int) []float32 {
	r := img.Bounds()
	sw, sh := r.Dx(), r.Dy()
	sum := make([]float32, w*h)
	var cnt []uint32
	if w != sw || h != sh {
		cnt = make([]uint32, w*h)
	}
	gray, isGray := img.(*image.Gray)
	for sy := 0; sy < sh; sy++ {
		row := (sy * h / sh) * w
		for sx := 0; sx < sw; sx++ {
			var v float32
			if isGray {
				v = float32(gray.Pix[gray.PixOffset(r.Min.X+sx, r.Min.Y+sy)])
			} else {
				cr, cg, cb, ca := img.At(r.Min.X+sx, r.Min.Y+sy).RGBA()
				y := (19595*cr + 38470*cg + 7471*cb + 1<<15) >> 16 // premultiplied
				v = float32(y+0xFFFF-ca) / 257
			}
			i := row + sx*w/sw
			sum[i] += v
			if cnt != nil {
				cnt[i]++
			}
		}
	}
	if cnt != nil {
		for i := range sum {
			sum[i] /= float32(cnt[i])
		}
	}
	return sum
}

// dither converts gray (w×h, 0..255) to 1 bit with Floyd–Steinberg error
// diffusion (threshold 128). Pure black and white pass unchanged.
func dither(g []float32, w, h int) *bitmap {
	bm := newBitmap(w, h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := y*w + x
			old := g[i]
			var err float32
			if old < 128 {
				bm.set(x, y)
				err = old
			} else {
				err = old - 255
			}
			if x+1 < w {
				g[i+1] += err * 7 / 16
			}
			if y+1 < h {
				if x > 0 {
					g[i+w-1] += err * 3 / 16
				}
				g[i+w] += err * 5 / 16
				if x+1 < w {
					g[i+w+1] += err * 1 / 16
				}
			}
		}
	}
	return bm
}

// raster emits bm as GS v 0 m xL xH yL yH d, in bands of at most 256 rows.
func (e *Encoder) raster(bm *bitmap) {
	if e.err != nil {
		return
	}
	x := bm.stride
	for y0 := 0; y0 < bm.h; y0 += 256 {
		rows := min(256, bm.h-y0)
		e.buf = append(e.buf, gs, 'v', '0', 0, byte(x), byte(x>>8), byte(rows), byte(rows>>8))
		start := len(e.buf)
		e.buf = append(e.buf, bm.bits[y0*x:(y0+rows)*x]...)
		scrubRealtime(e.buf[start:])
	}
}

// column emits bm as ESC * 33 bands of 24 rows, each printed with LF, under
// ESC 3 24 line spacing, then restores the default spacing with ESC 2.
func (e *Encoder) column(bm *bitmap) {
	if e.err != nil {
		return
	}
	e.buf = append(e.buf, esc, '3', 24)
	for y0 := 0; y0 < bm.h; y0 += 24 {
		e.buf = append(e.buf, esc, '*', 33, byte(bm.w), byte(bm.w>>8))
		start := len(e.buf)
		for x := 0; x < bm.w; x++ {
			for k := 0; k < 3; k++ {
				var b byte
				for j := 0; j < 8; j++ {
					if y := y0 + k*8 + j; y < bm.h && bm.get(x, y) {
						b |= 0x80 >> j
					}
				}
				e.buf = append(e.buf, b)
			}
		}
		scrubRealtime(e.buf[start:])
		e.buf = append(e.buf, lf)
	}
	e.buf = append(e.buf, esc, '2')
}
