// Package profile describes printer models: paper width in dots and columns, which code pages
// sit in which slots, whether QR codes and raster images are native, how status is read, and
// presenter commands of kiosk printers. Hand-written profiles cover the models totemd is
// deployed with; any model of the escpos-printer-db data (data/capabilities.json, CC BY 4.0,
// see data/NOTICE.md) can be used by its name too.
package profile

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/totemd/totemd/printer/escpos"
)

// Profile is what totemd needs to know of a printer model.
type Profile struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	WidthMM     int    `json:"width_mm"`  // 58 or 80
	Dots        int    `json:"dots"`      // printable dots per line: 384 (58 mm), 576 (80 mm), 512 on some
	Columns     int    `json:"columns"`   // font A characters per line
	ColumnsB    int    `json:"columns_b"` // font B characters per line
	// Tables maps the code pages totemd can encode to the slot number (n of ESC t n) of this model.
	Tables map[escpos.Charset]byte `json:"tables"`
	// Star selects tables with ESC GS t (Star Micronics) instead of ESC t.
	Star bool `json:"star,omitempty"`
	// NativeQR: GS ( k; otherwise QR codes go as raster images.
	NativeQR bool `json:"native_qr"`
	// Raster: GS v 0; otherwise images go as ESC * column bands.
	Raster bool `json:"raster"`
	// Barcodes: GS k function B.
	Barcodes bool `json:"barcodes"`
	// PartialCut: GS V 66; otherwise a full cut.
	PartialCut bool `json:"partial_cut"`
	// Status is how status is read: "escpos" (DLE EOT 1-4, GS r 1 after the cut), or "none"
	// (write-only: status is reported as unavailable, never invented).
	Status string `json:"status"`
	// Presenter commands of kiosk printers (nil when the model has none).
	Present []byte `json:"present,omitempty"` // after the cut: hand the ticket to the customer
	Retract []byte `json:"retract,omitempty"` // pull back a ticket nobody took
	Eject   []byte `json:"eject,omitempty"`   // clear the paper path
	// FeedBeforeCut is how many lines to feed so the last line clears the cutter.
	FeedBeforeCut int `json:"feed_before_cut"`
}

// Charset returns the table totemd uses on this model: the first it has of CP860 (Portuguese),
// CP850, CP858, WPC1252, then CP437 (accents transliterated).
func (p Profile) Charset() escpos.Table {
	for _, c := range []escpos.Charset{escpos.CP860, escpos.CP850, escpos.CP858, escpos.WPC1252, escpos.CP437} {
		if n, ok := p.Tables[c]; ok {
			return escpos.Table{Charset: c, Slot: n, Star: p.Star}
		}
	}
	return escpos.Table{Charset: escpos.CP437, Slot: 0, Star: p.Star}
}

// epson is the Epson code-page numbering, which most ESC/POS printers follow.
var epson = map[escpos.Charset]byte{escpos.CP437: 0, escpos.CP850: 2, escpos.CP860: 3, escpos.WPC1252: 16, escpos.CP858: 19}

func sized(mm int) (dots, cols, colsB int) {
	if mm == 58 {
		return 384, 32, 42
	}
	return 576, 48, 64
}

func builtin() map[string]Profile {
	mk := func(name, desc string, mm int, tables map[escpos.Charset]byte) Profile {
		d, c, cb := sized(mm)
		return Profile{Name: name, Description: desc, WidthMM: mm, Dots: d, Columns: c, ColumnsB: cb, Tables: tables,
			NativeQR: true, Raster: true, Barcodes: true, PartialCut: true, Status: "escpos", FeedBeforeCut: 4}
	}
	ps := []Profile{
		mk("generic-80", "Generic ESC/POS 80 mm (Epson-compatible)", 80, epson),
		mk("generic-58", "Generic ESC/POS 58 mm (Epson-compatible)", 58, epson),
		mk("epson-tm-t20", "Epson TM-T20 / TM-T20II / TM-T20III, 80 mm", 80, epson),
		mk("epson-tm-t88", "Epson TM-T88V / TM-T88VI, 80 mm", 80, epson),
		// MP-4200 TH in ESC/POS mode: ships on CP850 (slot 2); its CP860 slot differs between
		// ESC/Bema (4) and ESC/POS firmware, so only CP850 is trusted.
		mk("bematech-mp4200th", "Bematech MP-4200 TH in ESC/POS mode, 80 mm", 80, map[escpos.Charset]byte{escpos.CP437: 0, escpos.CP850: 2}),
		mk("elgin-i9", "Elgin i9, 80 mm (ESC/POS)", 80, map[escpos.Charset]byte{escpos.CP437: 0, escpos.CP850: 2, escpos.CP860: 3, escpos.WPC1252: 16}),
	}
	vkp := mk("custom-vkp80", "Custom VKP80 / VKP80III kiosk printer with presenter, 80 mm", 80, epson)
	// Ejector commands (GS e n): 3 m presents the ticket m steps of 7 mm (cutting it first);
	// 2 retracts it (when retraction is enabled in the printer's setup); 5 ejects it.
	vkp.Present = []byte{0x1d, 0x65, 0x03, 0x0c}
	vkp.Retract = []byte{0x1d, 0x65, 0x02}
	vkp.Eject = []byte{0x1d, 0x65, 0x05}
	vkp.FeedBeforeCut = 2
	ps = append(ps, vkp)
	out := map[string]Profile{}
	for _, p := range ps {
		out[p.Name] = p
	}
	return out
}

