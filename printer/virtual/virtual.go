// Package virtual is a virtual thermal printer: an ESC/POS interpreter that
// renders the bytes totemd sends to a receipt printer into text and into an
// image of the paper.
//
// It backs the demo printer (tickets viewable in the browser), the
// `totemd printer render` command, and it is the oracle of the printer tests.
// It interprets the Epson ESC/POS subset totemd uses (text styles, code
// pages, alignment, feeds, cuts, drawer, barcodes, QR codes, raster and bit
// images, margins, status requests) and reports everything else in
// Result.Unknown with its offset: nothing is skipped silently.
//
// Fidelity notes: the rendering follows Epson's documented behaviour where it
// matters to a test (ESC a, GS L and GS W act only at the beginning of a line;
// ESC @ discards the unprinted line; text without a final LF is not printed).
// Deviations from what a sender probably wanted, but that a printer accepts,
// are listed in Result.Warnings. Printer answers (status bytes) are not
// simulated: requests are recorded in Result.Status.
package virtual

import (
	"fmt"
	"image"
	"strings"

	"golang.org/x/text/encoding/charmap"
)

// MaxHeight caps the rendered paper, in dots: lines starting below it are
// neither drawn nor listed in Text and Lines, and an Unknown "image too tall"
// is reported once; commands are still interpreted (counters, QRs, Barcodes,
// Status, Unknown stay complete). Text and Lines are also capped at 20000
// lines, Unknown and Warnings at 10000 entries (plus one "N more not
// listed"), so that a Result stays small whatever the input.
const MaxHeight = 20000

// Options configures the virtual printer.
type Options struct {
	// Dots is the printable width in dots: 576 (80 mm) or 384 (58 mm).
	// 0 means 576. Font A gives Dots/12 columns, font B Dots/9.
	Dots int
	// Charset is the table in use before any ESC t (and after ESC @):
	// "CP437" when empty.
	Charset string
	// Slots maps the n of ESC t n (and of ESC GS t n) to a charset name. When
	// nil, the Epson numbering: 0 CP437, 2 CP850, 3 CP860, 16 WPC1252,
	// 19 CP858. A non-nil map replaces the default one entirely.
	Slots map[byte]string
}

// Align is a line's justification (ESC a).
type Align uint8

// Justifications.
const (
	AlignLeft Align = iota
	AlignCenter
	AlignRight
)

func (a Align) String() string {
	switch a {
	case AlignCenter:
		return "center"
	case AlignRight:
		return "right"
	}
	return "left"
}

// Font is a character font: 'A' (12x24 dots) or 'B' (9x17 dots).
type Font byte

// Fonts.
const (
	FontA Font = 'A'
	FontB Font = 'B'
)

func (f Font) String() string { return string(rune(f)) }

// Style is how characters are printed.
type Style struct {
	Font      Font
	Bold      bool // emphasized (ESC E, ESC ! bit 3) or double strike (ESC G)
	Underline int  // dots: 0, 1 or 2 (ESC -, ESC ! bit 7)
	Inverse   bool // white on black (GS B)
	Width     int  // character width multiplier, 1..8 (GS !, ESC ! bit 5)
	Height    int  // character height multiplier, 1..8 (GS !, ESC ! bit 4)
}

// Run is a part of a line printed in one style.
type Run struct {
	Text string
	Style
}

// LineKind tells what a printed line holds.
type LineKind string

// Line kinds.
const (
	KindText       LineKind = "text" // characters (and ESC * images among them); also blank lines
	KindBarcode    LineKind = "barcode"
	KindQR         LineKind = "qr"
	KindImage      LineKind = "image" // GS v 0, or ESC * stripes alone on their lines (merged when contiguous)
	KindCut        LineKind = "cut"
	KindPartialCut LineKind = "partial cut"
	KindPresenter  LineKind = "presenter" // GS e: present, retract, eject
)

// Line is one printed line. Lines[i] is the i-th line of Result.Text.
type Line struct {
	Kind LineKind
	// Text is what the line holds, without the alignment padding and
	// double-width spacing of Result.Text: the characters for KindText (HT
	// as '\t', ESC * images as "[IMAGE WxH]"), the Result.Text marker
	// otherwise.
	Text  string
	Align Align
	// Style is the style of the first run (of the line's start when there
	// is no run).
	Style
	// Runs split Text where the style changes; nil for non-text lines.
	Runs []Run
	// X, Y, W, H: the box printed on the paper, in dots. Y is the top.
	X, Y, W, H int
}

// Code is a barcode printed with GS k.
type Code struct {
	Kind string // "CODE128", "EAN13", "EAN8", "UPC-A", "ITF", "CODE39"
	// Data is the human-readable content: digits with the check digit for
	// EAN/UPC, the characters for CODE128 (code set C pairs as digits;
	// FNC and shift codes left out), without start/stop for CODE39.
	Data string
	// Modules is the symbol as printed, one character a module: '1' bar,
	// '0' space, quiet zones not included. For the two-width symbologies
	// (ITF, CODE39) a narrow element is one module and a wide one three;
	// the image uses Epson's dot widths instead (narrow n, wide ceil(2.5n)
	// for GS w n).
	Modules string
	// Values are the symbol characters for CODE128 (start, data, check,
	// stop), nil otherwise.
	Values []int
	Offset int // of the GS k command
	// X, Y, W, H: the bars on the paper (HRI text not included).
	X, Y, W, H int
}

// StatusRequest is a command that makes the printer answer; the answer is
// not simulated.
type StatusRequest struct {
	Offset int
	Cmd    string // "DLE EOT", "GS r", "GS a", "GS I", "ESC u", "ESC v", "GS ( k" (QR size, N 82), "GS e" (N 6)
	N      byte
}

