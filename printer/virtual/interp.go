package virtual

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	qrcode "github.com/skip2/go-qrcode"
)

// Control bytes.
const (
	ht  = 0x09
	lf  = 0x0A
	cr  = 0x0D
	dle = 0x10
	esc = 0x1B
	fs  = 0x1C
	gs  = 0x1D
)

const (
	defaultSpacing  = 30 // dots, ESC 2
	defaultBarcodeH = 162
	defaultBarcodeW = 3
)

type itemKind uint8

const (
	itGlyph itemKind = iota
	itTab
	itImage
)

// item is one entry of the line buffer.
type item struct {
	kind itemKind
	r    rune
	st   Style
	w, h int
	img  *bitmap
}

// bitmap is a small 1-bit image (ESC * stripes).
type bitmap struct {
	w, h int
	pix  []bool
}

type interp struct {
	data   []byte
	pos    int
	cmd    int // offset of the command being interpreted
	dots   int
	initCS *charset
	slots  map[byte]*charset

	res          *Result
	moreUnknown  int
	moreWarnings int
	manyLines    bool
	pap          *paper
	y            int // top of the next line, dots (may exceed MaxHeight)
	tooTall      bool
	texts        []string
	star         []bool // per line: an ESC * image line that may be continued

	// Settings, reset by ESC @.
	cs      *charset
	st      Style // Bold: ESC E / ESC ! only
	strike  bool  // ESC G
	align   Align
	spacing int
	margin  int
	areaW   int
	bcH     int
	bcW     int
	hri     byte // bit 0 above, bit 1 below
	hriFont Font
	qrModel byte
	qrSize  int
	qrLevel qrcode.RecoveryLevel
	qrData  string
	qrHave  bool

	// The last QR symbol drawn, for reprints.
	qrBitmap   [][]bool
	qrFor      string
	qrForLevel qrcode.RecoveryLevel

	// Line buffer.
	buf      []item
	bufW     int
	bufStart int
}

func newInterp(data []byte, dots int, cs *charset, slots map[byte]*charset) *interp {
	p := &interp{
		data:   data,
		dots:   dots,
		initCS: cs,
		slots:  slots,
		res:    &Result{dots: dots},
		pap:    &paper{w: dots},
	}
	p.res.paper = p.pap
	p.reset()
	return p
}

func (p *interp) reset() {
	p.cs = p.initCS
	p.st = Style{Font: FontA, Width: 1, Height: 1}
	p.strike = false
	p.align = AlignLeft
	p.spacing = defaultSpacing
	p.margin = 0
	p.areaW = p.dots
	p.bcH, p.bcW, p.hri, p.hriFont = defaultBarcodeH, defaultBarcodeW, 0, FontA
	p.qrModel, p.qrSize, p.qrLevel, p.qrData, p.qrHave = 50, 3, qrcode.Low, "", false
}

func (p *interp) result() *Result {
	r := p.res
	if len(p.texts) > 0 {
		r.Text = strings.Join(p.texts, "\n") + "\n"
	}
	r.Height = min(p.y, MaxHeight)
	return r
}

// ---- reporting ----

func (p *interp) entry(off, n int, reason string) Unknown {
	end := min(off+n, len(p.data))
	shown := min(end, off+32)
	return Unknown{Offset: off, Bytes: append([]byte(nil), p.data[off:shown]...), Len: end - off, Reason: reason}
}

// skip reports the n bytes at the current command as unknown and moves past
// them (to the end of the input at most).
func (p *interp) skip(n int, reason string) {
	n = max(n, 1)
	p.unknown(p.entry(p.cmd, n, reason))
	p.pos = min(p.cmd+n, len(p.data))
}

func (p *interp) skipf(n int, format string, a ...any) { p.skip(n, fmt.Sprintf(format, a...)) }

func (p *interp) warn(off, n int, format string, a ...any) {
	p.warning(p.entry(off, n, fmt.Sprintf(format, a...)))
}

