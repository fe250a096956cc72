package escpos

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNotStatus is returned by the decoders for bytes that do not have the
// fixed bit pattern of the status asked for (a stray ASB byte, XON/XOFF,
// line noise).
var ErrNotStatus = errors.New("escpos: not a status of that kind")

// Status is one typed view of what the printer reports, whatever asked. A
// field is meaningful only when its Known bit is set: a field not reported
// is unknown, never "false".
type Status struct {
	Online            bool // not offline (offline: cover open, paper end, error, feeding)
	CoverOpen         bool
	PaperEnd          bool // roll paper end sensor: no paper
	PaperNearEnd      bool // roll paper near-end sensor: little paper left
	CutterError       bool // autocutter error
	Unrecoverable     bool // unrecoverable error (power cycle, service)
	AutoRecoverable   bool // automatically recoverable error (head temperature, voltage)
	FeedButton        bool // paper feed button pressed / paper being fed by it
	DrawerOpen        bool // drawer kick-out connector pin 3 high (polarity depends on the drawer)
	StoppedAtPaperEnd bool // printing stopped because of paper end
	Error             bool // an error occurred (any of the error causes)

	// Known has a bit per field actually reported (the Known… constants).
	Known uint16
}

// Known bits: one per Status field.
const (
	KnownOnline uint16 = 1 << iota
	KnownCover
	KnownPaperEnd
	KnownNearEnd
	KnownCutter
	KnownUnrecoverable
	KnownAutoRecoverable
	KnownDrawer
	KnownError
	KnownFeedButton
	KnownStopped // StoppedAtPaperEnd
)

// statusFields lists each field with its Known bit and name, in String order.
var statusFields = []struct {
	bit  uint16
	name string
	get  func(*Status) *bool
}{
	{KnownOnline, "online", func(s *Status) *bool { return &s.Online }},
	{KnownCover, "cover_open", func(s *Status) *bool { return &s.CoverOpen }},
	{KnownPaperEnd, "paper_end", func(s *Status) *bool { return &s.PaperEnd }},
	{KnownNearEnd, "paper_near_end", func(s *Status) *bool { return &s.PaperNearEnd }},
	{KnownStopped, "stopped_at_paper_end", func(s *Status) *bool { return &s.StoppedAtPaperEnd }},
	{KnownError, "error", func(s *Status) *bool { return &s.Error }},
	{KnownCutter, "cutter_error", func(s *Status) *bool { return &s.CutterError }},
	{KnownUnrecoverable, "unrecoverable", func(s *Status) *bool { return &s.Unrecoverable }},
	{KnownAutoRecoverable, "auto_recoverable", func(s *Status) *bool { return &s.AutoRecoverable }},
	{KnownFeedButton, "feed_button", func(s *Status) *bool { return &s.FeedButton }},
	{KnownDrawer, "drawer_open", func(s *Status) *bool { return &s.DrawerOpen }},
}

// Merge returns s updated with o: each field o knows overrides s's, the
// others keep s's value and Known bit.
func (s Status) Merge(o Status) Status {
	for _, f := range statusFields {
		if o.Known&f.bit != 0 {
			*f.get(&s) = *f.get(&o)
		}
	}
	s.Known |= o.Known
	return s
}

// bad is what Ready refuses when known and true.
const bad = KnownCover | KnownPaperEnd | KnownStopped | KnownError | KnownCutter |
	KnownUnrecoverable | KnownAutoRecoverable

// Ready reports whether the printer is known to be online and nothing bad is
// known: no cover open, paper end, stop at paper end, or error of any kind.
// An unknown Online is not ready; other unknown fields do not prevent it.
// Paper near end does not prevent it either.
func (s Status) Ready() bool {
	if s.Known&KnownOnline == 0 || !s.Online {
		return false
	}
	for _, f := range statusFields {
		if f.bit&bad != 0 && s.Known&f.bit != 0 && *f.get(&s) {
			return false
		}
	}
	return true
}

// String lists the known fields as name=value, in a fixed order, or
// "unknown" when none is.
func (s Status) String() string {
	var b strings.Builder
	for _, f := range statusFields {
		if s.Known&f.bit == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%t", f.name, *f.get(&s))
	}
	if b.Len() == 0 {
		return "unknown"
	}
	return b.String()
}

func bit(b byte, n uint) bool { return b&(1<<n) != 0 }

