package escpos

// FrameKind is what a Frame from the status channel is.
type FrameKind int

// Frame kinds.
const (
	// FrameASB is a 4-byte Automatic Status Back packet (DecodeASB).
	FrameASB FrameKind = iota
	// FrameByte is a one-byte answer: to DLE EOT when bit 4 is set
	// (0xx1xx10, DecodeDLEEOT), to GS r when it is clear (0xx0xxxx,
	// DecodeGSr1). Which n or which GS r it answers, only the asker knows.
	FrameByte
	// FrameXON is XON (0x11): a serial printer can take data again.
	FrameXON
	// FrameXOFF is XOFF (0x13): a serial printer's buffer is nearly full.
	FrameXOFF
	// FrameJunk is one byte that fits no pattern, or the first byte of an
	// ASB packet broken off by a byte that does not fit.
	FrameJunk
)

// String returns the kind's name.
func (k FrameKind) String() string {
	switch k {
	case FrameASB:
		return "ASB"
	case FrameByte:
		return "Byte"
	case FrameXON:
		return "XON"
	case FrameXOFF:
		return "XOFF"
	case FrameJunk:
		return "Junk"
	}
	return "FrameKind(?)"
}

// Frame is one unit of what the printer sent back. Bytes is the frame's own
// copy.
type Frame struct {
	Kind  FrameKind
	Bytes []byte
}

// Splitter separates what a printer sends back on its status channel: 4-byte
// ASB packets, one-byte answers, and XON/XOFF (flow control on serial lines).
// It tells them apart by their fixed bit patterns:
//
//	0xx1xx00  first byte of an ASB packet, then three bytes 0xx0xxxx
//	0xx1xx10  answer to DLE EOT
//	0xx0xxxx  answer to GS r (outside an ASB packet)
//	0x11 XON, 0x13 XOFF
//
// Anything else is junk. A GS r answer arriving right after a stray ASB first
// byte cannot be told from the packet's body; printers send ASB packets
// whole, so that takes line noise.
//
// Feed it chunks as they are read; a packet split across chunks is held
// until complete. It never panics. The zero value is ready to use; a
// Splitter is not safe for concurrent use.
type Splitter struct {
	pend [4]byte
	n    int
}

// Feed consumes p and returns the frames completed by it, in order. Every
// byte fed is either in exactly one returned frame or held (Pending).
func (s *Splitter) Feed(p []byte) []Frame {
	var out []Frame
	for _, b := range p {
		if s.n > 0 {
			if b&0x90 == 0 {
				s.pend[s.n] = b
				s.n++
				if s.n == 4 {
					out = append(out, Frame{FrameASB, append([]byte(nil), s.pend[:]...)})
					s.n = 0
				}
				continue
			}
			// Broken packet: its first byte is junk; the body bytes
			// already held all fit the GS r answer pattern.
			out = append(out, Frame{FrameJunk, []byte{s.pend[0]}})
			for _, c := range s.pend[1:s.n] {
				out = append(out, Frame{FrameByte, []byte{c}})
			}
			s.n = 0
		}
		switch {
		case b == 0x11:
			out = append(out, Frame{FrameXON, []byte{b}})
		case b == 0x13:
			out = append(out, Frame{FrameXOFF, []byte{b}})
		case b&0x93 == 0x10:
			s.pend[0] = b
			s.n = 1
		case b&0x93 == 0x12, b&0x90 == 0:
			out = append(out, Frame{FrameByte, []byte{b}})
		default:
			out = append(out, Frame{FrameJunk, []byte{b}})
		}
	}
	return out
}

// Pending returns how many bytes of an incomplete ASB packet are held.
func (s *Splitter) Pending() int { return s.n }

// Flush gives up on an incomplete ASB packet (say, after a read timeout) and
// returns its bytes as one FrameJunk frame, or nil when nothing is held.
func (s *Splitter) Flush() []Frame {
	if s.n == 0 {
		return nil
	}
	f := Frame{FrameJunk, append([]byte(nil), s.pend[:s.n]...)}
	s.n = 0
	return []Frame{f}
}
