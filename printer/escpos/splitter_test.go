package escpos

import (
	"reflect"
	"testing"
)

func fr(k FrameKind, b ...byte) Frame { return Frame{k, b} }

var splitStream = []struct {
	in   []byte
	want []Frame
}{
	{h(0x10, 0x00, 0x00, 0x00), []Frame{fr(FrameASB, 0x10, 0x00, 0x00, 0x00)}},
	{h(0x12), []Frame{fr(FrameByte, 0x12)}}, // DLE EOT answer
	{h(0x11), []Frame{fr(FrameXON, 0x11)}},
	{h(0x38, 0x00, 0x0C, 0x00), []Frame{fr(FrameASB, 0x38, 0x00, 0x0C, 0x00)}},
	{h(0x0C), []Frame{fr(FrameByte, 0x0C)}}, // GS r 1 answer: paper end
	{h(0x13), []Frame{fr(FrameXOFF, 0x13)}},
	{h(0xFF), []Frame{fr(FrameJunk, 0xFF)}},
	{h(0x16), []Frame{fr(FrameByte, 0x16)}},
	{h(0x14, 0x08, 0x03, 0x00), []Frame{fr(FrameASB, 0x14, 0x08, 0x03, 0x00)}},
	{h(0x11), []Frame{fr(FrameXON, 0x11)}},
	{h(0x00), []Frame{fr(FrameByte, 0x00)}},
	{h(0x10, 0x00, 0x00, 0x00), []Frame{fr(FrameASB, 0x10, 0x00, 0x00, 0x00)}},
}

func streamBytes() ([]byte, []Frame) {
	var in []byte
	var want []Frame
	for _, p := range splitStream {
		in = append(in, p.in...)
		want = append(want, p.want...)
	}
	return in, want
}

func feedChunks(s *Splitter, in []byte, cuts ...int) []Frame {
	var out []Frame
	prev := 0
	for _, c := range append(cuts, len(in)) {
		out = append(out, s.Feed(in[prev:c])...)
		prev = c
	}
	return out
}

func TestSplitterWhole(t *testing.T) {
	in, want := streamBytes()
	var s Splitter
	if got := s.Feed(in); !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
	if s.Pending() != 0 {
		t.Errorf("Pending = %d", s.Pending())
	}
}

func TestSplitterEveryOffset(t *testing.T) {
	in, want := streamBytes()
	for i := 0; i <= len(in); i++ {
		for j := i; j <= len(in); j++ {
			var s Splitter
			if got := feedChunks(&s, in, i, j); !reflect.DeepEqual(got, want) {
				t.Fatalf("cuts %d,%d:\n got  %v\nwant %v", i, j, got, want)
			}
		}
	}
	var s Splitter
	var got []Frame
	for i := range in {
		got = append(got, s.Feed(in[i:i+1])...)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("byte by byte:\n got  %v\nwant %v", got, want)
	}
}

func TestSplitterBrokenPackets(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want []Frame
	}{
		{"header then junk", h(0x10, 0x00, 0xFF),
			[]Frame{fr(FrameJunk, 0x10), fr(FrameByte, 0x00), fr(FrameJunk, 0xFF)}},
		{"header then answer", h(0x10, 0x00, 0x12),
			[]Frame{fr(FrameJunk, 0x10), fr(FrameByte, 0x00), fr(FrameByte, 0x12)}},
		{"header then header", h(0x10, 0x18, 0x00, 0x00, 0x00),
			[]Frame{fr(FrameJunk, 0x10), fr(FrameASB, 0x18, 0x00, 0x00, 0x00)}},
		{"header then XON", h(0x10, 0x11, 0x00),
			[]Frame{fr(FrameJunk, 0x10), fr(FrameXON, 0x11), fr(FrameByte, 0x00)}},
		{"junk kinds", h(0x80, 0x15, 0x31, 0x93),
			[]Frame{fr(FrameJunk, 0x80), fr(FrameJunk, 0x15), fr(FrameJunk, 0x31), fr(FrameJunk, 0x93)}},
	}
	for _, tt := range tests {
		for cut := 0; cut <= len(tt.in); cut++ {
			var s Splitter
			if got := feedChunks(&s, tt.in, cut); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%s cut %d:\n got  %v\nwant %v", tt.name, cut, got, tt.want)
			}
		}
	}
}

func TestSplitterPendingFlush(t *testing.T) {
	var s Splitter
	if f := s.Feed(h(0x12, 0x10, 0x00)); len(f) != 1 || s.Pending() != 2 {
		t.Fatalf("frames %v pending %d", f, s.Pending())
	}
	if f := s.Flush(); !reflect.DeepEqual(f, []Frame{fr(FrameJunk, 0x10, 0x00)}) || s.Pending() != 0 {
		t.Fatalf("Flush = %v, pending %d", f, s.Pending())
	}
	if f := s.Flush(); f != nil {
		t.Fatalf("second Flush = %v", f)
	}
	if f := s.Feed(h(0x10, 0, 0, 0)); len(f) != 1 || f[0].Kind != FrameASB {
		t.Fatalf("after Flush: %v", f)
	}
}

func TestSplitterFramesOwnBytes(t *testing.T) {
	in := h(0x10, 0, 0, 0, 0x12)
	var s Splitter
	f := s.Feed(in)
	in[0], in[4] = 0xEE, 0xEE
	if f[0].Bytes[0] != 0x10 || f[1].Bytes[0] != 0x12 {
		t.Fatal("frames alias the input")
	}
}

func TestFrameKindString(t *testing.T) {
	for k, want := range map[FrameKind]string{FrameASB: "ASB", FrameByte: "Byte", FrameXON: "XON",
		FrameXOFF: "XOFF", FrameJunk: "Junk", 99: "FrameKind(?)"} {
		if k.String() != want {
			t.Errorf("%d: %q", k, k.String())
		}
	}
}
