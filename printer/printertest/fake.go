// Package printertest is a fake ESC/POS printer for tests and the demo: it reads what the
// printer service sends over a real link (a pty, a TCP socket, a pipe), answers real-time status
// requests (DLE EOT n) at once and GS r 1 when its buffer reaches it, runs out of paper or opens
// its cover on demand (also in the middle of a job), and keeps every job it printed, split at
// the cuts, for rendering with printer/virtual.
package printertest

import (
	"errors"
	"io"
	"sync"
	"time"
)

// Fake is a printer's behaviour. Safe for concurrent use.
type Fake struct {
	mu        sync.Mutex
	paperOut  bool
	nearEnd   bool
	coverOpen bool
	silent    bool          // answers nothing (switched off, or a printer without status)
	slow      time.Duration // each answer waits this long (a busy printer, a slow line)
	paperLeft int           // data bytes until the paper ends; <0: unlimited
	jobs      [][]byte
	cur       []byte
	changed   chan struct{}
}

// New returns a ready printer with unlimited paper.
func New() *Fake { return &Fake{paperLeft: -1, changed: make(chan struct{})} }

func (f *Fake) set(fn func()) {
	f.mu.Lock()
	fn()
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
}

// PaperOut empties (true) or refills (false) the paper.
func (f *Fake) PaperOut(out bool) {
	f.set(func() {
		f.paperOut = out
		if !out {
			f.paperLeft = -1
		}
	})
}

// NearEnd sets the near-end sensor.
func (f *Fake) NearEnd(on bool) { f.set(func() { f.nearEnd = on }) }

// CoverOpen opens or closes the cover.
func (f *Fake) CoverOpen(open bool) { f.set(func() { f.coverOpen = open }) }

// Silent makes the printer answer nothing (switched off).
func (f *Fake) Silent(on bool) { f.set(func() { f.silent = on }) }

// Slow makes every status answer wait d (0: answer at once).
func (f *Fake) Slow(d time.Duration) { f.set(func() { f.slow = d }) }

// PaperLeft makes the paper end after n more data bytes (a roll ending in the middle of a job).
func (f *Fake) PaperLeft(n int) { f.set(func() { f.paperLeft = n }) }

// Jobs returns the jobs printed so far (bytes up to and including each cut).
func (f *Fake) Jobs() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([][]byte, len(f.jobs))
	for i, j := range f.jobs {
		out[i] = append([]byte(nil), j...)
	}
	return out
}

// Changed returns a channel closed at the next change of state or job.
func (f *Fake) Changed() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}