//go:embed data/capabilities.json
var capabilitiesJSON []byte

type capDB struct {
	Profiles map[string]struct {
		Name      string            `json:"name"`
		Vendor    string            `json:"vendor"`
		CodePages map[string]string `json:"codePages"`
		Features  map[string]bool   `json:"features"`
		Fonts     map[string]struct {
			Columns int `json:"columns"`
		} `json:"fonts"`
		Media struct {
			Width struct {
				MM     any `json:"mm"`
				Pixels any `json:"pixels"`
			} `json:"width"`
		} `json:"media"`
	} `json:"profiles"`
}

var (
	dbOnce sync.Once
	db     map[string]Profile
	dbErr  error
)

// fromDB builds profiles from escpos-printer-db.
func fromDB() (map[string]Profile, error) {
	dbOnce.Do(func() {
		var raw capDB
		if dbErr = json.Unmarshal(capabilitiesJSON, &raw); dbErr != nil {
			return
		}
		names := map[string]escpos.Charset{"CP437": escpos.CP437, "CP850": escpos.CP850, "CP860": escpos.CP860, "CP858": escpos.CP858, "CP1252": escpos.WPC1252}
		db = map[string]Profile{}
		for id, r := range raw.Profiles {
			p := Profile{Name: id, Description: strings.TrimSpace(r.Vendor + " " + r.Name + " (escpos-printer-db)"),
				Tables: map[escpos.Charset]byte{}, NativeQR: r.Features["qrCode"], Raster: r.Features["bitImageRaster"],
				Barcodes: r.Features["barcodeB"], PartialCut: r.Features["paperPartCut"], Star: r.Features["starCommands"],
				Status: "escpos", FeedBeforeCut: 4}
			// Slots in ascending order, the lowest kept when a table appears twice: the same
			// profile always selects the same slot.
			slots := make([]int, 0, len(r.CodePages))
			for slot := range r.CodePages {
				if n, err := strconv.Atoi(slot); err == nil && n >= 0 && n < 256 {
					slots = append(slots, n)
				}
			}
			sort.Ints(slots)
			for _, n := range slots {
				if cs, ok := names[r.CodePages[strconv.Itoa(n)]]; ok {
					if _, seen := p.Tables[cs]; !seen {
						p.Tables[cs] = byte(n)
					}
				}
			}
			mm, _ := r.Media.Width.MM.(float64)
			px, _ := r.Media.Width.Pixels.(float64)
			p.WidthMM, p.Dots = int(mm), int(px)
			if p.WidthMM == 0 {
				p.WidthMM = 80
			}
			if p.Dots == 0 {
				p.Dots, _, _ = sized(p.WidthMM)
			}
			// Columns follow the dots (font A 12 dots wide, font B 9), whatever the millimetres say.
			p.Columns, p.ColumnsB = p.Dots/12, p.Dots/9
			if f, ok := r.Fonts["0"]; ok && f.Columns > 0 {
				p.Columns = f.Columns
			}
			if f, ok := r.Fonts["1"]; ok && f.Columns > 0 {
				p.ColumnsB = f.Columns
			}
			db[id] = p
		}
	})
	return db, dbErr
}

// Get returns a profile by name: a hand-written one, or a model of escpos-printer-db.
func Get(name string) (Profile, error) {
	if p, ok := builtin()[name]; ok {
		return p, nil
	}
	all, err := fromDB()
	if err != nil {
		return Profile{}, fmt.Errorf("printer profiles data: %w", err)
	}
	if p, ok := all[name]; ok {
		return p, nil
	}
	return Profile{}, fmt.Errorf("no printer profile %q; use one of: %s", name, strings.Join(Names(), ", "))
}

// Names lists every profile: the hand-written ones first, then escpos-printer-db's models.
func Names() []string {
	var b []string
	for n := range builtin() {
		b = append(b, n)
	}
	sort.Strings(b)
	all, _ := fromDB()
	var d []string
	for n := range all {
		if !slices.Contains(b, n) {
			d = append(d, n)
		}
	}
	sort.Strings(d)
	return append(b, d...)
}
