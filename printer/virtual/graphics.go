package virtual

import (
	"fmt"

	qrcode "github.com/skip2/go-qrcode"
)

// bitImage interprets ESC * m nL nH d: one stripe of a bit image, printed in
// the line like a character. Modes 0 and 1 are 8 dots tall at a third of the
// vertical density (each dot 3 rows), 32 and 33 are 24 dots tall; modes 0
// and 32 double each column.
func (p *interp) bitImage() {
	a, ok := p.args(5, "ESC *")
	if !ok {
		return
	}
	m := a[2]
	n := int(a[3]) | int(a[4])<<8
	var bpc, hs int
	switch m {
	case 0:
		bpc, hs = 1, 2
	case 1:
		bpc, hs = 1, 1
	case 32:
		bpc, hs = 3, 2
	case 33:
		bpc, hs = 3, 1
	default:
		p.skipf(5, "ESC * mode %d unsupported", m)
		return
	}
	k := n * bpc
	if have := len(p.data) - p.cmd - 5; have < k {
		p.unknown(p.entry(p.cmd, len(p.data)-p.cmd, fmt.Sprintf("truncated ESC * %d: want %d bytes, have %d", m, k, have)))
		p.pos = len(p.data)
		return
	}
	d := p.data[p.cmd+5 : p.cmd+5+k]
	p.pos = p.cmd + 5 + k
	if n == 0 {
		return
	}
	p.realtimeHazard("ESC *", p.cmd+5, d)
	bm := &bitmap{w: n * hs, h: 24}
	bm.pix = make([]bool, bm.w*bm.h)
	for c := 0; c < n; c++ {
		col := d[c*bpc : c*bpc+bpc]
		for bit := 0; bit < 8*bpc; bit++ {
			if col[bit/8]&(0x80>>(bit%8)) == 0 {
				continue
			}
			rows := []int{bit}
			if bpc == 1 {
				rows = []int{bit * 3, bit*3 + 1, bit*3 + 2}
			}
			for _, y := range rows {
				for dx := 0; dx < hs; dx++ {
					bm.pix[y*bm.w+c*hs+dx] = true
				}
			}
		}
	}
	room := p.area() - p.bufW
	if bm.w > room {
		if room <= 0 {
			p.warn(p.cmd, 5+k, "ESC * image beyond the print area: not printed")
			return
		}
		p.warn(p.cmd, 5+k, "ESC * image %d dots wide, %d left in the line: clipped", bm.w, room)
		cl := &bitmap{w: room, h: bm.h, pix: make([]bool, room*bm.h)}
		for y := 0; y < bm.h; y++ {
			copy(cl.pix[y*room:(y+1)*room], bm.pix[y*bm.w:y*bm.w+room])
		}
		bm = cl
	}
	if len(p.buf) == 0 {
		p.bufStart = p.cmd
	}
	p.buf = append(p.buf, item{kind: itImage, st: p.curStyle(), w: bm.w, h: bm.h, img: bm})
	p.bufW += bm.w
}

func (p *interp) drawBitmap(x0, y0 int, bm *bitmap) {
	if y0 >= MaxHeight {
		return
	}
	for y := 0; y < bm.h; y++ {
		for x := 0; x < bm.w; x++ {
			if bm.pix[y*bm.w+x] {
				p.pap.set(x0+x, y0+y, ink)
			}
		}
	}
}

// raster interprets GS v 0 m xL xH yL yH d: a raster image of x bytes by y
// rows, m 0 normal, 1 double width, 2 double height, 3 both.
func (p *interp) raster() {
	a, ok := p.args(8, "GS v 0")
	if !ok {
		return
	}
	m := a[3]
	if m >= '0' {
		m -= '0'
	}
	if m > 3 {
		p.skipf(8, "GS v 0 mode %d unsupported", a[3])
		return
	}
	sx, sy := 1+int(m&1), 1+int(m>>1)
	xb := int(a[4]) | int(a[5])<<8
	rows := int(a[6]) | int(a[7])<<8
	k := xb * rows
	if have := len(p.data) - p.cmd - 8; have < k {
		p.unknown(p.entry(p.cmd, len(p.data)-p.cmd, fmt.Sprintf("truncated GS v 0: want %d bytes, have %d", k, have)))
		p.pos = len(p.data)
		return
	}
	d := p.data[p.cmd+8 : p.cmd+8+k]
	p.pos = p.cmd + 8 + k
	if k == 0 {
		p.skip(8, "GS v 0 of an empty image")
		return
	}
	p.realtimeHazard("GS v 0", p.cmd+8, d)
	p.flushPending("GS v 0", true)
	w, h := xb*8*sx, rows*sy
	area := p.area()
	if w > area {
		p.warn(p.cmd, 8+k, "GS v 0 image %d dots wide, print area %d: clipped", w, area)
	}
	right := p.margin + area
	p.block(KindImage, fmt.Sprintf("[IMAGE %dx%d]", w, h), min(w, area), h, func(x0, y0 int) {
		for r := 0; r < rows; r++ {
			top := y0 + r*sy
			if top >= MaxHeight {
				break
			}
			line := d[r*xb : (r+1)*xb]
			for bx, v := range line {
				if v == 0 {
					continue
				}
				for bit := 0; bit < 8; bit++ {
					if v&(0x80>>bit) == 0 {
						continue
					}
					x := x0 + (bx*8+bit)*sx
					p.pap.fill(x, top, min(x+sx, right), top+sy, ink)
				}
			}
		}
	})
	p.res.Images++
}

