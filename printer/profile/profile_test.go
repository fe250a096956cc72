package profile_test

import (
	"bytes"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/totemd/totemd/printer/escpos"
	"github.com/totemd/totemd/printer/profile"
	"github.com/totemd/totemd/printer/ticket"
)

// handWritten are the profiles written for the models totemd is deployed with.
var handWritten = []string{"generic-80", "generic-58", "epson-tm-t20", "epson-tm-t88", "bematech-mp4200th", "elgin-i9", "custom-vkp80"}

func TestHandWrittenProfiles(t *testing.T) {
	cp860 := escpos.Table{Charset: escpos.CP860, Slot: 3}
	cases := []struct {
		name    string
		mm      int
		charset escpos.Table
	}{
		{"generic-80", 80, cp860},
		{"generic-58", 58, cp860},
		{"epson-tm-t20", 80, cp860},
		{"epson-tm-t88", 80, cp860},
		// ESC/POS firmware of the MP-4200 TH: only CP850 (slot 2) is trusted.
		{"bematech-mp4200th", 80, escpos.Table{Charset: escpos.CP850, Slot: 2}},
		{"elgin-i9", 80, cp860},
		{"custom-vkp80", 80, cp860},
	}
	if len(cases) != len(handWritten) {
		t.Fatalf("table covers %d profiles, want %d", len(cases), len(handWritten))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := profile.Get(c.name)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			wantDots, wantCols, wantColsB := 576, 48, 64
			if c.mm == 58 {
				wantDots, wantCols, wantColsB = 384, 32, 42
			}
			if p.Name != c.name || p.WidthMM != c.mm || p.Dots != wantDots || p.Columns != wantCols || p.ColumnsB != wantColsB {
				t.Errorf("name %q %d mm, %d dots, %d/%d columns; want %q %d mm, %d dots, %d/%d columns",
					p.Name, p.WidthMM, p.Dots, p.Columns, p.ColumnsB, c.name, c.mm, wantDots, wantCols, wantColsB)
			}
			// Font A is 12 dots wide, font B 9: the columns must fit the line.
			if p.Columns*12 > p.Dots || p.ColumnsB*9 > p.Dots {
				t.Errorf("%d/%d columns do not fit %d dots", p.Columns, p.ColumnsB, p.Dots)
			}
			if p.Status != "escpos" {
				t.Errorf("status %q, want escpos", p.Status)
			}
			if p.Description == "" || p.FeedBeforeCut <= 0 || p.Star {
				t.Errorf("description %q, feed before cut %d, star %v", p.Description, p.FeedBeforeCut, p.Star)
			}
			if !p.NativeQR || !p.Raster || !p.Barcodes {
				t.Errorf("native QR %v, raster %v, barcodes %v: all ESC/POS models here have them", p.NativeQR, p.Raster, p.Barcodes)
			}
			if got := p.Charset(); got != c.charset {
				t.Errorf("Charset() = %+v, want %+v", got, c.charset)
			}
			if c.name != "custom-vkp80" && (p.Present != nil || p.Retract != nil || p.Eject != nil) {
				t.Errorf("presenter commands on a model without presenter: % X / % X / % X", p.Present, p.Retract, p.Eject)
			}
		})
	}
}

func TestCustomVKP80Presenter(t *testing.T) {
	p, err := profile.Get("custom-vkp80")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what      string
		got, want []byte
	}{
		{"present", p.Present, []byte{0x1d, 0x65, 0x03, 0x0c}},
		{"retract", p.Retract, []byte{0x1d, 0x65, 0x02}},
		{"eject", p.Eject, []byte{0x1d, 0x65, 0x05}},
	} {
		if !bytes.Equal(c.got, c.want) {
			t.Errorf("%s = % X, want % X", c.what, c.got, c.want)
		}
	}
	// The layouts hand the ticket to the customer after the cut.
	page, err := ticket.TestPage(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(page, p.Present) {
		t.Errorf("test page does not end with the present command: ...% X", page[max(0, len(page)-8):])
	}
}

// TestCharsetPreference: CP860 when the model has it, else CP850, CP858, WPC1252, CP437.
func TestCharsetPreference(t *testing.T) {
	cases := []struct {
		tables map[escpos.Charset]byte
		star   bool
		want   escpos.Table
	}{
		{map[escpos.Charset]byte{escpos.CP437: 0, escpos.CP850: 2, escpos.CP860: 3}, false, escpos.Table{Charset: escpos.CP860, Slot: 3}},
		{map[escpos.Charset]byte{escpos.CP437: 0, escpos.CP850: 2}, false, escpos.Table{Charset: escpos.CP850, Slot: 2}},
		{map[escpos.Charset]byte{escpos.CP858: 19, escpos.WPC1252: 16}, false, escpos.Table{Charset: escpos.CP858, Slot: 19}},
		{map[escpos.Charset]byte{escpos.WPC1252: 16, escpos.CP437: 0}, false, escpos.Table{Charset: escpos.WPC1252, Slot: 16}},
		{map[escpos.Charset]byte{escpos.CP437: 1}, false, escpos.Table{Charset: escpos.CP437, Slot: 1}},
		{nil, true, escpos.Table{Charset: escpos.CP437, Slot: 0, Star: true}},
		{map[escpos.Charset]byte{escpos.CP860: 6}, true, escpos.Table{Charset: escpos.CP860, Slot: 6, Star: true}},
	}
	for i, c := range cases {
		p := profile.Profile{Tables: c.tables, Star: c.star}
		if got := p.Charset(); got != c.want {
			t.Errorf("case %d: Charset() = %+v, want %+v", i, got, c.want)
		}
	}
}

