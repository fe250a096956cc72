package escpos

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func enc() *Encoder { return NewEncoder(Table{Charset: CP850, Slot: 2}) }

func h(b ...byte) []byte { return b }

// Golden bytes, from Epson's ESC/POS reference.
func TestCommandBytes(t *testing.T) {
	tests := []struct {
		name string
		t    Table
		do   func(e *Encoder)
		want []byte
	}{
		{"Init ESC t", Table{Charset: CP850, Slot: 2}, (*Encoder).Init, h(0x1B, 0x40, 0x1B, 0x74, 2)},
		{"Init WPC1252", Table{Charset: WPC1252, Slot: 16}, (*Encoder).Init, h(0x1B, 0x40, 0x1B, 0x74, 16)},
		{"Init Star ESC GS t", Table{Charset: CP860, Slot: 6, Star: true}, (*Encoder).Init, h(0x1B, 0x40, 0x1B, 0x1D, 0x74, 6)},
		{"Text CP850", Table{Charset: CP850}, func(e *Encoder) { e.Text("Ação") }, h('A', 0x87, 0xC6, 'o')},
		{"Text CP860", Table{Charset: CP860}, func(e *Encoder) { e.Text("Ação") }, h('A', 0x87, 0x84, 'o')},
		{"Text newline", Table{Charset: CP850}, func(e *Encoder) { e.Text("a\nb") }, h('a', 0x0A, 'b')},
		{"Line", Table{Charset: CP850}, func(e *Encoder) { e.Line("ok") }, h('o', 'k', 0x0A)},
		{"LF", Table{Charset: CP850}, (*Encoder).LF, h(0x0A)},
		{"Bold on", Table{Charset: CP850}, func(e *Encoder) { e.Bold(true) }, h(0x1B, 0x45, 1)},
		{"Bold off", Table{Charset: CP850}, func(e *Encoder) { e.Bold(false) }, h(0x1B, 0x45, 0)},
		{"Underline 0", Table{Charset: CP850}, func(e *Encoder) { e.Underline(0) }, h(0x1B, 0x2D, 0)},
		{"Underline 2", Table{Charset: CP850}, func(e *Encoder) { e.Underline(2) }, h(0x1B, 0x2D, 2)},
		{"Size 1x1", Table{Charset: CP850}, func(e *Encoder) { e.Size(1, 1) }, h(0x1D, 0x21, 0x00)},
		{"Size 2x3", Table{Charset: CP850}, func(e *Encoder) { e.Size(2, 3) }, h(0x1D, 0x21, 0x12)},
		{"Size 8x8", Table{Charset: CP850}, func(e *Encoder) { e.Size(8, 8) }, h(0x1D, 0x21, 0x77)},
		{"Inverse on", Table{Charset: CP850}, func(e *Encoder) { e.Inverse(true) }, h(0x1D, 0x42, 1)},
		{"Inverse off", Table{Charset: CP850}, func(e *Encoder) { e.Inverse(false) }, h(0x1D, 0x42, 0)},
		{"Font B", Table{Charset: CP850}, func(e *Encoder) { e.SetFont(FontB) }, h(0x1B, 0x4D, 1)},
		{"Font A", Table{Charset: CP850}, func(e *Encoder) { e.SetFont(FontA) }, h(0x1B, 0x4D, 0)},
		{"Align center", Table{Charset: CP850}, func(e *Encoder) { e.SetAlign(Center) }, h(0x1B, 0x61, 1)},
		{"Align right", Table{Charset: CP850}, func(e *Encoder) { e.SetAlign(Right) }, h(0x1B, 0x61, 2)},
		{"Feed 3", Table{Charset: CP850}, func(e *Encoder) { e.Feed(3) }, h(0x1B, 0x64, 3)},
		{"Feed 255", Table{Charset: CP850}, func(e *Encoder) { e.Feed(255) }, h(0x1B, 0x64, 255)},
		{"Cut full", Table{Charset: CP850}, func(e *Encoder) { e.Cut(false, 0) }, h(0x1D, 0x56, 65, 0)},
		{"Cut partial feed", Table{Charset: CP850}, func(e *Encoder) { e.Cut(true, 16) }, h(0x1D, 0x56, 66, 16)},
		{"Drawer pin 2", Table{Charset: CP850}, func(e *Encoder) { e.Drawer(0, 100, 500) }, h(0x1B, 0x70, 0, 50, 250)},
		{"Drawer pin 5 rounding", Table{Charset: CP850}, func(e *Encoder) { e.Drawer(1, 25, 510) }, h(0x1B, 0x70, 1, 13, 255)},
		{"Raw", Table{Charset: CP850}, func(e *Encoder) { e.Raw([]byte{0x1D, 0x65, 0x03, 0x0C}) }, h(0x1D, 0x65, 0x03, 0x0C)},
		{"DLE EOT 1", Table{Charset: CP850}, func(e *Encoder) { e.RequestStatus(1) }, h(0x10, 0x04, 1)},
		{"DLE EOT 4", Table{Charset: CP850}, func(e *Encoder) { e.RequestStatus(4) }, h(0x10, 0x04, 4)},
		{"GS r 1", Table{Charset: CP850}, (*Encoder).TransmitStatus, h(0x1D, 0x72, 1)},
		{"GS a on", Table{Charset: CP850}, func(e *Encoder) { e.AutoStatusBack(true) }, h(0x1D, 0x61, 0x0F)},
		{"GS a off", Table{Charset: CP850}, func(e *Encoder) { e.AutoStatusBack(false) }, h(0x1D, 0x61, 0)},
		{"CODE128 B", Table{Charset: CP850}, func(e *Encoder) { e.Barcode(CODE128, "No.123", 80, 2, HRIBelow) },
			h(0x1D, 0x68, 80, 0x1D, 0x77, 2, 0x1D, 0x48, 2, 0x1D, 0x6B, 73, 8, '{', 'B', 'N', 'o', '.', '1', '2', '3')},
		{"CODE128 C binary pairs", Table{Charset: CP850}, func(e *Encoder) { e.Barcode(CODE128, "123456", 162, 3, HRINone) },
			h(0x1D, 0x68, 162, 0x1D, 0x77, 3, 0x1D, 0x48, 0, 0x1D, 0x6B, 73, 5, '{', 'C', 12, 34, 56)},
		{"CODE128 odd digits use B", Table{Charset: CP850}, func(e *Encoder) { e.Barcode(CODE128, "12345", 50, 2, HRIAbove) },
			h(0x1D, 0x68, 50, 0x1D, 0x77, 2, 0x1D, 0x48, 1, 0x1D, 0x6B, 73, 7, '{', 'B', '1', '2', '3', '4', '5')},
		{"CODE128 brace doubled", Table{Charset: CP850}, func(e *Encoder) { e.Barcode(CODE128, "a{b", 50, 2, HRIBoth) },
			h(0x1D, 0x68, 50, 0x1D, 0x77, 2, 0x1D, 0x48, 3, 0x1D, 0x6B, 73, 6, '{', 'B', 'a', '{', '{', 'b')},
		{"CODE128 C would spell DLE EOT 1: B", Table{Charset: CP850}, func(e *Encoder) { e.Barcode(CODE128, "160401", 50, 2, HRINone) },
			h(0x1D, 0x68, 50, 0x1D, 0x77, 2, 0x1D, 0x48, 0, 0x1D, 0x6B, 73, 8, '{', 'B', '1', '6', '0', '4', '0', '1')},
		{"EAN13 12 digits", Table{Charset: CP850}, func(e *Encoder) { e.Barcode(EAN13, "590123412345", 100, 3, HRIBelow) },
			append(h(0x1D, 0x68, 100, 0x1D, 0x77, 3, 0x1D, 0x48, 2, 0x1D, 0x6B, 67, 12), "590123412345"...)},
		{"EAN13 13 digits verified", Table{Charset: CP850}, func(e *Encoder) { e.Barcode(EAN13, "5901234123457", 100, 3, HRIBelow) },
			append(h(0x1D, 0x68, 100, 0x1D, 0x77, 3, 0x1D, 0x48, 2, 0x1D, 0x6B, 67, 12), "590123412345"...)},
		{"ITF", Table{Charset: CP850}, func(e *Encoder) { e.Barcode(ITF, "1234", 60, 2, HRINone) },
			h(0x1D, 0x68, 60, 0x1D, 0x77, 2, 0x1D, 0x48, 0, 0x1D, 0x6B, 70, 4, '1', '2', '3', '4')},
		{"QR abc", Table{Charset: CP850}, func(e *Encoder) { e.QR("abc", 4, QRLevelM) }, h(
			0x1D, 0x28, 0x6B, 0x04, 0x00, 0x31, 0x41, 0x32, 0x00, // fn 165 model 2
			0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x43, 0x04, // fn 167 module 4
			0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x45, 0x31, // fn 169 level M
			0x1D, 0x28, 0x6B, 0x06, 0x00, 0x31, 0x50, 0x30, 0x61, 0x62, 0x63, // fn 180 store
			0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x51, 0x30, // fn 181 print
		)},
		{"QR level letter", Table{Charset: CP850}, func(e *Encoder) { e.QR("1", 16, 'H') }, h(
			0x1D, 0x28, 0x6B, 0x04, 0x00, 0x31, 0x41, 0x32, 0x00,
			0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x43, 16,
			0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x45, 0x33,
			0x1D, 0x28, 0x6B, 0x04, 0x00, 0x31, 0x50, 0x30, '1',
			0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x51, 0x30,
		)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEncoder(tt.t)
			tt.do(e)
			if err := e.Err(); err != nil {
				t.Fatalf("Err = %v", err)
			}
			if got := e.Bytes(); !bytes.Equal(got, tt.want) {
				t.Errorf("bytes\n got % X\nwant % X", got, tt.want)
			}
			if e.Len() != len(tt.want) {
				t.Errorf("Len = %d, want %d", e.Len(), len(tt.want))
			}
		})
	}
}