// Caps on what a Result holds, so that its size stays proportional to the
// paper (MaxHeight) rather than to hostile input.
const (
	maxLines   = 20000 // lines in Text and Lines
	maxReports = 10000 // entries in Unknown, and in Warnings
)

func (p *interp) unknown(u Unknown) {
	if len(p.res.Unknown) < maxReports {
		p.res.Unknown = append(p.res.Unknown, u)
	} else {
		p.moreUnknown++
	}
}

func (p *interp) warning(u Unknown) {
	if len(p.res.Warnings) < maxReports {
		p.res.Warnings = append(p.res.Warnings, u)
	} else {
		p.moreWarnings++
	}
}

// args returns the n bytes of the current command (prefix included) and
// moves past them; when the input ends first it reports a truncated command
// and moves to the end.
func (p *interp) args(n int, name string) ([]byte, bool) {
	if p.cmd+n > len(p.data) {
		p.truncated(name, n)
		return nil, false
	}
	p.pos = p.cmd + n
	return p.data[p.cmd:p.pos], true
}

func (p *interp) truncated(name string, want int) {
	have := len(p.data) - p.cmd
	p.unknown(p.entry(p.cmd, have, fmt.Sprintf("truncated %s: want %d bytes, have %d", name, want, have)))
	p.pos = len(p.data)
}

// ---- main loop ----

func (p *interp) run() {
	for p.pos < len(p.data) {
		p.cmd = p.pos
		p.res.steps++
		p.step()
		if p.pos <= p.cmd { // never loop: every step consumes a byte at least
			p.pos = p.cmd + 1
		}
	}
	if len(p.buf) > 0 {
		p.warn(p.bufStart, len(p.data)-p.bufStart, "text not printed: no LF at the end of the data (%q)", p.bufText())
	}
	if p.moreUnknown > 0 {
		p.res.Unknown = append(p.res.Unknown, Unknown{Offset: len(p.data), Bytes: []byte{}, Reason: fmt.Sprintf("%d more not listed", p.moreUnknown)})
	}
	if p.moreWarnings > 0 {
		p.res.Warnings = append(p.res.Warnings, Unknown{Offset: len(p.data), Bytes: []byte{}, Reason: fmt.Sprintf("%d more not listed", p.moreWarnings)})
	}
}

func (p *interp) step() {
	b := p.data[p.pos]
	switch b {
	case lf:
		p.pos++
		p.printLine(p.spacing)
	case cr:
		p.pos++
	case ht:
		p.pos++
		p.tab()
	case esc:
		p.esc()
	case gs:
		p.gs()
	case fs:
		p.fs()
	case dle:
		p.dle()
	default:
		if b < 0x20 {
			p.skipf(1, "control 0x%02X unsupported", b)
			return
		}
		p.pos++
		p.glyph(p.cs.cm.DecodeByte(b))
	}
}

// next returns the byte after the prefix, or reports the lone prefix.
func (p *interp) next(name string) (byte, bool) {
	if p.cmd+1 >= len(p.data) {
		p.truncated(name, 2)
		return 0, false
	}
	return p.data[p.cmd+1], true
}