// Serve reads commands from rw until it fails, answering on rw. Status requests are not data:
// they are not kept in the jobs.
func (f *Fake) Serve(rw io.ReadWriter) error {
	p := &parser{}
	buf := make([]byte, 4096)
	for {
		n, err := rw.Read(buf)
		if n > 0 {
			for _, ev := range p.feed(buf[:n]) {
				if ans, ok := f.handle(ev); ok {
					f.mu.Lock()
					slow := f.slow
					f.mu.Unlock()
					time.Sleep(slow)
					if _, werr := rw.Write([]byte{ans}); werr != nil {
						return werr
					}
				}
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// handle applies one parsed event; it returns the byte to answer, if any.
func (f *Fake) handle(ev event) (byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch ev.kind {
	case evDLEEOT:
		if f.silent {
			return 0, false
		}
		return f.dleEOT(ev.n), true
	case evGSr:
		// Answered when the buffer reaches it: not when the paper ran out before.
		if f.silent || f.paperOut || f.coverOpen {
			return 0, false
		}
		b := byte(0)
		if f.nearEnd {
			b |= 0x03
		}
		return b, true
	case evData:
		if f.paperOut || f.coverOpen || f.silent {
			return 0, false // the printer stopped: nothing more prints
		}
		data := ev.data
		if f.paperLeft >= 0 {
			if len(data) > f.paperLeft {
				data = data[:f.paperLeft]
				f.paperOut = true
			}
			f.paperLeft -= len(data)
		}
		f.cur = append(f.cur, data...)
		if ev.cut && !f.paperOut {
			f.jobs = append(f.jobs, f.cur)
			f.cur = nil
		}
		close(f.changed)
		f.changed = make(chan struct{})
	}
	return 0, false
}

// dleEOT builds the answer to DLE EOT n (pattern 0xx1xx10).
func (f *Fake) dleEOT(n int) byte {
	b := byte(0x12)
	switch n {
	case 1:
		if f.paperOut || f.coverOpen {
			b |= 0x08 // offline
		}
	case 2:
		if f.coverOpen {
			b |= 0x04
		}
		if f.paperOut {
			b |= 0x20 // stopped by paper end
		}
		if f.paperOut || f.coverOpen {
			b |= 0x40 // error
		}
	case 4:
		if f.nearEnd || f.paperOut {
			b |= 0x0c
		}
		if f.paperOut {
			b |= 0x60
		}
	}
	return b
}

type evKind int

const (
	evData evKind = iota
	evDLEEOT
	evGSr
)

type event struct {
	kind evKind
	n    int
	data []byte
	cut  bool
}

// parser finds status requests and cuts in the byte stream, skipping counted data blocks so
// that bytes inside images and QR data are never taken for commands.
type parser struct {
	pending []byte
}

func (p *parser) feed(in []byte) []event {
	p.pending = append(p.pending, in...)
	var evs []event
	var data []byte
	flush := func(cut bool) {
		if len(data) > 0 || cut {
			evs = append(evs, event{kind: evData, data: data, cut: cut})
			data = nil
		}
	}
	b := p.pending
	i := 0
	for i < len(b) {
		n := cmdLen(b[i:])
		if n == 0 {
			break // incomplete: wait for more
		}
		c := b[i : i+n]
		switch {
		case len(c) == 3 && c[0] == 0x10 && c[1] == 0x04:
			flush(false)
			evs = append(evs, event{kind: evDLEEOT, n: int(c[2])})
		case len(c) == 3 && c[0] == 0x1d && c[1] == 0x72:
			flush(false)
			evs = append(evs, event{kind: evGSr, n: int(c[2])})
		case c[0] == 0x1d && c[1] == 0x56:
			data = append(data, c...)
			flush(true)
		default:
			data = append(data, c...)
		}
		i += n
	}
	flush(false)
	p.pending = append(p.pending[:0], b[i:]...)
	return evs
}

// cmdLen is the length of the command (or text byte) at the start of b, 0 if incomplete.
func cmdLen(b []byte) int {
	need := func(n int) int {
		if len(b) < n {
			return 0
		}
		return n
	}
	switch b[0] {
	case 0x10: // DLE
		if len(b) < 2 {
			return 0
		}
		if b[1] == 0x04 || b[1] == 0x05 {
			return need(3)
		}
		return 1
	case 0x1b: // ESC
		if len(b) < 2 {
			return 0
		}
		switch b[1] {
		case '@', '2':
			return 2
		case '*':
			if len(b) < 5 {
				return 0
			}
			w := int(b[3]) + int(b[4])*256
			if b[2] >= 32 {
				w *= 3
			}
			return need(5 + w)
		case 'p':
			return need(5)
		case 'c':
			return need(4)
		default:
			return need(3)
		}
	case 0x1d: // GS
		if len(b) < 2 {
			return 0
		}
		switch b[1] {
		case 'v':
			if len(b) < 8 {
				return 0
			}
			return need(8 + (int(b[4])+int(b[5])*256)*(int(b[6])+int(b[7])*256))
		case '(':
			if len(b) < 5 {
				return 0
			}
			return need(5 + int(b[3]) + int(b[4])*256)
		case 'k':
			if len(b) < 4 {
				return 0
			}
			if b[2] >= 65 {
				return need(4 + int(b[3]))
			}
			for j := 3; j < len(b); j++ {
				if b[j] == 0 {
					return j + 1
				}
			}
			return 0
		case 'V':
			if len(b) < 3 {
				return 0
			}
			if b[2] == 65 || b[2] == 66 {
				return need(4)
			}
			return 3
		case 'e':
			if len(b) < 3 {
				return 0
			}
			switch b[2] {
			case 3:
				return need(4)
			case 32:
				return need(5)
			}
			return 3
		default:
			return need(3)
		}
	}
	return 1
}