// Unknown is a command (or data) not understood, or not executed.
type Unknown struct {
	Offset int
	Bytes  []byte // the bytes skipped, at most the first 32
	Len    int    // how many bytes were skipped
	Reason string
}

func (u Unknown) String() string {
	return fmt.Sprintf("@%d % X (%d bytes): %s", u.Offset, u.Bytes, u.Len, u.Reason)
}

// Result is what the printer printed.
type Result struct {
	// Text is the printed text, one "\n"-terminated line a printed line:
	// alignment applied by padding with spaces to the column count of the
	// line's font (48/64 at 576 dots, 32/42 at 384); a character of width
	// w takes w columns (it is followed by w-1 spaces); trailing spaces
	// trimmed. Non-text lines are markers: "[CODE128 1234]",
	// "[QR <payload>]", "[IMAGE WxH]" (dots as printed), "--- cut ---",
	// "--- partial cut ---", "--- present ---", "--- retract ---",
	// "--- eject ---". Control characters in payloads are escaped Go-style.
	Text      string
	Lines     []Line
	Cuts      int // full and partial
	QRs       []string
	Barcodes  []Code
	Images    int      // GS v 0 images, and ESC * images (contiguous stripes count once)
	Drawer    int      // ESC p pulses
	Presenter []string // GS e actions: "present", "retract", "eject"
	Status    []StatusRequest
	Unknown   []Unknown
	// Warnings are accepted commands a sender probably got wrong: ESC a /
	// GS L / GS W not at the beginning of a line (ignored, as Epson does),
	// text discarded by ESC @ or left without LF at the end, real-time
	// command bytes (DLE EOT/ENQ/DC4) inside image data, clipped images,
	// a wrong check digit, ESC = disabling the printer...
	Warnings []Unknown
	Height   int // rendered height in dots (at most MaxHeight)

	dots  int
	paper *paper
	steps int // commands interpreted: at most len(data)
}

// Render interprets data as sent to a printer configured by o. The error is
// only for invalid options: bad bytes are reported in Result.Unknown.
func Render(data []byte, o Options) (*Result, error) {
	if o.Dots == 0 {
		o.Dots = 576
	}
	if o.Dots < 72 || o.Dots > 4096 {
		return nil, fmt.Errorf("virtual: Dots %d out of range 72..4096", o.Dots)
	}
	if o.Charset == "" {
		o.Charset = "CP437"
	}
	cs, err := lookupCharset(o.Charset)
	if err != nil {
		return nil, err
	}
	slots := make(map[byte]*charset, len(o.Slots))
	if o.Slots == nil {
		for n, name := range defaultSlots {
			c, _ := lookupCharset(name)
			slots[n] = c
		}
	}
	for n, name := range o.Slots {
		c, err := lookupCharset(name)
		if err != nil {
			return nil, fmt.Errorf("virtual: slot %d: %w", n, err)
		}
		slots[n] = c
	}
	p := newInterp(data, o.Dots, cs, slots)
	p.run()
	return p.result(), nil
}

var defaultSlots = map[byte]string{0: "CP437", 2: "CP850", 3: "CP860", 16: "WPC1252", 19: "CP858"}

type charset struct {
	name string
	cm   *charmap.Charmap
}

var charsets = map[string]*charmap.Charmap{
	"CP437":      charmap.CodePage437,
	"CP850":      charmap.CodePage850,
	"CP852":      charmap.CodePage852,
	"CP858":      charmap.CodePage858,
	"CP860":      charmap.CodePage860,
	"CP863":      charmap.CodePage863,
	"CP865":      charmap.CodePage865,
	"CP866":      charmap.CodePage866,
	"WPC1252":    charmap.Windows1252,
	"ISO8859-1":  charmap.ISO8859_1,
	"ISO8859-15": charmap.ISO8859_15,
}

var charsetAliases = map[string]string{
	"PC437": "CP437", "IBM437": "CP437",
	"PC850": "CP850", "IBM850": "CP850",
	"PC852": "CP852",
	"PC858": "CP858", "IBM858": "CP858",
	"PC860": "CP860", "IBM860": "CP860",
	"PC863": "CP863", "PC865": "CP865", "PC866": "CP866",
	"CP1252": "WPC1252", "WINDOWS1252": "WPC1252", "WIN1252": "WPC1252",
	"ISO88591": "ISO8859-1", "LATIN1": "ISO8859-1",
	"ISO885915": "ISO8859-15",
}

func lookupCharset(name string) (*charset, error) {
	n := strings.ToUpper(strings.TrimSpace(name))
	if cm, ok := charsets[n]; ok {
		return &charset{n, cm}, nil
	}
	k := strings.NewReplacer("-", "", "_", "", " ", "").Replace(n)
	if a, ok := charsetAliases[k]; ok {
		return &charset{a, charsets[a]}, nil
	}
	return nil, fmt.Errorf("virtual: unknown charset %q", name)
}

// Image is the paper: Dots wide, Height tall (at least 1), white 255,
// ink 0, cut marks gray.
func (r *Result) Image() *image.Gray {
	h := r.Height
	if h < 1 {
		h = 1
	}
	img := image.NewGray(image.Rect(0, 0, r.dots, h))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	if r.paper == nil {
		return img
	}
	for y, row := range r.paper.rows {
		if row == nil || y >= h {
			continue
		}
		dst := img.Pix[y*img.Stride : y*img.Stride+r.dots]
		for x, v := range row {
			dst[x] = 255 - v
		}
	}
	return img
}
