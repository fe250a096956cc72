package escpos

import (
	"errors"
	"fmt"
)

// Errors kept by an Encoder; test with errors.Is.
var (
	// ErrArgument: an argument out of the command's range (or an unknown
	// charset given to NewEncoder).
	ErrArgument = errors.New("escpos: bad argument")
	// ErrData: data the command cannot carry (a barcode's or QR code's
	// content, an image too wide).
	ErrData = errors.New("escpos: data not encodable")
)

// Align is a justification for ESC a.
type Align byte

// Justifications.
const (
	Left   Align = 0
	Center Align = 1
	Right  Align = 2
)

// Font is a character font for ESC M.
type Font byte

// Fonts.
const (
	FontA Font = 0 // 12x24 on most 80 mm printers
	FontB Font = 1 // 9x17 on most 80 mm printers
)

// Control bytes.
const (
	lf  = 0x0A
	esc = 0x1B
	gs  = 0x1D
	dle = 0x10
	eot = 0x04
)

// Encoder appends commands to a buffer. Methods never panic; the first error
// (bad argument, data a barcode cannot hold) is kept and returned by Err, the
// call that failed appends nothing, and later calls are no-ops. A buffer
// whose Encoder has an error must not be sent.
//
// An Encoder is not safe for concurrent use.
type Encoder struct {
	table Table
	codec *codec
	buf   []byte
	err   error
}

// NewEncoder returns an Encoder that writes text in table t. An unknown
// charset is kept as the Encoder's error.
func NewEncoder(t Table) *Encoder {
	e := &Encoder{table: t, codec: asciiCodec}
	if c, ok := codecs[t.Charset]; ok {
		e.codec = c
	} else {
		e.err = fmt.Errorf("%w: unknown charset %q", ErrArgument, t.Charset)
	}
	return e
}

func (e *Encoder) fail(err error) {
	if e.err == nil {
		e.err = err
	}
}

func (e *Encoder) argf(format string, a ...any) {
	e.fail(fmt.Errorf("%w: "+format, append([]any{ErrArgument}, a...)...))
}

func (e *Encoder) dataf(format string, a ...any) {
	e.fail(fmt.Errorf("%w: "+format, append([]any{ErrData}, a...)...))
}

func (e *Encoder) put(b ...byte) {
	if e.err == nil {
		e.buf = append(e.buf, b...)
	}
}

// Init resets the printer (ESC @) and selects the table (ESC t n, or
// ESC GS t n for Star). The select is always sent: printers' default tables
// vary by unit.
func (e *Encoder) Init() {
	e.put(esc, '@')
	if e.table.Star {
		e.put(esc, gs, 't', e.table.Slot)
	} else {
		e.put(esc, 't', e.table.Slot)
	}
}

// Text appends s encoded in the table's charset. What the charset cannot
// hold is transliterated: “” → ", ‘’ → ', — and – → -, … → ..., € → EUR
// (when the charset lacks it), • → *, no-break and other spaces → space,
// then accents are stripped (the canonical decomposition without its marks),
// then '?'. Control characters other than \n are dropped (so Text never
// emits DLE, ESC or GS); \n becomes LF. Input need not be NFC.
func (e *Encoder) Text(s string) {
	if e.err == nil {
		e.buf = appendText(e.buf, e.codec, s)
	}
}

// Line appends Text(s) and LF.
func (e *Encoder) Line(s string) {
	e.Text(s)
	e.LF()
}

// LF prints the buffered line and feeds one line (LF).
func (e *Encoder) LF() { e.put(lf) }

// Bold turns emphasized mode on or off (ESC E n).
func (e *Encoder) Bold(on bool) { e.put(esc, 'E', b2n(on)) }

// Underline sets underline mode (ESC - n): 0 off, 1 one dot, 2 two dots.
func (e *Encoder) Underline(n int) {
	if n < 0 || n > 2 {
		e.argf("Underline(%d): want 0..2", n)
		return
	}
	e.put(esc, '-', byte(n))
}

// Size sets the character size (GS ! n): width and height multipliers,
// 1..8 each.
func (e *Encoder) Size(w, h int) {
	if w < 1 || w > 8 || h < 1 || h > 8 {
		e.argf("Size(%d, %d): want 1..8 each", w, h)
		return
	}
	e.put(gs, '!', byte(w-1)<<4|byte(h-1))
}

// Inverse turns white/black reverse printing on or off (GS B n).
func (e *Encoder) Inverse(on bool) { e.put(gs, 'B', b2n(on)) }

// SetFont selects the character font (ESC M n).
func (e *Encoder) SetFont(f Font) {
	if f > FontB {
		e.argf("SetFont(%d): want FontA or FontB", f)
		return
	}
	e.put(esc, 'M', byte(f))
}

// SetAlign sets the justification of the lines that follow (ESC a n); it
// applies to text, barcodes and images alike and takes effect at the start of
// a line.
func (e *Encoder) SetAlign(a Align) {
	if a > Right {
		e.argf("SetAlign(%d): want Left, Center or Right", a)
		return
	}
	e.put(esc, 'a', byte(a))
}