// ---- barcodes ----

var barcodeKinds = map[byte]string{
	0: "UPC-A", 1: "UPC-E", 2: "EAN13", 3: "EAN8", 4: "CODE39", 5: "ITF", 6: "CODABAR",
	65: "UPC-A", 66: "UPC-E", 67: "EAN13", 68: "EAN8", 69: "CODE39", 70: "ITF", 71: "CODABAR", 72: "CODE93", 73: "CODE128",
}

// barcodeCmd interprets GS k m d1..dk NUL (m 0..6) and GS k m n d1..dn
// (m 65..73).
func (p *interp) barcodeCmd() {
	a, ok := p.args(3, "GS k")
	if !ok {
		return
	}
	m := a[2]
	kind, known := barcodeKinds[m]
	var data []byte
	var n int // total length
	switch {
	case m <= 6:
		end := -1
		for i := p.cmd + 3; i < len(p.data) && i < p.cmd+3+256; i++ {
			if p.data[i] == 0 {
				end = i
				break
			}
		}
		if end < 0 {
			if len(p.data)-p.cmd-3 < 256 {
				p.unknown(p.entry(p.cmd, len(p.data)-p.cmd, "truncated GS k "+kind+": no NUL at the end of the data"))
				p.pos = len(p.data)
				return
			}
			p.skipf(3, "GS k %s: no NUL within 255 bytes", kind)
			return
		}
		data, n = p.data[p.cmd+3:end], end+1-p.cmd
	case known:
		if _, ok := p.args(4, "GS k "+kind); !ok {
			return
		}
		k := int(p.data[p.cmd+3])
		if len(p.data)-p.cmd-4 < k {
			p.truncated("GS k "+kind, 4+k)
			return
		}
		data, n = p.data[p.cmd+4:p.cmd+4+k], 4+k
	default:
		p.skipf(3, "GS k %d: no such barcode system", m)
		return
	}
	p.pos = p.cmd + n
	sym, err := encodeBarcode(kind, data)
	if err != nil {
		p.skipf(n, "GS k %s: %v", kind, err)
		return
	}
	if sym.warning != "" {
		p.warn(p.cmd, n, "GS k %s: %s", kind, sym.warning)
	}
	widths := sym.dotWidths(p.bcW)
	w := 0
	for _, e := range widths {
		w += e
	}
	if area := p.area(); w > area {
		p.skipf(n, "GS k %s: %d dots wide, print area %d: not printed", kind, w, area)
		return
	}
	p.flushPending("GS k", true)
	hri := []rune(sym.hri)
	fw, fh := fontSize(p.hriFont)
	h := p.bcH
	if p.hri&1 != 0 {
		h += fh
	}
	if p.hri&2 != 0 {
		h += fh
	}
	code := Code{Kind: kind, Data: sym.hri, Modules: sym.modules(), Values: sym.values, Offset: p.cmd, W: w, H: p.bcH}
	x0 := p.block(KindBarcode, fmt.Sprintf("[%s %s]", kind, quoteIfNeeded(sym.hri)), w, h, func(x0, y0 int) {
		y := y0
		drawHRI := func() {
			st := Style{Font: p.hriFont, Width: 1, Height: 1}
			x := x0 + (w-len(hri)*fw)/2
			for _, r := range hri {
				drawGlyph(p.pap, x, y, r, st)
				x += fw
			}
			y += fh
		}
		if p.hri&1 != 0 {
			drawHRI()
		}
		code.Y = y
		x := x0
		for i, e := range widths {
			if i%2 == 0 {
				p.pap.fill(x, y, x+e, y+p.bcH, ink)
			}
			x += e
		}
		y += p.bcH
		if p.hri&2 != 0 {
			drawHRI()
		}
	})
	code.X = x0
	p.res.Barcodes = append(p.res.Barcodes, code)
}

// ---- QR (GS ( k) ----

