package escpos

import (
	"fmt"

	qrcode "github.com/skip2/go-qrcode"
)

// Barcode is a one-dimensional symbology: the m of GS k m n d (function B).
type Barcode byte

// Symbologies.
const (
	CODE128 Barcode = 73
	EAN13   Barcode = 67
	ITF     Barcode = 70
)

// HRI is where a barcode's human readable interpretation is printed (GS H n).
type HRI byte

// HRI positions.
const (
	HRINone  HRI = 0
	HRIAbove HRI = 1
	HRIBelow HRI = 2
	HRIBoth  HRI = 3
)

// QR error correction levels for Encoder.QR (the n of GS ( k fn 169).
// QR also accepts 'L', 'M', 'Q' and 'H'.
const (
	QRLevelL byte = 48 // ~7% recovery
	QRLevelM byte = 49 // ~15%
	QRLevelQ byte = 50 // ~25%
	QRLevelH byte = 51 // ~30%
)

// Barcode prints a barcode: GS h height (1..255 dots), GS w width (module
// width 2..6 dots), GS H hri, then GS k m n d.
//
//   - CODE128: printable ASCII (0x20..0x7E). Data is prefixed with the code
//     set selector: {C for an even-length digit string (two digits per byte,
//     sent as binary 0..99, half the width), else {B ('{' sent as "{{"). At
//     most 253 bytes after the prefix.
//   - EAN13: 12 digits, or 13 whose last is the right check digit. The 12
//     data digits are sent and the printer adds the check digit, which every
//     ESC/POS model accepts.
//   - ITF: an even number of digits, 2..254.
//
// Anything else is an ErrData error.
func (e *Encoder) Barcode(kind Barcode, data string, height, width int, hri HRI) {
	if e.err != nil {
		return
	}
	if height < 1 || height > 255 {
		e.argf("Barcode height %d: want 1..255", height)
		return
	}
	if width < 2 || width > 6 {
		e.argf("Barcode width %d: want 2..6", width)
		return
	}
	if hri > HRIBoth {
		e.argf("Barcode HRI %d: want 0..3", hri)
		return
	}
	var d []byte
	var err error
	switch kind {
	case CODE128:
		d, err = code128(data)
	case EAN13:
		d, err = ean13(data)
	case ITF:
		d, err = itf(data)
	default:
		e.argf("Barcode kind %d: want CODE128, EAN13 or ITF", kind)
		return
	}
	if err != nil {
		e.fail(err)
		return
	}
	e.put(gs, 'h', byte(height), gs, 'w', byte(width), gs, 'H', byte(hri),
		gs, 'k', byte(kind), byte(len(d)))
	e.put(d...)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func code128(s string) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("%w: CODE128: empty data", ErrData)
	}
	if len(s)%2 == 0 && allDigits(s) && len(s)/2+2 <= 255 {
		d := make([]byte, 0, 2+len(s)/2)
		d = append(d, '{', 'C')
		for i := 0; i < len(s); i += 2 {
			d = append(d, (s[i]-'0')*10+s[i+1]-'0')
		}
		// Pairs such as "16" "04" "01" would spell DLE EOT 1.
		if !hasRealtime(d) {
			return d, nil
		}
	}
	d := make([]byte, 0, 2+len(s))
	d = append(d, '{', 'B')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7E {
			return nil, fmt.Errorf("%w: CODE128: byte 0x%02X at %d is not printable ASCII", ErrData, c, i)
		}
		d = append(d, c)
		if c == '{' {
			d = append(d, '{')
		}
	}
	if len(d) > 255 {
		return nil, fmt.Errorf("%w: CODE128: %d bytes with prefix, want at most 255", ErrData, len(d))
	}
	return d, nil
}

// ean13Check returns the check digit of the first 12 digits of s, which
// must be digits.
func ean13Check(s string) byte {
	sum := 0
	for i := 0; i < 12; i++ {
		d := int(s[i] - '0')
		if i%2 == 1 {
			d *= 3
		}
		sum += d
	}
	return byte('0' + (10-sum%10)%10)
}

func ean13(s string) ([]byte, error) {
	if (len(s) != 12 && len(s) != 13) || !allDigits(s) {
		return nil, fmt.Errorf("%w: EAN13 %q: want 12 or 13 digits", ErrData, s)
	}
	c := ean13Check(s)
	if len(s) == 13 && s[12] != c {
		return nil, fmt.Errorf("%w: EAN13 %q: check digit %c, want %c", ErrData, s, s[12], c)
	}
	return []byte(s[:12]), nil
}

func itf(s string) ([]byte, error) {
	if len(s) < 2 || len(s)%2 != 0 || len(s) > 254 || !allDigits(s) {
		return nil, fmt.Errorf("%w: ITF %q: want an even number of digits, 2..254", ErrData, s)
	}
	return []byte(s), nil
}