func (p *interp) esc() {
	c, ok := p.next("ESC")
	if !ok {
		return
	}
	name := "ESC " + printable(c)
	one := func() (byte, bool) { // ESC c n
		a, ok := p.args(3, name)
		if !ok {
			return 0, false
		}
		return a[2], true
	}
	switch c {
	case '@':
		p.pos += 2
		if len(p.buf) > 0 {
			p.warn(p.bufStart, p.cmd-p.bufStart, "ESC @ discarded unprinted text %q", p.bufText())
			p.clearBuf()
		}
		p.reset()
	case 't':
		if n, ok := one(); ok {
			p.selectSlot("ESC t", n)
		}
	case 'E':
		if n, ok := one(); ok {
			p.st.Bold = n&1 == 1
		}
	case 'G':
		if n, ok := one(); ok {
			p.strike = n&1 == 1
		}
	case '-':
		if n, ok := one(); ok {
			switch n {
			case 0, 1, 2, '0', '1', '2':
				p.st.Underline = int(n & 3)
			default:
				p.skipf(3, "ESC - %d out of range", n)
			}
		}
	case 'M':
		if n, ok := one(); ok {
			switch n {
			case 0, '0':
				p.st.Font = FontA
			case 1, '1':
				p.st.Font = FontB
			default:
				p.skipf(3, "ESC M %d: font unsupported", n)
			}
		}
	case 'a':
		if n, ok := one(); ok {
			if n >= '0' {
				n -= '0'
			}
			if n > 2 {
				p.skipf(3, "ESC a %d out of range", p.data[p.cmd+2])
				return
			}
			if len(p.buf) > 0 {
				p.warn(p.cmd, 3, "ESC a not at the beginning of a line: ignored")
				return
			}
			p.align = Align(n)
		}
	case 'd':
		if n, ok := one(); ok {
			k := int(n)
			if len(p.buf) > 0 {
				p.printLine(p.spacing)
				k--
			}
			for ; k > 0; k-- {
				p.printLine(p.spacing)
			}
		}
	case 'J':
		if n, ok := one(); ok {
			if len(p.buf) > 0 {
				p.printLine(int(n))
			} else {
				p.advance(int(n))
			}
		}
	case '2':
		p.pos += 2
		p.spacing = defaultSpacing
	case '3':
		if n, ok := one(); ok {
			p.spacing = int(n)
		}
	case '!':
		if n, ok := one(); ok {
			p.st.Font = FontA
			if n&1 != 0 {
				p.st.Font = FontB
			}
			p.st.Bold = n&0x08 != 0
			p.st.Height = 1 + int(n>>4&1)
			p.st.Width = 1 + int(n>>5&1)
			p.st.Underline = int(n >> 7)
		}
	case 'p':
		a, ok := p.args(5, name)
		if !ok {
			return
		}
		switch a[2] {
		case 0, 1, '0', '1':
			p.res.Drawer++
		default:
			p.skipf(5, "ESC p %d: no such drawer pin", a[2])
		}
	case '=':
		if n, ok := one(); ok && n&1 == 0 {
			p.warn(p.cmd, 3, "ESC = %d disables the printer: a real one ignores the data until ESC = 1", n)
		}
	case 'c':
		a, ok := p.args(4, name)
		if !ok {
			return
		}
		if a[2] < '3' || a[2] > '5' {
			p.skipf(4, "ESC c %s unsupported", printable(a[2]))
		}
	case 'u':
		if n, ok := one(); ok {
			p.status("ESC u", n)
		}
	case 'v':
		p.pos += 2
		p.status("ESC v", 0)
	case gs: // ESC GS t n (Star)
		a, ok := p.args(3, "ESC GS")
		if !ok {
			return
		}
		if a[2] != 't' {
			p.skipf(3, "ESC GS %s unsupported", printable(a[2]))
			return
		}
		if a, ok := p.args(4, "ESC GS t"); ok {
			p.selectSlot("ESC GS t", a[3])
		}
	case '*':
		p.bitImage()
	case '(':
		p.paramBlock("ESC (")
	default:
		p.unsupported(name, escLen(c, p.data[p.cmd:]))
	}
}