var qrLevels = map[byte]qrcode.RecoveryLevel{'0': qrcode.Low, '1': qrcode.Medium, '2': qrcode.High, '3': qrcode.Highest}

// symbolCmd interprets GS ( k pL pH cn fn ...: the QR code functions 165
// (model), 167 (module size), 169 (error level), 180 (store), 181 (print)
// and 182 (transmit size: a status request). Other symbols are reported.
func (p *interp) symbolCmd() {
	if p.cmd+5 > len(p.data) {
		p.truncated("GS ( k", 5)
		return
	}
	plen := int(p.data[p.cmd+3]) | int(p.data[p.cmd+4])<<8
	n := 5 + plen
	if p.cmd+n > len(p.data) {
		p.truncated("GS ( k", n)
		return
	}
	p.pos = p.cmd + n
	if plen < 2 {
		p.skipf(n, "GS ( k with parameter length %d", plen)
		return
	}
	cn, fn := p.data[p.cmd+5], p.data[p.cmd+6]
	args := p.data[p.cmd+7 : p.cmd+n]
	if cn != 49 {
		if cn >= 48 && cn <= 54 {
			p.skipf(n, "GS ( k function %03d unsupported (%s)", int(cn-48)*100+int(fn), symbolNames[cn-48])
		} else {
			p.skipf(n, "GS ( k cn %d unsupported", cn)
		}
		return
	}
	bad := func() { p.skipf(n, "GS ( k function %d: invalid parameters % X", 100+int(fn), args) }
	switch fn {
	case 65: // model: n1 (49 model 1, 50 model 2, 51 micro) n2
		if len(args) != 2 || args[0] < 49 || args[0] > 51 {
			bad()
			return
		}
		p.qrModel = args[0]
		if args[0] != 50 {
			p.warn(p.cmd, n, "QR model %d: drawn as model 2", args[0]-48)
		}
	case 67: // module size
		if len(args) != 1 || args[0] < 1 || args[0] > 16 {
			bad()
			return
		}
		p.qrSize = int(args[0])
	case 69: // error correction level
		lv, ok := qrLevels[firstOr(args)]
		if len(args) != 1 || !ok {
			bad()
			return
		}
		p.qrLevel = lv
	case 80: // store: m=48 d1..dk
		if len(args) < 2 || args[0] != 48 {
			bad()
			return
		}
		p.realtimeHazard("GS ( k", p.cmd+8, args[1:])
		p.qrData, p.qrHave = string(args[1:]), true
	case 81: // print: m=48
		if len(args) != 1 || args[0] != 48 {
			bad()
			return
		}
		p.printQR(n)
	case 82: // transmit size information
		p.status("GS ( k", fn)
	default:
		p.skipf(n, "GS ( k function %d unsupported", 100+int(fn))
	}
}

var symbolNames = []string{"PDF417", "QR Code", "MaxiCode", "GS1 DataBar", "Composite", "Aztec Code", "DataMatrix"}

func firstOr(b []byte) byte {
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

func (p *interp) printQR(n int) {
	if !p.qrHave {
		p.skip(n, "GS ( k function 181: no QR data stored")
		return
	}
	payload := p.qrData
	if p.qrBitmap == nil || p.qrFor != payload || p.qrForLevel != p.qrLevel {
		bm, err := qrModules(payload, p.qrLevel)
		if err != nil {
			p.skipf(n, "GS ( k function 181: %v", err)
			return
		}
		p.qrBitmap, p.qrFor, p.qrForLevel = bm, payload, p.qrLevel
	}
	bm := p.qrBitmap
	size := len(bm) * p.qrSize
	if area := p.area(); size > area {
		p.skipf(n, "GS ( k function 181: QR %d dots wide, print area %d: not printed", size, area)
		return
	}
	p.flushPending("GS ( k", true)
	s := p.qrSize
	p.block(KindQR, "[QR "+quoteIfNeeded(payload)+"]", size, size, func(x0, y0 int) {
		for r, row := range bm {
			if y0+r*s >= MaxHeight {
				break
			}
			for c, on := range row {
				if on {
					p.pap.fill(x0+c*s, y0+r*s, x0+c*s+s, y0+r*s+s, ink)
				}
			}
		}
	})
	p.res.QRs = append(p.res.QRs, payload)
}

// qrModules returns the symbol's modules without quiet zone, as go-qrcode
// draws them (its mask choice may differ from a printer's). go-qrcode panics
// on internal inconsistencies: that becomes an error.
func qrModules(payload string, lv qrcode.RecoveryLevel) (bm [][]bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			bm, err = nil, fmt.Errorf("go-qrcode: %v", r)
		}
	}()
	q, err := qrcode.New(payload, lv)
	if err != nil {
		return nil, err
	}
	q.DisableBorder = true
	return q.Bitmap(), nil
}