// QR prints a QR code with the printer's own encoder (GS ( k): model 2
// (fn 165), module size 1..16 dots (fn 167), error correction level
// (fn 169: 48 L, 49 M, 50 Q, 51 H, or the letters), store the data (fn 180),
// print (fn 181). A ~100-byte Pix payload takes about 140 bytes this way.
//
// The data must fit a version 40 symbol at that level in the single mode its
// characters allow (numeric, alphanumeric, else byte: 7089/4296/2953 at L,
// 5596/3391/2331 at M); the store command alone would accept up to 7089
// bytes and the printer would then silently print nothing. Data containing
// a real-time sequence (10 04 n, 10 05 n, 10 14 fn) is refused: use QRImage.
func (e *Encoder) QR(data string, module int, level byte) {
	if e.err != nil {
		return
	}
	if module < 1 || module > 16 {
		e.argf("QR module %d: want 1..16", module)
		return
	}
	lv, ok := qrLevel(level)
	if !ok {
		e.argf("QR level %d: want 48..51 or 'L', 'M', 'Q', 'H'", level)
		return
	}
	if data == "" {
		e.dataf("QR: empty data")
		return
	}
	if limit := qrCapacity(data, lv); len(data) > limit {
		e.dataf("QR: %d bytes, at most %d fit at level %c", len(data), limit, "LMQH"[lv-48])
		return
	}
	if hasRealtime([]byte(data)) {
		e.dataf("QR: data contains a real-time command sequence (10 04 n, 10 05 n or 10 14 fn); use QRImage")
		return
	}
	k := len(data) + 3
	e.put(gs, '(', 'k', 4, 0, 49, 65, 50, 0) // fn 165: model 2
	e.put(gs, '(', 'k', 3, 0, 49, 67, byte(module))
	e.put(gs, '(', 'k', 3, 0, 49, 69, lv)
	e.put(gs, '(', 'k', byte(k), byte(k>>8), 49, 80, 48)
	e.buf = append(e.buf, data...)
	e.put(gs, '(', 'k', 3, 0, 49, 81, 48)
}

func qrLevel(l byte) (byte, bool) {
	switch l {
	case 48, 49, 50, 51:
		return l, true
	case 'L':
		return 48, true
	case 'M':
		return 49, true
	case 'Q':
		return 50, true
	case 'H':
		return 51, true
	}
	return 0, false
}

// qrCapacity returns how many characters of data's kind fit a version 40
// symbol at level lv (48..51).
func qrCapacity(data string, lv byte) int {
	numeric := [4]int{7089, 5596, 3993, 3057}
	alnum := [4]int{4296, 3391, 2420, 1852}
	bytes := [4]int{2953, 2331, 1663, 1273}
	i := lv - 48
	switch {
	case allDigits(data):
		return numeric[i]
	case allAlnum(data):
		return alnum[i]
	}
	return bytes[i]
}

func allAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c >= 'A' && c <= 'Z':
		case c == ' ', c == '$', c == '%', c == '*', c == '+', c == '-', c == '.', c == '/', c == ':':
		default:
			return false
		}
	}
	return true
}

// QRImage prints the same QR code as QR, as a raster image (GS v 0), for
// printers without GS ( k. It is built with github.com/skip2/go-qrcode at
// level M, with a quiet zone of one module (the paper's margin does the
// rest), each module module×module dots (1..16). The caller chooses module
// so that the symbol fits the paper: (modules+2)×module dots wide.
func (e *Encoder) QRImage(data string, module int) {
	if e.err != nil {
		return
	}
	if module < 1 || module > 16 {
		e.argf("QRImage module %d: want 1..16", module)
		return
	}
	if data == "" {
		e.dataf("QRImage: empty data")
		return
	}
	bm, err := qrBitmap(data)
	if err != nil {
		e.dataf("QRImage: %v", err)
		return
	}
	n := len(bm) + 2 // one module of quiet zone each side
	img := newBitmap(n*module, n*module)
	for y, row := range bm {
		for x, dark := range row {
			if !dark {
				continue
			}
			for dy := 0; dy < module; dy++ {
				for dx := 0; dx < module; dx++ {
					img.set((x+1)*module+dx, (y+1)*module+dy)
				}
			}
		}
	}
	e.raster(img)
}

// qrBitmap returns the symbol's modules without a quiet zone. go-qrcode
// panics (log.Panic) on internal inconsistencies; that is turned into an
// error since Encoder methods never panic.
func qrBitmap(data string) (bm [][]bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			bm, err = nil, fmt.Errorf("go-qrcode: %v", r)
		}
	}()
	q, err := qrcode.New(data, qrcode.Medium)
	if err != nil {
		return nil, err
	}
	q.DisableBorder = true
	return q.Bitmap(), nil
}
