package pix

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"

	qrcode "github.com/skip2/go-qrcode"
)

// QR image sizes QRPNG accepts, in pixels.
const (
	QRMinSize = 128
	QRMaxSize = 2048
)

var qrPalette = color.Palette{color.Gray{Y: 0xFF}, color.Gray{Y: 0x00}}

// QRPNG renders payload as a QR code (error correction level M) in a size×size PNG. Every
// module is the same whole number of pixels; the symbol is centred with at least the standard
// 4-module quiet zone around it (the pixels that do not divide evenly widen the margin).
// size must be QRMinSize..QRMaxSize and large enough for one pixel per module.
func QRPNG(payload string, size int) ([]byte, error) {
	if size < QRMinSize || size > QRMaxSize {
		return nil, fmt.Errorf("pix: QR size %d px outside %d..%d", size, QRMinSize, QRMaxSize)
	}
	if payload == "" {
		return nil, errors.New("pix: QR of an empty payload")
	}
	q, err := qrcode.New(payload, qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("pix: QR encoding: %w", err)
	}
	bm := q.Bitmap() // includes the 4-module quiet zone
	n := len(bm)
	if n == 0 || n > size {
		return nil, fmt.Errorf("pix: a QR of %d bytes needs %d modules (quiet zone included), more than %d px", len(payload), n, size)
	}
	scale := size / n
	off := (size - n*scale) / 2
	img := image.NewPaletted(image.Rect(0, 0, size, size), qrPalette) // all index 0: white
	for y, row := range bm {
		for x, dark := range row {
			if !dark {
				continue
			}
			x0, y0 := off+x*scale, off+y*scale
			for py := y0; py < y0+scale; py++ {
				line := img.Pix[py*img.Stride+x0 : py*img.Stride+x0+scale]
				for i := range line {
					line[i] = 1
				}
			}
		}
	}
	var buf bytes.Buffer
	buf.Grow(size * size / 64)
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("pix: QR PNG: %w", err)
	}
	return buf.Bytes(), nil
}

// QRDataURL is QRPNG as a "data:image/png;base64,..." URL, for an <img src>.
func QRDataURL(payload string, size int) (string, error) {
	b, err := QRPNG(payload, size)
	if err != nil {
		return "", err
	}
	const prefix = "data:image/png;base64,"
	out := make([]byte, len(prefix)+base64.StdEncoding.EncodedLen(len(b)))
	copy(out, prefix)
	base64.StdEncoding.Encode(out[len(prefix):], b)
	return string(out), nil
}