func TestQRStoreLength(t *testing.T) {
	data := strings.Repeat("a", 1000)
	e := enc()
	e.QR(data, 3, QRLevelL)
	want := h(0x1D, 0x28, 0x6B, 0xEB, 0x03, 0x31, 0x50, 0x30) // 1003 = 0x03EB
	if !bytes.Contains(e.Bytes(), want) {
		t.Fatalf("store header % X not in output", want)
	}
}

func TestRefusals(t *testing.T) {
	tests := []struct {
		name string
		do   func(e *Encoder)
		want error
	}{
		{"size 0", func(e *Encoder) { e.Size(0, 1) }, ErrArgument},
		{"size 9", func(e *Encoder) { e.Size(9, 1) }, ErrArgument},
		{"size h 0", func(e *Encoder) { e.Size(1, 0) }, ErrArgument},
		{"size h 9", func(e *Encoder) { e.Size(1, 9) }, ErrArgument},
		{"underline 3", func(e *Encoder) { e.Underline(3) }, ErrArgument},
		{"underline -1", func(e *Encoder) { e.Underline(-1) }, ErrArgument},
		{"font 2", func(e *Encoder) { e.SetFont(2) }, ErrArgument},
		{"align 3", func(e *Encoder) { e.SetAlign(3) }, ErrArgument},
		{"feed 256", func(e *Encoder) { e.Feed(256) }, ErrArgument},
		{"feed -1", func(e *Encoder) { e.Feed(-1) }, ErrArgument},
		{"cut 256", func(e *Encoder) { e.Cut(true, 256) }, ErrArgument},
		{"drawer pin 2", func(e *Encoder) { e.Drawer(2, 100, 100) }, ErrArgument},
		{"drawer 511 ms", func(e *Encoder) { e.Drawer(0, 511, 100) }, ErrArgument},
		{"drawer negative", func(e *Encoder) { e.Drawer(0, 100, -1) }, ErrArgument},
		{"status 0", func(e *Encoder) { e.RequestStatus(0) }, ErrArgument},
		{"status 5", func(e *Encoder) { e.RequestStatus(5) }, ErrArgument},
		{"barcode height 0", func(e *Encoder) { e.Barcode(ITF, "12", 0, 2, HRINone) }, ErrArgument},
		{"barcode height 256", func(e *Encoder) { e.Barcode(ITF, "12", 256, 2, HRINone) }, ErrArgument},
		{"barcode width 1", func(e *Encoder) { e.Barcode(ITF, "12", 50, 1, HRINone) }, ErrArgument},
		{"barcode width 7", func(e *Encoder) { e.Barcode(ITF, "12", 50, 7, HRINone) }, ErrArgument},
		{"barcode hri 4", func(e *Encoder) { e.Barcode(ITF, "12", 50, 2, 4) }, ErrArgument},
		{"barcode kind", func(e *Encoder) { e.Barcode(65, "12", 50, 2, HRINone) }, ErrArgument},
		{"EAN13 letters", func(e *Encoder) { e.Barcode(EAN13, "59012341234a", 50, 2, HRINone) }, ErrData},
		{"EAN13 bad check", func(e *Encoder) { e.Barcode(EAN13, "5901234123458", 50, 2, HRINone) }, ErrData},
		{"EAN13 11 digits", func(e *Encoder) { e.Barcode(EAN13, "59012341234", 50, 2, HRINone) }, ErrData},
		{"EAN13 14 digits", func(e *Encoder) { e.Barcode(EAN13, "59012341234570", 50, 2, HRINone) }, ErrData},
		{"ITF odd", func(e *Encoder) { e.Barcode(ITF, "123", 50, 2, HRINone) }, ErrData},
		{"ITF empty", func(e *Encoder) { e.Barcode(ITF, "", 50, 2, HRINone) }, ErrData},
		{"ITF letters", func(e *Encoder) { e.Barcode(ITF, "12ab", 50, 2, HRINone) }, ErrData},
		{"ITF too long", func(e *Encoder) { e.Barcode(ITF, strings.Repeat("12", 128), 50, 2, HRINone) }, ErrData},
		{"CODE128 empty", func(e *Encoder) { e.Barcode(CODE128, "", 50, 2, HRINone) }, ErrData},
		{"CODE128 non-ASCII", func(e *Encoder) { e.Barcode(CODE128, "pão", 50, 2, HRINone) }, ErrData},
		{"CODE128 control", func(e *Encoder) { e.Barcode(CODE128, "a\x10\x04\x01", 50, 2, HRINone) }, ErrData},
		{"CODE128 too long", func(e *Encoder) { e.Barcode(CODE128, strings.Repeat("x", 254), 50, 2, HRINone) }, ErrData},
		{"QR too long bytes M", func(e *Encoder) { e.QR(strings.Repeat("a", 2332), 3, QRLevelM) }, ErrData},
		{"QR too long digits M", func(e *Encoder) { e.QR(strings.Repeat("7", 5597), 3, QRLevelM) }, ErrData},
		{"QR too long 7090", func(e *Encoder) { e.QR(strings.Repeat("7", 7090), 3, QRLevelL) }, ErrData},
		{"QR too long alnum H", func(e *Encoder) { e.QR(strings.Repeat("A", 1853), 3, QRLevelH) }, ErrData},
		{"QR empty", func(e *Encoder) { e.QR("", 3, QRLevelM) }, ErrData},
		{"QR realtime sequence", func(e *Encoder) { e.QR("ab\x10\x04\x02cd", 3, QRLevelM) }, ErrData},
		{"QR module 0", func(e *Encoder) { e.QR("abc", 0, QRLevelM) }, ErrArgument},
		{"QR module 17", func(e *Encoder) { e.QR("abc", 17, QRLevelM) }, ErrArgument},
		{"QR level 52", func(e *Encoder) { e.QR("abc", 3, 52) }, ErrArgument},
		{"QR level 0", func(e *Encoder) { e.QR("abc", 3, 0) }, ErrArgument},
		{"QRImage module 0", func(e *Encoder) { e.QRImage("abc", 0) }, ErrArgument},
		{"QRImage empty", func(e *Encoder) { e.QRImage("", 3) }, ErrData},
		{"QRImage too long", func(e *Encoder) { e.QRImage(strings.Repeat("a", 2332), 1) }, ErrData},
		{"Image nil", func(e *Encoder) { e.Image(nil, Raster, 576) }, ErrArgument},
		{"Image maxWidth 0", func(e *Encoder) { e.Image(solid(8, 8, 0), Raster, 0) }, ErrArgument},
		{"Image maxWidth 4096", func(e *Encoder) { e.Image(solid(8, 8, 0), Raster, 4096) }, ErrArgument},
		{"Image mode", func(e *Encoder) { e.Image(solid(8, 8, 0), 2, 576) }, ErrArgument},
		{"Image empty", func(e *Encoder) { e.Image(solid(0, 8, 0), Raster, 576) }, ErrArgument},
		{"Image column too wide", func(e *Encoder) { e.Image(solid(1024, 8, 0), Column, 2000) }, ErrData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := enc()
			e.Bold(true)
			before := e.Len()
			tt.do(e)
			if !errors.Is(e.Err(), tt.want) {
				t.Fatalf("Err = %v, want %v", e.Err(), tt.want)
			}
			if e.Len() != before {
				t.Errorf("failed call appended %d bytes", e.Len()-before)
			}
		})
	}
}