func (p *interp) gs() {
	c, ok := p.next("GS")
	if !ok {
		return
	}
	name := "GS " + printable(c)
	one := func() (byte, bool) {
		a, ok := p.args(3, name)
		if !ok {
			return 0, false
		}
		return a[2], true
	}
	switch c {
	case '!':
		if n, ok := one(); ok {
			if n&0x88 != 0 {
				p.skipf(3, "GS ! 0x%02X out of range", n)
				return
			}
			p.st.Width = 1 + int(n>>4)
			p.st.Height = 1 + int(n&7)
		}
	case 'B':
		if n, ok := one(); ok {
			p.st.Inverse = n&1 == 1
		}
	case 'V':
		p.cut()
	case 'h':
		if n, ok := one(); ok {
			if n == 0 {
				p.skip(3, "GS h 0 out of range")
				return
			}
			p.bcH = int(n)
		}
	case 'w':
		if n, ok := one(); ok {
			if n < 1 || n > 6 {
				p.skipf(3, "GS w %d unsupported (module width 1..6)", n)
				return
			}
			p.bcW = int(n)
		}
	case 'H':
		if n, ok := one(); ok {
			if n >= '0' {
				n -= '0'
			}
			if n > 3 {
				p.skipf(3, "GS H %d out of range", p.data[p.cmd+2])
				return
			}
			p.hri = n
		}
	case 'f':
		if n, ok := one(); ok {
			switch n {
			case 0, '0':
				p.hriFont = FontA
			case 1, '1':
				p.hriFont = FontB
			default:
				p.skipf(3, "GS f %d: font unsupported", n)
			}
		}
	case 'k':
		p.barcodeCmd()
	case '(':
		if p.cmd+2 < len(p.data) && p.data[p.cmd+2] == 'k' {
			p.symbolCmd()
			return
		}
		p.paramBlock("GS (")
	case 'v':
		if p.cmd+2 < len(p.data) && p.data[p.cmd+2] == '0' {
			p.raster()
			return
		}
		if p.cmd+2 >= len(p.data) {
			p.truncated("GS v", 3)
			return
		}
		p.skipf(3, "GS v %s unsupported", printable(p.data[p.cmd+2]))
	case 'L', 'W':
		a, ok := p.args(4, name)
		if !ok {
			return
		}
		n := int(a[2]) | int(a[3])<<8
		if len(p.buf) > 0 {
			p.warn(p.cmd, 4, "%s not at the beginning of a line: ignored", name)
			return
		}
		if c == 'L' {
			if n > p.dots-1 {
				p.warn(p.cmd, 4, "GS L %d beyond the paper (%d dots): clamped", n, p.dots)
				n = p.dots - 1
			}
			p.margin = n
			return
		}
		if n == 0 {
			p.skip(4, "GS W 0 out of range")
			return
		}
		p.areaW = n
	case 'r':
		if n, ok := one(); ok {
			p.status("GS r", n)
		}
	case 'a':
		if n, ok := one(); ok {
			p.status("GS a", n)
		}
	case 'I':
		if n, ok := one(); ok {
			p.status("GS I", n)
		}
	case 'e':
		p.presenter()
	default:
		p.unsupported(name, gsLen(c, p.data[p.cmd:]))
	}
}

func (p *interp) fs() {
	c, ok := p.next("FS")
	if !ok {
		return
	}
	if c == '(' {
		p.paramBlock("FS (")
		return
	}
	p.unsupported("FS "+printable(c), fsLen(c, p.data[p.cmd:]))
}

func (p *interp) dle() {
	if p.cmd+1 >= len(p.data) {
		p.truncated("DLE", 3)
		return
	}
	switch p.data[p.cmd+1] {
	case 0x04: // DLE EOT n [a]
		a, ok := p.args(3, "DLE EOT")
		if !ok {
			return
		}
		switch n := a[2]; n {
		case 1, 2, 3, 4:
			p.status("DLE EOT", n)
		case 7, 8:
			if _, ok := p.args(4, "DLE EOT"); ok {
				p.status("DLE EOT", n)
			}
		default:
			p.skipf(3, "DLE EOT %d out of range", n)
		}
	case 0x05:
		p.unsupported("DLE ENQ", 3)
	case 0x14:
		n := 3
		if p.cmd+2 < len(p.data) {
			switch p.data[p.cmd+2] {
			case 1, 2:
				n = 5
			case 7:
				n = 4
			case 8:
				n = 10
			}
		}
		p.unsupported("DLE DC4", n)
	default:
		p.skip(1, "control 0x10 (DLE) unsupported")
	}
}

