package virtual

import (
	"bytes"
	"image/png"
)

// Ink levels on the paper (0 white).
const (
	ink     = 255
	cutMark = 128
)

// paper is the printed roll: rows of darkness, nil while blank, at most
// MaxHeight rows.
type paper struct {
	w    int
	rows [][]byte
	slab []byte // rows are carved from it, 64 at a time
}

func (p *paper) row(y int) []byte {
	if y < 0 || y >= MaxHeight {
		return nil
	}
	for len(p.rows) <= y {
		p.rows = append(p.rows, nil)
	}
	if p.rows[y] == nil {
		if len(p.slab) < p.w {
			p.slab = make([]byte, 64*p.w)
		}
		p.rows[y], p.slab = p.slab[:p.w:p.w], p.slab[p.w:]
	}
	return p.rows[y]
}

func (p *paper) set(x, y int, v byte) {
	if x < 0 || x >= p.w || y < 0 || y >= MaxHeight {
		return
	}
	p.row(y)[x] = v
}

func (p *paper) get(x, y int) byte {
	if x < 0 || x >= p.w || y < 0 || y >= len(p.rows) || p.rows[y] == nil {
		return 0
	}
	return p.rows[y][x]
}

// fill paints the rectangle [x0,x1)x[y0,y1), clipped to the paper.
func (p *paper) fill(x0, y0, x1, y1 int, v byte) {
	x0, x1 = max(x0, 0), min(x1, p.w)
	y0, y1 = max(y0, 0), min(y1, MaxHeight)
	if x0 >= x1 {
		return
	}
	for y := y0; y < y1; y++ {
		r := p.row(y)
		for x := x0; x < x1; x++ {
			r[x] = v
		}
	}
}

// PNG encodes Image as a grayscale PNG.
func (r *Result) PNG() ([]byte, error) {
	var b bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&b, r.Image()); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