// TestDatabaseModels: models of escpos-printer-db are usable by their names.
func TestDatabaseModels(t *testing.T) {
	cases := []struct {
		name          string
		dots, columns int
		columnsB      int
		charset       escpos.Table
		nativeQR      bool
		partialCut    bool
		barcodes      bool
	}{
		{"TM-T88IV", 512, 42, 56, escpos.Table{Charset: escpos.CP860, Slot: 3}, true, true, true},
		{"TM-T20II", 576, 48, 64, escpos.Table{Charset: escpos.CP860, Slot: 3}, true, true, true},
		// Star Line mode: CP860 is slot 6, selected with ESC GS t.
		{"TSP600", 576, 42, 56, escpos.Table{Charset: escpos.CP860, Slot: 6, Star: true}, true, true, true},
		// No media width in the data: an 80 mm default; no QR, no partial cut, no barcodes.
		{"simple", 576, 42, 56, escpos.Table{Charset: escpos.CP437, Slot: 0}, false, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := profile.Get(c.name)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if p.Name != c.name || p.Dots != c.dots || p.Columns != c.columns || p.ColumnsB != c.columnsB {
				t.Errorf("%q: %d dots, %d/%d columns; want %d dots, %d/%d columns", p.Name, p.Dots, p.Columns, p.ColumnsB, c.dots, c.columns, c.columnsB)
			}
			if got := p.Charset(); got != c.charset {
				t.Errorf("Charset() = %+v, want %+v", got, c.charset)
			}
			if p.Star != c.charset.Star {
				t.Errorf("Star = %v", p.Star)
			}
			if p.NativeQR != c.nativeQR || p.PartialCut != c.partialCut || p.Barcodes != c.barcodes {
				t.Errorf("native QR %v, partial cut %v, barcodes %v; want %v %v %v", p.NativeQR, p.PartialCut, p.Barcodes, c.nativeQR, c.partialCut, c.barcodes)
			}
			if p.Status != "escpos" || !strings.Contains(p.Description, "escpos-printer-db") {
				t.Errorf("status %q, description %q", p.Status, p.Description)
			}
			if p.WidthMM < 58 || p.WidthMM > 80 {
				t.Errorf("width %d mm", p.WidthMM)
			}
		})
	}
	// A model without native QR still gets its QR codes, as raster images.
	simple, _ := profile.Get("simple")
	page, err := ticket.TestPage(simple)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(page, []byte{0x1d, 0x28, 0x6b}) {
		t.Error(`"simple" got GS ( k (native QR)`)
	}
	if !bytes.Contains(page, []byte{0x1d, 0x76, 0x30}) {
		t.Error(`"simple": no raster image (the QR code)`)
	}
}

func TestGetUnknownListsNames(t *testing.T) {
	_, err := profile.Get("epson-tm-t1000")
	if err == nil {
		t.Fatal("Get of an unknown model succeeded")
	}
	msg := err.Error()
	for _, want := range append([]string{`"epson-tm-t1000"`, "TM-T88IV", "TSP600"}, handWritten...) {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %s: %s", want, msg)
		}
	}
}

func TestNames(t *testing.T) {
	names := profile.Names()
	if len(names) <= len(handWritten) {
		t.Fatalf("only %d names: %v", len(names), names)
	}
	// The hand-written ones first (in name order), then the database's.
	first := slices.Clone(names[:len(handWritten)])
	want := slices.Clone(handWritten)
	sort.Strings(want)
	if !slices.Equal(first, want) {
		t.Errorf("first names %v, want the hand-written %v", first, want)
	}
	rest := names[len(handWritten):]
	if !sort.StringsAreSorted(rest) {
		t.Errorf("database names not sorted: %v", rest)
	}
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			t.Errorf("%q listed twice", n)
		}
		seen[n] = true
		p, err := profile.Get(n)
		if err != nil {
			t.Errorf("listed %q: %v", n, err)
			continue
		}
		if p.Name != n || p.Dots < 72 || p.Columns <= 0 || p.ColumnsB <= 0 || p.Status != "escpos" {
			t.Errorf("%q: name %q, %d dots, %d/%d columns, status %q", n, p.Name, p.Dots, p.Columns, p.ColumnsB, p.Status)
		}
	}
	for _, n := range []string{"TM-T88IV", "TM-T20II", "TSP600", "simple"} {
		if !seen[n] {
			t.Errorf("%s not listed", n)
		}
	}
}
