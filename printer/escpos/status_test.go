package escpos

import (
	"errors"
	"testing"
)

// Every bit of every DLE EOT answer: the fixed bits (0 off, 1 on, 4 on,
// 7 off) break the pattern when flipped; the others set one field.
func TestDecodeDLEEOTBits(t *testing.T) {
	type want struct {
		err bool
		s   Status
	}
	k1 := KnownOnline | KnownDrawer | KnownFeedButton
	k2 := KnownCover | KnownFeedButton | KnownStopped | KnownError
	k3 := KnownCutter | KnownUnrecoverable | KnownAutoRecoverable | KnownError
	k4 := KnownNearEnd | KnownPaperEnd
	fixed := want{err: true}
	tests := map[int][8]want{
		1: {fixed, fixed,
			{s: Status{Online: true, DrawerOpen: true, Known: k1}},
			{s: Status{Online: false, Known: k1}},
			fixed,
			{s: Status{Online: true, Known: k1}}, // waiting for online recovery: not decoded
			{s: Status{Online: true, FeedButton: true, Known: k1}},
			fixed},
		2: {fixed, fixed,
			{s: Status{CoverOpen: true, Known: k2}},
			{s: Status{FeedButton: true, Known: k2}},
			fixed,
			{s: Status{StoppedAtPaperEnd: true, Known: k2}},
			{s: Status{Error: true, Known: k2}},
			fixed},
		3: {fixed, fixed,
			{s: Status{Error: true, Known: k3}}, // recoverable (mechanical) error
			{s: Status{CutterError: true, Error: true, Known: k3}},
			fixed,
			{s: Status{Unrecoverable: true, Error: true, Known: k3}},
			{s: Status{AutoRecoverable: true, Error: true, Known: k3}},
			fixed},
		4: {fixed, fixed,
			{s: Status{PaperNearEnd: true, Known: k4}},
			{s: Status{PaperNearEnd: true, Known: k4}},
			fixed,
			{s: Status{PaperEnd: true, Known: k4}},
			{s: Status{PaperEnd: true, Known: k4}},
			fixed},
	}
	for n, bits := range tests {
		base, err := DecodeDLEEOT(n, 0x12)
		if err != nil {
			t.Fatalf("n=%d 0x12: %v", n, err)
		}
		if base.Known == 0 || base.Merge(Status{}).Known != base.Known {
			t.Fatalf("n=%d: Known = %#x", n, base.Known)
		}
		for i, w := range bits {
			b := byte(0x12) ^ 1<<i
			got, err := DecodeDLEEOT(n, b)
			if w.err {
				if !errors.Is(err, ErrNotStatus) {
					t.Errorf("n=%d bit %d (0x%02X): err = %v, want ErrNotStatus", n, i, b, err)
				}
				continue
			}
			if err != nil || got != w.s {
				t.Errorf("n=%d bit %d (0x%02X): %v %v, want %v", n, i, b, got, err, w.s)
			}
		}
	}
	// The usual whole bytes.
	for _, tt := range []struct {
		n    int
		b    byte
		want Status
	}{
		{1, 0x16, Status{Online: true, DrawerOpen: true, Known: k1}},
		{1, 0x1E, Status{DrawerOpen: true, Known: k1}},
		{2, 0x32, Status{StoppedAtPaperEnd: true, Known: k2}},
		{2, 0x36, Status{CoverOpen: true, StoppedAtPaperEnd: true, Known: k2}},
		{3, 0x1A, Status{CutterError: true, Error: true, Known: k3}},
		{4, 0x1E, Status{PaperNearEnd: true, Known: k4}},
		{4, 0x72, Status{PaperEnd: true, Known: k4}},
		{4, 0x7E, Status{PaperNearEnd: true, PaperEnd: true, Known: k4}},
	} {
		got, err := DecodeDLEEOT(tt.n, tt.b)
		if err != nil || got != tt.want {
			t.Errorf("n=%d 0x%02X: %v %v, want %v", tt.n, tt.b, got, err, tt.want)
		}
	}
}