// unsupported reports a command not interpreted, of n bytes when known
// (truncated when the input is shorter).
func (p *interp) unsupported(name string, n int) {
	if p.cmd+n > len(p.data) {
		p.truncated(name, n)
		return
	}
	p.skipf(n, "%s unsupported", name)
}

// paramBlock skips an unsupported "X ( fn pL pH data" command.
func (p *interp) paramBlock(prefix string) {
	if p.cmd+5 > len(p.data) {
		p.truncated(prefix, 5)
		return
	}
	fn := p.data[p.cmd+2]
	n := 5 + (int(p.data[p.cmd+3]) | int(p.data[p.cmd+4])<<8)
	p.unsupported(prefix+" "+printable(fn), n)
}

func (p *interp) selectSlot(cmd string, n byte) {
	cs, ok := p.slots[n]
	if !ok {
		p.skipf(p.pos-p.cmd, "%s %d: no charset in that slot", cmd, n)
		return
	}
	p.cs = cs
}

func (p *interp) status(cmd string, n byte) {
	p.res.Status = append(p.res.Status, StatusRequest{Offset: p.cmd, Cmd: cmd, N: n})
}

// ---- text and lines ----

func fontSize(f Font) (w, h int) {
	if f == FontB {
		return 9, 17
	}
	return 12, 24
}

func (p *interp) curStyle() Style {
	s := p.st
	s.Bold = s.Bold || p.strike
	return s
}

// area is the printable width of a line, in dots from the left margin.
func (p *interp) area() int {
	return max(1, min(p.areaW, p.dots-p.margin))
}

func alignOffset(a Align, area, w int) int {
	if w >= area {
		return 0
	}
	switch a {
	case AlignCenter:
		return (area - w) / 2
	case AlignRight:
		return area - w
	}
	return 0
}

func (p *interp) glyph(r rune) {
	st := p.curStyle()
	w, h := fontSize(st.Font)
	p.addItem(item{kind: itGlyph, r: r, st: st, w: w * st.Width, h: h * st.Height})
}

func (p *interp) addItem(it item) {
	if len(p.buf) > 0 && p.bufW+it.w > p.area() {
		p.printLine(p.spacing) // the printer wraps a full line
	}
	if len(p.buf) == 0 {
		p.bufStart = p.cmd
	}
	p.buf = append(p.buf, it)
	p.bufW += it.w
}

func (p *interp) clearBuf() {
	p.buf = p.buf[:0]
	p.bufW = 0
}

func (p *interp) tab() {
	st := p.curStyle()
	fw, _ := fontSize(st.Font)
	u := 8 * fw
	stop := min((p.bufW/u+1)*u, p.area())
	if w := stop - p.bufW; w > 0 {
		p.addItem(item{kind: itTab, st: st, w: w})
	}
}

func (p *interp) bufText() string {
	var b strings.Builder
	for _, it := range p.buf {
		b.WriteString(itemText(it))
	}
	return b.String()
}

func itemText(it item) string {
	switch it.kind {
	case itTab:
		return "\t"
	case itImage:
		return fmt.Sprintf("[IMAGE %dx%d]", it.w, it.h)
	}
	return string(it.r)
}

// flushPending prints the line buffer before a command that prints on its
// own lines (barcode, QR, raster image, cut).
func (p *interp) flushPending(cmd string, warn bool) {
	if len(p.buf) == 0 {
		return
	}
	if warn {
		p.warn(p.cmd, 2, "%s with text pending in the line (%q): printed first, some printers ignore the command", cmd, p.bufText())
	}
	p.printLine(p.spacing)
}

func (p *interp) advance(n int) {
	p.y += n
	if p.y > MaxHeight && !p.tooTall {
		p.tooTall = true
		p.unknown(Unknown{Offset: p.cmd, Bytes: []byte{}, Reason: fmt.Sprintf("image too tall: the paper is capped at %d dots, the rest is not drawn nor listed in Text and Lines", MaxHeight)})
	}
}