// DecodeDLEEOT decodes the one-byte answer b to DLE EOT n (n 1..4). Bytes not
// matching the fixed pattern 0xx1xx10 are an ErrNotStatus error (e.g. a stray
// ASB byte). Bits, per n (Epson):
//
//	n=1 printer status:  bit 2 drawer pin 3 high, bit 3 offline,
//	                     bit 6 feed button pressed (bit 5 waiting for online
//	                     recovery: not decoded)
//	n=2 offline cause:   bit 2 cover open, bit 3 paper being fed by the feed
//	                     button, bit 5 stopped at paper end, bit 6 error
//	n=3 error cause:     bit 2 recoverable (mechanical) error, bit 3 autocutter
//	                     error, bit 5 unrecoverable, bit 6 auto-recoverable;
//	                     Error is set to whether any of the four is
//	n=4 paper sensors:   bits 2,3 near end, bits 5,6 paper end (either bit of
//	                     a pair counts)
func DecodeDLEEOT(n int, b byte) (Status, error) {
	if n < 1 || n > 4 {
		return Status{}, fmt.Errorf("%w: DLE EOT n=%d: want 1..4", ErrArgument, n)
	}
	if b&0x93 != 0x12 {
		return Status{}, fmt.Errorf("%w: 0x%02X is not a DLE EOT answer (0xx1xx10)", ErrNotStatus, b)
	}
	var s Status
	switch n {
	case 1:
		s.Online = !bit(b, 3)
		s.DrawerOpen = bit(b, 2)
		s.FeedButton = bit(b, 6)
		s.Known = KnownOnline | KnownDrawer | KnownFeedButton
	case 2:
		s.CoverOpen = bit(b, 2)
		s.FeedButton = bit(b, 3)
		s.StoppedAtPaperEnd = bit(b, 5)
		s.Error = bit(b, 6)
		s.Known = KnownCover | KnownFeedButton | KnownStopped | KnownError
	case 3:
		s.CutterError = bit(b, 3)
		s.Unrecoverable = bit(b, 5)
		s.AutoRecoverable = bit(b, 6)
		s.Error = b&0x6C != 0
		s.Known = KnownCutter | KnownUnrecoverable | KnownAutoRecoverable | KnownError
	case 4:
		s.PaperNearEnd = b&0x0C != 0
		s.PaperEnd = b&0x60 != 0
		s.Known = KnownNearEnd | KnownPaperEnd
	}
	return s, nil
}

// DecodeASB decodes a 4-byte Automatic Status Back packet. The first byte
// has the pattern 0xx1xx00, the three others 0xx0xxxx; anything else is an
// ErrNotStatus error. Bits (Epson):
//
//	byte 1: bit 2 drawer pin 3 high, bit 3 offline, bit 5 cover open,
//	        bit 6 paper being fed by the feed button
//	byte 2: bit 2 recoverable (mechanical) error, bit 3 autocutter error,
//	        bit 5 unrecoverable, bit 6 auto-recoverable; Error is set to
//	        whether any of the four is
//	byte 3: bits 0,1 paper near end, bits 2,3 paper end
//	byte 4: reserved
func DecodeASB(p []byte) (Status, error) {
	if len(p) != 4 {
		return Status{}, fmt.Errorf("%w: ASB packet of %d bytes, want 4", ErrNotStatus, len(p))
	}
	if p[0]&0x93 != 0x10 {
		return Status{}, fmt.Errorf("%w: ASB first byte 0x%02X (want 0xx1xx00)", ErrNotStatus, p[0])
	}
	for i := 1; i < 4; i++ {
		if p[i]&0x90 != 0 {
			return Status{}, fmt.Errorf("%w: ASB byte %d is 0x%02X (want 0xx0xxxx)", ErrNotStatus, i+1, p[i])
		}
	}
	s := Status{
		DrawerOpen:      bit(p[0], 2),
		Online:          !bit(p[0], 3),
		CoverOpen:       bit(p[0], 5),
		FeedButton:      bit(p[0], 6),
		CutterError:     bit(p[1], 3),
		Unrecoverable:   bit(p[1], 5),
		AutoRecoverable: bit(p[1], 6),
		Error:           p[1]&0x6C != 0,
		PaperNearEnd:    p[2]&0x03 != 0,
		PaperEnd:        p[2]&0x0C != 0,
		Known: KnownDrawer | KnownOnline | KnownCover | KnownFeedButton |
			KnownCutter | KnownUnrecoverable | KnownAutoRecoverable | KnownError |
			KnownNearEnd | KnownPaperEnd,
	}
	return s, nil
}

// DecodeGSr1 decodes the answer to GS r 1 (paper sensor status): bits 0,1
// near end, bits 2,3 paper end; pattern 0xx0xxxx, else ErrNotStatus.
func DecodeGSr1(b byte) (Status, error) {
	if b&0x90 != 0 {
		return Status{}, fmt.Errorf("%w: 0x%02X is not a GS r 1 answer (0xx0xxxx)", ErrNotStatus, b)
	}
	return Status{
		PaperNearEnd: b&0x03 != 0,
		PaperEnd:     b&0x0C != 0,
		Known:        KnownNearEnd | KnownPaperEnd,
	}, nil
}