func TestDecodeDLEEOTRefusals(t *testing.T) {
	for _, b := range []byte{0x00, 0xFF, 0x10, 0x11, 0x13, 0x02, 0x92, 0x0C} {
		for n := 1; n <= 4; n++ {
			if _, err := DecodeDLEEOT(n, b); !errors.Is(err, ErrNotStatus) {
				t.Errorf("n=%d 0x%02X: err = %v", n, b, err)
			}
		}
	}
	for _, n := range []int{0, 5, -1, 256} {
		if _, err := DecodeDLEEOT(n, 0x12); !errors.Is(err, ErrArgument) {
			t.Errorf("n=%d: err = %v", n, err)
		}
	}
}

func TestDecodeASB(t *testing.T) {
	all := KnownDrawer | KnownOnline | KnownCover | KnownFeedButton | KnownCutter |
		KnownUnrecoverable | KnownAutoRecoverable | KnownError | KnownNearEnd | KnownPaperEnd
	tests := []struct {
		name string
		p    []byte
		want Status
	}{
		{"all fine", h(0x10, 0, 0, 0), Status{Online: true, Known: all}},
		{"cover open offline", h(0x38, 0, 0, 0), Status{CoverOpen: true, Known: all}},
		{"drawer", h(0x14, 0, 0, 0), Status{Online: true, DrawerOpen: true, Known: all}},
		{"feed button", h(0x58, 0, 0, 0), Status{FeedButton: true, Known: all}},
		{"near end", h(0x10, 0, 0x03, 0), Status{Online: true, PaperNearEnd: true, Known: all}},
		{"paper end", h(0x18, 0, 0x0F, 0), Status{PaperNearEnd: true, PaperEnd: true, Known: all}},
		{"cutter", h(0x18, 0x08, 0, 0), Status{CutterError: true, Error: true, Known: all}},
		{"unrecoverable", h(0x18, 0x20, 0, 0), Status{Unrecoverable: true, Error: true, Known: all}},
		{"auto-recoverable", h(0x18, 0x40, 0, 0), Status{AutoRecoverable: true, Error: true, Known: all}},
		{"recoverable", h(0x18, 0x04, 0, 0), Status{Error: true, Known: all}},
		{"reserved bits ignored", h(0x10, 0x03, 0x60, 0x6F), Status{Online: true, Known: all}},
	}
	for _, tt := range tests {
		got, err := DecodeASB(tt.p)
		if err != nil || got != tt.want {
			t.Errorf("%s % X: %v %v, want %v", tt.name, tt.p, got, err, tt.want)
		}
	}
	for _, p := range [][]byte{
		nil, h(0x10), h(0x10, 0, 0), h(0x10, 0, 0, 0, 0),
		h(0x12, 0, 0, 0), h(0x00, 0, 0, 0), h(0x90, 0, 0, 0), h(0x11, 0, 0, 0), h(0x13, 0, 0, 0),
		h(0x10, 0x10, 0, 0), h(0x10, 0, 0x80, 0), h(0x10, 0, 0, 0x10),
	} {
		if _, err := DecodeASB(p); !errors.Is(err, ErrNotStatus) {
			t.Errorf("% X: err = %v", p, err)
		}
	}
}

func TestDecodeGSr1(t *testing.T) {
	k := KnownNearEnd | KnownPaperEnd
	for _, tt := range []struct {
		b    byte
		want Status
	}{
		{0x00, Status{Known: k}},
		{0x01, Status{PaperNearEnd: true, Known: k}},
		{0x03, Status{PaperNearEnd: true, Known: k}},
		{0x04, Status{PaperEnd: true, Known: k}},
		{0x0C, Status{PaperEnd: true, Known: k}},
		{0x0F, Status{PaperNearEnd: true, PaperEnd: true, Known: k}},
		{0x60, Status{Known: k}},
	} {
		got, err := DecodeGSr1(tt.b)
		if err != nil || got != tt.want {
			t.Errorf("0x%02X: %v %v, want %v", tt.b, got, err, tt.want)
		}
	}
	for _, b := range []byte{0x10, 0x12, 0x80, 0xFF, 0x11, 0x13} {
		if _, err := DecodeGSr1(b); !errors.Is(err, ErrNotStatus) {
			t.Errorf("0x%02X: err = %v", b, err)
		}
	}
}