// addLine records a printed line, unless below the paper's cap or beyond
// maxLines.
func (p *interp) addLine(l Line, text string) bool {
	if p.y >= MaxHeight {
		return false // reported by advance
	}
	if len(p.res.Lines) >= maxLines {
		if !p.manyLines {
			p.manyLines = true
			p.unknown(Unknown{Offset: p.cmd, Bytes: []byte{}, Reason: fmt.Sprintf("more than %d lines: the rest is not listed in Text and Lines", maxLines)})
		}
		return false
	}
	p.res.Lines = append(p.res.Lines, l)
	p.texts = append(p.texts, text)
	p.star = append(p.star, false)
	return true
}

// printLine prints the line buffer and feeds max(line height, feed) dots;
// an empty buffer prints a blank line of feed dots.
func (p *interp) printLine(feed int) {
	if len(p.buf) == 0 {
		p.addLine(Line{Kind: KindText, Align: p.align, Style: p.curStyle(), X: p.margin, Y: p.y}, "")
		p.advance(feed)
		return
	}
	area := p.area()
	h := 0
	for _, it := range p.buf {
		h = max(h, it.h)
	}
	x0 := p.margin + alignOffset(p.align, area, p.bufW)

	// Draw, bottoms aligned.
	x := x0
	for _, it := range p.buf {
		top := p.y + h - it.h
		switch it.kind {
		case itGlyph:
			drawGlyph(p.pap, x, top, it.r, it.st)
		case itImage:
			p.drawBitmap(x, top, it.img)
		}
		x += it.w
	}

	// ESC * stripes printed one under the other make one image.
	if len(p.buf) == 1 && p.buf[0].kind == itImage {
		it := p.buf[0]
		last := len(p.res.Lines) - 1
		if last >= 0 && p.star[last] {
			l := &p.res.Lines[last]
			if l.X == x0 && l.W == it.w && l.Y+l.H == p.y {
				l.H += it.h
				l.Text = fmt.Sprintf("[IMAGE %dx%d]", l.W, l.H)
				p.texts[last] = l.Text
				p.clearBuf()
				p.advance(max(h, feed))
				return
			}
		}
		text := itemText(it)
		if p.addLine(Line{Kind: KindImage, Text: text, Align: p.align, Style: it.st, X: x0, Y: p.y, W: it.w, H: it.h}, text) {
			p.star[last+1] = true
		}
		p.res.Images++
		p.clearBuf()
		p.advance(max(h, feed))
		return
	}

	// Text: padded to the columns of the line's font; runs split where the
	// style changes.
	unit, _ := fontSize(p.buf[0].st.Font)
	var pad, raw strings.Builder
	type span struct {
		start int
		st    Style
	}
	var spans []span
	col := 0
	x = x0
	for _, it := range p.buf {
		for c := x / unit; col < c; col++ {
			pad.WriteByte(' ')
		}
		x += it.w
		if n := len(spans); n == 0 || spans[n-1].st != it.st {
			spans = append(spans, span{raw.Len(), it.st})
		}
		switch it.kind {
		case itGlyph:
			pad.WriteRune(it.r)
			raw.WriteRune(it.r)
			col++
		case itTab:
			raw.WriteByte('\t')
		case itImage:
			s := itemText(it)
			pad.WriteString(s)
			raw.WriteString(s)
			col += len(s)
			p.res.Images++
		}
	}
	all := raw.String()
	runs := make([]Run, len(spans))
	for i, sp := range spans {
		end := len(all)
		if i+1 < len(spans) {
			end = spans[i+1].start
		}
		runs[i] = Run{Text: all[sp.start:end], Style: sp.st}
	}
	p.addLine(Line{Kind: KindText, Text: all, Align: p.align, Style: runs[0].Style, Runs: runs,
		X: x0, Y: p.y, W: p.bufW, H: h}, strings.TrimRight(pad.String(), " "))
	p.clearBuf()
	p.advance(max(h, feed))
}