func TestQRCapacityEdges(t *testing.T) {
	for _, tt := range []struct {
		data  string
		level byte
	}{
		{strings.Repeat("a", 2331), QRLevelM},
		{strings.Repeat("a", 2953), QRLevelL},
		{strings.Repeat("7", 7089), QRLevelL},
		{strings.Repeat("7", 3057), QRLevelH},
		{strings.Repeat("A", 4296), QRLevelL},
	} {
		e := enc()
		e.QR(tt.data, 3, tt.level)
		if e.Err() != nil {
			t.Errorf("%d×%q level %c: %v", len(tt.data), tt.data[0], tt.level, e.Err())
		}
	}
}

func TestErrorIsStickyAndFirst(t *testing.T) {
	e := enc()
	e.Bold(true)
	e.Size(9, 9)
	first := e.Err()
	if !errors.Is(first, ErrArgument) || !strings.Contains(first.Error(), "Size") {
		t.Fatalf("Err = %v", first)
	}
	n := e.Len()
	e.Text("more")
	e.Underline(7)
	e.Init()
	e.Image(solid(8, 8, 0), Raster, 576)
	e.QR("abc", 3, QRLevelM)
	e.QRImage("abc", 3)
	e.Barcode(ITF, "12", 50, 2, HRINone)
	e.Raw([]byte{1, 2})
	if e.Len() != n {
		t.Errorf("calls after the error appended bytes")
	}
	if e.Err() != first {
		t.Errorf("Err changed to %v", e.Err())
	}
}