func TestMergeKnown(t *testing.T) {
	online, _ := DecodeDLEEOT(1, 0x12)
	cover, _ := DecodeDLEEOT(2, 0x16)
	s := online.Merge(cover)
	if !s.Online || !s.CoverOpen || s.Known != online.Known|cover.Known {
		t.Fatalf("merged %v", s)
	}
	// An unknown field never overrides.
	s = s.Merge(Status{Online: false, CoverOpen: false, Known: KnownPaperEnd})
	if !s.Online || !s.CoverOpen || s.Known&KnownPaperEnd == 0 || s.PaperEnd {
		t.Fatalf("unknown fields overrode: %v", s)
	}
	// A known field does.
	closed, _ := DecodeDLEEOT(2, 0x12)
	if s = s.Merge(closed); s.CoverOpen {
		t.Fatalf("cover still open: %v", s)
	}
	// Every field is carried by Merge.
	full := Status{Online: true, CoverOpen: true, PaperEnd: true, PaperNearEnd: true, CutterError: true,
		Unrecoverable: true, AutoRecoverable: true, FeedButton: true, DrawerOpen: true,
		StoppedAtPaperEnd: true, Error: true, Known: 1<<11 - 1}
	if got := (Status{}).Merge(full); got != full {
		t.Fatalf("Merge lost fields: %v", got)
	}
	if got := full.Merge(Status{Known: 1<<11 - 1}); got != (Status{Known: 1<<11 - 1}) {
		t.Fatalf("Merge kept fields: %v", got)
	}
}

func TestReady(t *testing.T) {
	on := Status{Online: true, Known: KnownOnline}
	tests := []struct {
		name string
		s    Status
		want bool
	}{
		{"nothing known", Status{}, false},
		{"online unknown, nothing bad", Status{Known: KnownCover}, false},
		{"online", on, true},
		{"offline", Status{Known: KnownOnline}, false},
		{"online but Online not known", Status{Online: true}, false},
		{"cover open", on.Merge(Status{CoverOpen: true, Known: KnownCover}), false},
		{"cover open but unknown", Status{Online: true, CoverOpen: true, Known: KnownOnline}, true},
		{"paper end", on.Merge(Status{PaperEnd: true, Known: KnownPaperEnd}), false},
		{"near end is fine", on.Merge(Status{PaperNearEnd: true, Known: KnownNearEnd}), true},
		{"error", on.Merge(Status{Error: true, Known: KnownError}), false},
		{"cutter", on.Merge(Status{CutterError: true, Known: KnownCutter}), false},
		{"unrecoverable", on.Merge(Status{Unrecoverable: true, Known: KnownUnrecoverable}), false},
		{"auto-recoverable", on.Merge(Status{AutoRecoverable: true, Known: KnownAutoRecoverable}), false},
		{"stopped", on.Merge(Status{StoppedAtPaperEnd: true, Known: KnownStopped}), false},
		{"drawer open is fine", on.Merge(Status{DrawerOpen: true, Known: KnownDrawer}), true},
	}
	for _, tt := range tests {
		if got := tt.s.Ready(); got != tt.want {
			t.Errorf("%s: Ready(%v) = %v", tt.name, tt.s, got)
		}
	}
	// A healthy printer polled with all four DLE EOT.
	var s Status
	for n := 1; n <= 4; n++ {
		d, err := DecodeDLEEOT(n, 0x12)
		if err != nil {
			t.Fatal(err)
		}
		s = s.Merge(d)
	}
	if !s.Ready() {
		t.Errorf("healthy printer not ready: %v", s)
	}
}

func TestStatusString(t *testing.T) {
	if got := (Status{}).String(); got != "unknown" {
		t.Errorf("zero = %q", got)
	}
	s := Status{Online: true, PaperNearEnd: true, Known: KnownOnline | KnownNearEnd}
	if got, want := s.String(), "online=true paper_near_end=true"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
}