// block prints a barcode, QR code or raster image of w x h dots placed by
// draw at (x, y) on its own line, and returns its x.
func (p *interp) block(kind LineKind, text string, w, h int, draw func(x, y int)) int {
	area := p.area()
	x0 := p.margin + alignOffset(p.align, area, w)
	draw(x0, p.y)
	p.addLine(Line{Kind: kind, Text: text, Align: p.align, Style: p.curStyle(), X: x0, Y: p.y, W: w, H: h}, text)
	p.advance(h)
	return x0
}

// ---- cut, presenter ----

func (p *interp) cut() {
	if p.cmd+2 >= len(p.data) {
		p.truncated("GS V", 3)
		return
	}
	m := p.data[p.cmd+2]
	var partial bool
	feed := 0
	switch m {
	case 0, '0':
		p.pos = p.cmd + 3
	case 1, '1':
		p.pos = p.cmd + 3
		partial = true
	case 65, 66:
		a, ok := p.args(4, "GS V")
		if !ok {
			return
		}
		partial, feed = m == 66, int(a[3])
	case 97, 98, 103, 104:
		p.unsupported(fmt.Sprintf("GS V %d", m), 4)
		return
	default:
		p.skipf(3, "GS V %d unsupported", m)
		return
	}
	p.flushPending("GS V", false)
	p.advance(feed)
	// A dashed gray line on the last row above the cut.
	y := max(p.y-1, 0)
	if y < MaxHeight {
		for x := 0; x < p.dots; x++ {
			if (x/8)%2 == 0 && p.pap.get(x, y) == 0 {
				p.pap.set(x, y, cutMark)
			}
		}
	}
	p.res.Cuts++
	kind, text := KindCut, "--- cut ---"
	if partial {
		kind, text = KindPartialCut, "--- partial cut ---"
	}
	p.addLine(Line{Kind: kind, Text: text, Align: p.align, Style: p.curStyle(), Y: p.y, W: p.dots}, text)
}

// presenter interprets Custom's GS e n [m] (ticket presenter): n 0 present,
// 1/2 motor off/on, 3 present by m steps, 4 retract (catch), 5 eject,
// 6 status.
func (p *interp) presenter() {
	a, ok := p.args(3, "GS e")
	if !ok {
		return
	}
	n := a[2]
	action := ""
	switch n {
	case 0:
		action = "present"
	case 1:
		p.res.Presenter = append(p.res.Presenter, "motor off")
		return
	case 2:
		p.res.Presenter = append(p.res.Presenter, "motor on")
		return
	case 3:
		if _, ok := p.args(4, "GS e 3"); !ok {
			return
		}
		action = "present"
	case 4:
		action = "retract"
	case 5:
		action = "eject"
	case 6:
		p.status("GS e", n)
		return
	default:
		p.skipf(3, "GS e %d unsupported", n)
		return
	}
	p.flushPending("GS e", false)
	p.res.Presenter = append(p.res.Presenter, action)
	text := "--- " + action + " ---"
	p.addLine(Line{Kind: KindPresenter, Text: text, Align: p.align, Style: p.curStyle(), Y: p.y}, text)
}

// ---- helpers ----

// printable names a command byte: the character when printable, else hex.
func printable(c byte) string {
	if c == ' ' {
		return "SP"
	}
	if c > 0x20 && c < 0x7F {
		return string(rune(c))
	}
	return fmt.Sprintf("0x%02X", c)
}

