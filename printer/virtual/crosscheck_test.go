// Cross-check with the encoder (printer/escpos): what the encoder writes, the
// virtual printer reads back.
package virtual

import (
	"image"
	"image/color"
	"strings"
	"testing"

	"github.com/totemd/totemd/printer/escpos"
)

func TestEncoderCrossCheck(t *testing.T) {
	for _, tb := range []escpos.Table{
		{Charset: escpos.CP850, Slot: 2},
		{Charset: escpos.CP860, Slot: 3},
		{Charset: escpos.CP858, Slot: 19},
		{Charset: escpos.WPC1252, Slot: 16},
		{Charset: escpos.CP860, Slot: 6, Star: true},
	} {
		t.Run(string(tb.Charset), func(t *testing.T) {
			e := escpos.NewEncoder(tb)
			e.Init()
			e.SetAlign(escpos.Center)
			e.Size(2, 2)
			e.Line("Ação São João")
			e.Size(1, 1)
			e.SetAlign(escpos.Left)
			e.Bold(true)
			e.Text("Total")
			e.Bold(false)
			e.Underline(1)
			e.Line(" R$ 10,00")
			e.Underline(0)
			e.SetFont(escpos.FontB)
			e.Line("fonte B")
			e.SetFont(escpos.FontA)
			e.Inverse(true)
			e.Line("PIX")
			e.Inverse(false)
			e.Barcode(escpos.CODE128, "12345678", 60, 2, escpos.HRIBelow)
			e.Barcode(escpos.CODE128, "AB{12", 60, 2, escpos.HRINone)
			e.Barcode(escpos.EAN13, "590123412345", 60, 2, escpos.HRIBelow)
			e.Barcode(escpos.ITF, "1234", 60, 2, escpos.HRINone)
			e.QR(pix, 4, escpos.QRLevelM)
			img := image.NewGray(image.Rect(0, 0, 40, 30))
			for y := 0; y < 30; y++ {
				for x := 0; x < 40; x++ {
					if (x/5+y/5)%2 == 0 {
						img.SetGray(x, y, color.Gray{})
					} else {
						img.SetGray(x, y, color.Gray{Y: 255})
					}
				}
			}
			e.Image(img, escpos.Raster, 576)
			e.Image(img, escpos.Column, 576)
			e.Feed(3)
			e.Drawer(0, 100, 100)
			e.Cut(true, 0)
			e.TransmitStatus()
			if err := e.Err(); err != nil {
				t.Fatal(err)
			}
			slots := map[byte]string{tb.Slot: string(tb.Charset)}
			r := render(t, e.Bytes(), Options{Slots: slots})
			if len(r.Unknown) != 0 || len(r.Warnings) != 0 {
				t.Fatalf("Unknown %v\nWarnings %v", r.Unknown, r.Warnings)
			}
			for _, want := range []string{"A ç ã o   S ã o   J o ã o\n", "Total R$ 10,00\n", "fonte B\n", "PIX\n",
				"[CODE128 12345678]\n", "[CODE128 AB{12]\n", "[EAN13 5901234123457]\n", "[ITF 1234]\n", "[QR " + pix + "]\n",
				"[IMAGE 40x30]\n", "[IMAGE 40x48]\n", "--- partial cut ---\n"} {
				if !strings.Contains(r.Text, want) {
					t.Errorf("no %q in\n%s", want, r.Text)
				}
			}
			if r.Images != 2 || r.Cuts != 1 || r.Drawer != 1 || len(r.QRs) != 1 || len(r.Barcodes) != 4 || len(r.Status) != 1 {
				t.Errorf("Images %d Cuts %d Drawer %d QRs %d Barcodes %d Status %v", r.Images, r.Cuts, r.Drawer, len(r.QRs), len(r.Barcodes), r.Status)
			}
			if r.Barcodes[0].Values[0] != 105 {
				t.Errorf("digits not sent in code set C: %v", r.Barcodes[0].Values)
			}
		})
	}
}