// Feed prints the buffered line and feeds lines lines (ESC d n), 0..255.
func (e *Encoder) Feed(lines int) {
	if lines < 0 || lines > 255 {
		e.argf("Feed(%d): want 0..255", lines)
		return
	}
	e.put(esc, 'd', byte(lines))
}

// Cut feeds the paper to the cutting position plus feed vertical motion
// units (dots on most thermal printers, not lines; 0..255) and cuts:
// GS V 65 n (full cut) or GS V 66 n (partial cut, one point left uncut).
// Models without a full cut do a partial cut for both.
func (e *Encoder) Cut(partial bool, feed int) {
	if feed < 0 || feed > 255 {
		e.argf("Cut(feed %d): want 0..255", feed)
		return
	}
	m := byte(65)
	if partial {
		m = 66
	}
	e.put(gs, 'V', m, byte(feed))
}

// Drawer sends a pulse to the drawer kick-out connector (ESC p m t1 t2):
// pin 0 is connector pin 2, pin 1 is connector pin 5. onMs and offMs are the
// pulse's on and off times in milliseconds, 0..510, sent in units of 2 ms
// (rounded up). Printers use t1 as the off time when t2 < t1.
func (e *Encoder) Drawer(pin int, onMs, offMs int) {
	if pin < 0 || pin > 1 {
		e.argf("Drawer(pin %d): want 0 or 1", pin)
		return
	}
	if onMs < 0 || onMs > 510 || offMs < 0 || offMs > 510 {
		e.argf("Drawer(%d ms, %d ms): want 0..510 ms each", onMs, offMs)
		return
	}
	e.put(esc, 'p', byte(pin), byte((onMs+1)/2), byte((offMs+1)/2))
}

// Raw appends b as it is: the escape hatch for commands this package does not
// know (a profile's presenter commands, GS e n on Custom kiosk printers).
// The caller owns its correctness, including keeping real-time sequences
// (10 04 n, 10 05 n, 10 14 …) out of any data it carries.
func (e *Encoder) Raw(b []byte) { e.put(b...) }

// RequestStatus appends DLE EOT n (10 04 n), n 1..4: the printer answers one
// byte as soon as it receives the command, even offline or with a full
// buffer (see DecodeDLEEOT). It is normally sent on its own, not in a job.
func (e *Encoder) RequestStatus(n int) {
	if n < 1 || n > 4 {
		e.argf("RequestStatus(%d): want 1..4", n)
		return
	}
	e.put(dle, eot, byte(n))
}

// TransmitStatus appends GS r 1 (transmit paper sensor status). It is not
// real-time: the printer answers when its buffer reaches it, so sent after
// the cut its answer tells that the job really went through (the end-of-job
// check; see DecodeGSr1).
func (e *Encoder) TransmitStatus() { e.put(gs, 'r', 1) }

// AutoStatusBack enables Automatic Status Back for drawer, online/offline,
// error and paper sensor changes (GS a 0x0F), or disables it (GS a 0): send
// the disable on close. When enabled, the printer sends a first 4-byte
// packet at once and another on every change (see DecodeASB).
func (e *Encoder) AutoStatusBack(enable bool) {
	n := byte(0)
	if enable {
		n = 0x0F
	}
	e.put(gs, 'a', n)
}

// Bytes returns the commands appended so far. The slice aliases the
// Encoder's buffer (capacity clipped, so appending to it copies) and is valid
// until the next call. Do not send it when Err is not nil.
func (e *Encoder) Bytes() []byte { return e.buf[:len(e.buf):len(e.buf)] }

// Len returns the number of bytes appended so far.
func (e *Encoder) Len() int { return len(e.buf) }

// Err returns the first error met, or nil.
func (e *Encoder) Err() error { return e.err }

func b2n(on bool) byte {
	if on {
		return 1
	}
	return 0
}

// realtimeAt reports whether d[i:] starts with a real-time command sequence:
// DLE EOT n (10 04 1..4), DLE ENQ n (10 05 0..2) or DLE DC4 fn (10 14 1..8).
// A sequence cut short by the end of d does not count: every command this
// package emits after a block starts with ESC, GS or LF, none of which
// completes one.
func realtimeAt(d []byte, i int) bool {
	if i+2 >= len(d) || d[i] != dle {
		return false
	}
	n := d[i+2]
	switch d[i+1] {
	case eot:
		return n >= 1 && n <= 4
	case 0x05:
		return n <= 2
	case 0x14:
		return n >= 1 && n <= 8
	}
	return false
}

// hasRealtime reports whether d contains a real-time command sequence.
func hasRealtime(d []byte) bool {
	for i := range d {
		if realtimeAt(d, i) {
			return true
		}
	}
	return false
}

// scrubRealtime clears the DLE byte (one dot, bit 4) of each real-time
// command sequence in image data d, and reports how many it cleared.
func scrubRealtime(d []byte) int {
	n := 0
	for i := range d {
		if realtimeAt(d, i) {
			d[i] = 0
			n++
		}
	}
	return n
}