// quoteIfNeeded escapes control characters and invalid UTF-8 so that a
// payload stays on one line of Result.Text.
func quoteIfNeeded(s string) string {
	clean := utf8.ValidString(s)
	for i := 0; clean && i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7F {
			clean = false
		}
	}
	if clean {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// realtimeHazard warns when binary data holds bytes a printer with
// real-time commands enabled would execute: DLE EOT 1..4, DLE ENQ 0..2,
// DLE DC4 1..8.
func (p *interp) realtimeHazard(cmd string, off int, d []byte) {
	count, first := 0, -1
	for i := 0; i+2 < len(d); i++ {
		if d[i] != dle {
			continue
		}
		n := d[i+2]
		switch d[i+1] {
		case 0x04:
			if n < 1 || n > 4 {
				continue
			}
		case 0x05:
			if n > 2 {
				continue
			}
		case 0x14:
			if n < 1 || n > 8 {
				continue
			}
		default:
			continue
		}
		if first < 0 {
			first = i
		}
		count++
	}
	if count > 0 {
		p.warning(Unknown{Offset: off + first, Bytes: append([]byte(nil), d[first:first+3]...), Len: 3,
			Reason: fmt.Sprintf("%d real-time command sequence(s) (DLE EOT/ENQ/DC4) inside %s data: a printer with real-time commands enabled executes them", count, cmd)})
	}
}

// ---- lengths of commands not interpreted ----

func escLen(c byte, d []byte) int {
	switch c {
	case ' ', '%', '?', 'R', 'T', 'U', 'V', 'r', '{', 'e', 'K', 'l', 'Q':
		// ESC SP n, ESC % n, ESC ? n, ESC R n, ESC T n, ESC U n, ESC V n,
		// ESC r n, ESC { n, ESC e n, ESC K n, ESC l n, ESC Q n
		return 3
	case '$', '\\':
		return 4
	case ':':
		return 5
	case 'W':
		return 10
	case 'D', 'B': // ESC D n1..nk NUL (tab stops), ESC B ... NUL (Star)
		for i := 2; i < len(d) && i < 2+40; i++ {
			if d[i] == 0 {
				return i + 1
			}
		}
		return min(len(d), 2+40)
	case '&':
		// ESC & y c1 c2 [x d1..d(y*x)]...
		if len(d) < 5 {
			return 5
		}
		y, c1, c2 := int(d[2]), int(d[3]), int(d[4])
		n := 5
		for ch := c1; ch <= c2 && n < len(d); ch++ {
			n += 1 + y*int(d[n])
		}
		return n
	}
	return 2
}

func gsLen(c byte, d []byte) int {
	u16 := func(i int) int {
		if len(d) < i+2 {
			return 0
		}
		return int(d[i]) | int(d[i+1])<<8
	}
	switch c {
	case 'T', '/', 'E', 'b', 'j', 'J', 0xF8, 't', 'Z', 'D':
		return 3
	case '$', '\\', 'P', 'z':
		return 4
	case '^':
		return 5
	case 'g':
		return 6
	case '*':
		if len(d) < 4 {
			return 4
		}
		return 4 + int(d[2])*int(d[3])*8
	case 'Q': // GS Q 0 m xL xH yL yH d: x bytes wide? x dots, rounded to bytes
		x, y := u16(4), u16(6)
		return 8 + (x+7)/8*y
	case '8': // GS 8 L p1 p2 p3 p4 ...
		if len(d) < 7 {
			return 7
		}
		return 7 + (int(d[3]) | int(d[4])<<8 | int(d[5])<<16 | int(d[6])<<24)
	}
	return 2
}

func fsLen(c byte, d []byte) int {
	switch c {
	case '!', '-', 'C', 'W':
		return 3
	case 'p', 'S':
		return 4
	case 'g':
		if len(d) > 2 && d[2] == '1' && len(d) >= 10 {
			return 10 + (int(d[8]) | int(d[9])<<8)
		}
		return 10
	case 'q': // FS q n [xL xH yL yH d...]...
		if len(d) < 3 {
			return 3
		}
		n := 3
		for k := 0; k < int(d[2]) && n+4 <= len(d); k++ {
			x := int(d[n]) | int(d[n+1])<<8
			y := int(d[n+2]) | int(d[n+3])<<8
			n += 4 + x*y*8
		}
		return n
	}
	return 2
}
