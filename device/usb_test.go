package device

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// fakeUSB is a printer interface: what is written is kept, status packets are queued on in.
type fakeUSB struct {
	mu      sync.Mutex
	written bytes.Buffer
	stall   bool // writes wait for their context (a printer that stopped taking data)
	in      chan []byte
	gone    chan struct{} // closed: unplugged
	packet  int
	noIn    bool
	closes  int
	active  int // transfers in progress
}

var errFakeCancelled = errors.New("transfer was cancelled") // what gousb returns on a cancelled context

func newFakeUSB() *fakeUSB {
	return &fakeUSB{in: make(chan []byte, 8), gone: make(chan struct{}), packet: 64}
}

func (f *fakeUSB) enter() func() {
	f.mu.Lock()
	f.active++
	f.mu.Unlock()
	return func() { f.mu.Lock(); f.active--; f.mu.Unlock() }
}

func (f *fakeUSB) Write(ctx context.Context, p []byte) (int, error) {
	defer f.enter()()
	select {
	case <-f.gone:
		return 0, goneError{errors.New("libusb: no device [code -4]")}
	default:
	}
	f.mu.Lock()
	stall := f.stall
	f.mu.Unlock()
	if stall {
		select {
		case <-ctx.Done():
			return 0, errFakeCancelled
		case <-f.gone:
			return 0, goneError{errors.New("device was disconnected")}
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.written.Write(p)
}

func (f *fakeUSB) Read(ctx context.Context, p []byte) (int, error) {
	defer f.enter()()
	if len(p)%f.packet != 0 {
		return 0, fmt.Errorf("buffer of %d bytes is not a multiple of the packet size: overflow", len(p))
	}
	select {
	case b := <-f.in:
		return copy(p, b), nil
	case <-ctx.Done():
		return 0, errFakeCancelled
	case <-f.gone:
		return 0, goneError{errors.New("device was disconnected")}
	}
}

func (f *fakeUSB) CanRead() bool   { return !f.noIn }
func (f *fakeUSB) PacketSize() int { return f.packet }

func (f *fakeUSB) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.active != 0 {
		return fmt.Errorf("closed with %d transfers in progress", f.active)
	}
	f.closes++
	return nil
}

func TestUSBLink(t *testing.T) {
	const uri = "usb://04b8:0e15"
	t.Run("write and status", func(t *testing.T) {
		f := newFakeUSB()
		l := newUSBLink(uri, f)
		defer l.Close()
		if got, want := l.Info(), (LinkInfo{URI: uri, Kind: "usb", CanRead: true}); got != want {
			t.Errorf("Info() = %+v, want %+v", got, want)
		}
		l.SetWriteDeadline(time.Now().Add(time.Second))
		if n, err := l.Write([]byte{0x10, 0x04, 0x04}); n != 3 || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
		if got := f.written.Bytes(); !bytes.Equal(got, []byte{0x10, 0x04, 0x04}) {
			t.Errorf("device got % x", got)
		}
		// A one-byte buffer still reads whole packets: the rest waits for the next Read.
		f.in <- []byte{0x12, 0x10, 0x00, 0x0f}
		l.SetReadDeadline(time.Now().Add(time.Second))
		var got []byte
		for range 4 {
			b := make([]byte, 1)
			n, err := l.Read(b)
			if n != 1 || err != nil {
				t.Fatalf("Read = %d, %v", n, err)
			}
			got = append(got, b...)
		}
		if !bytes.Equal(got, []byte{0x12, 0x10, 0x00, 0x0f}) {
			t.Errorf("read % x", got)
		}
		// A buffer of whole packets is used as is.
		f.in <- []byte{0x16}
		if n, err := l.Read(make([]byte, 128)); n != 1 || err != nil {
			t.Errorf("Read = %d, %v", n, err)
		}
	})
	t.Run("deadlines", func(t *testing.T) {
		f := newFakeUSB()
		l := newUSBLink(uri, f)
		defer l.Close()
		for _, d := range []time.Duration{100 * time.Millisecond, -time.Second} {
			l.SetReadDeadline(time.Now().Add(d))
			start := time.Now()
			n, err := l.Read(make([]byte, 8))
			if n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) || Disconnected(err) {
				t.Fatalf("Read = %d, %v; want a deadline error", n, err)
			}
			if el := time.Since(start); el > max(d, 0)+slack {
				t.Errorf("Read returned after %v", el)
			}
		}
		f.stall = true
		l.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		if _, err := l.Write([]byte("ticket")); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Write to a stalled printer: %v, want a deadline error", err)
		}
	})
	t.Run("unplug", func(t *testing.T) {
		f := newFakeUSB()
		l := newUSBLink(uri, f)
		res := make(chan error, 1)
		go func() { _, err := l.Read(make([]byte, 64)); res <- err }()
		time.Sleep(20 * time.Millisecond)
		close(f.gone)
		if err := <-res; !errors.Is(err, ErrNotFound) || !Disconnected(err) {
			t.Fatalf("Read after unplug: %v, want ErrNotFound", err)
		}
		_, err := l.Write([]byte("x"))
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("Write after unplug: %v, want ErrNotFound", err)
		}
		t.Logf("write after unplug: %v", err)
		if err := l.Close(); err != nil || f.closes != 1 {
			t.Fatalf("Close = %v, device closed %d times", err, f.closes)
		}
	})
	t.Run("close ends pending transfers", func(t *testing.T) {
		f := newFakeUSB()
		f.stall = true
		l := newUSBLink(uri, f)
		res := make(chan error, 2)
		go func() { _, err := l.Read(make([]byte, 64)); res <- err }()
		go func() { _, err := l.Write([]byte("x")); res <- err }()
		time.Sleep(20 * time.Millisecond)
		if err := l.Close(); err != nil { // the fake fails Close while a transfer is in progress
			t.Fatal(err)
		}
		for range 2 {
			if err := <-res; !errors.Is(err, net.ErrClosed) || Disconnected(err) {
				t.Errorf("pending transfer after Close: %v, want net.ErrClosed", err)
			}
		}
		if _, err := l.Read(make([]byte, 64)); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Read after Close: %v", err)
		}
		if err := l.Close(); err != nil || f.closes != 1 {
			t.Errorf("second Close = %v, device closed %d times", err, f.closes)
		}
	})
	t.Run("no IN endpoint", func(t *testing.T) {
		f := newFakeUSB()
		f.noIn = true
		l := newUSBLink(uri, f)
		defer l.Close()
		if l.Info().CanRead {
			t.Error("CanRead without an IN endpoint")
		}
		if _, err := l.Read(make([]byte, 64)); !errors.Is(err, ErrUnsupported) {
			t.Errorf("Read = %v, want ErrUnsupported", err)
		}
	})
}