func TestUnknownCharset(t *testing.T) {
	e := NewEncoder(Table{Charset: "CP999"})
	if !errors.Is(e.Err(), ErrArgument) {
		t.Fatalf("Err = %v", e.Err())
	}
	e.Init()
	if e.Len() != 0 {
		t.Error("encoder with an unknown charset emitted bytes")
	}
	if got := EncodeText("CP999", "Ação €"); string(got) != "Acao EUR" {
		t.Errorf("EncodeText unknown charset = %q", got)
	}
}

func TestBytesClipped(t *testing.T) {
	e := enc()
	e.Text("ab")
	b := e.Bytes()
	_ = append(b, 'X')
	e.Text("c")
	if string(e.Bytes()) != "abc" {
		t.Errorf("Bytes = %q", e.Bytes())
	}
}

// No command but RequestStatus and Raw may carry a real-time sequence.
func TestNoRealtimeSequences(t *testing.T) {
	e := enc()
	e.Init()
	e.Size(2, 1) // GS ! 0x10
	e.Feed(16)
	e.Cut(true, 16)
	e.Drawer(0, 32, 8)
	e.Barcode(CODE128, "16041604", 16, 2, HRINone)
	e.Barcode(ITF, "1604", 16, 2, HRINone)
	e.Text("\x10\x04\x01 ►\u2194")
	e.QR("pix\x10\x05\x03ok", 4, QRLevelM) // n=3 is not a DLE ENQ
	e.Image(realtimeImage(), Raster, 576)
	e.Image(realtimeImage(), Column, 576)
	e.QRImage(strings.Repeat("\x10\x04\x01", 20), 1)
	if err := e.Err(); err != nil {
		t.Fatal(err)
	}
	b := e.Bytes()
	for i := range b {
		if realtimeAt(b, i) {
			t.Fatalf("real-time sequence at %d: % X", i, b[max(0, i-4):min(len(b), i+6)])
		}
	}
}
