//go:build unix

package device

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A FIFO stands for a character device such as /dev/usb/lp0: pollable, so write deadlines work.
func TestFileFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "lp0")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	uri := "file://" + fifo
	// No reader: like a device that is not there.
	if _, err := Open(context.Background(), uri); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Open of a FIFO without a reader: %v, want ErrNotFound", err)
	}
	r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	l := mustOpen(t, uri)
	if l.Info().CanRead {
		t.Error("CanRead on a device file")
	}
	want := []byte("\x1b@\x1bt\x03Olá\n\x1dV\x41\x00")
	if _, err := l.Write(want); err != nil {
		t.Fatal(err)
	}
	r.SetReadDeadline(time.Now().Add(2 * time.Second))
	got := make([]byte, len(want))
	if _, err := io.ReadFull(r, got); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("reader got %q, %v", got, err)
	}
	// Nobody reads: the pipe fills and the write ends at its deadline.
	l.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
	start := time.Now()
	n, err := l.Write(make([]byte, 1<<20))
	if !errors.Is(err, os.ErrDeadlineExceeded) || n >= 1<<20 {
		t.Fatalf("Write = %d, %v; want a deadline error", n, err)
	}
	if el := time.Since(start); el > 200*time.Millisecond+slack {
		t.Errorf("Write returned after %v", el)
	}
	// The reader goes away (printer unplugged): EPIPE.
	r.Close()
	l.SetWriteDeadline(time.Time{})
	_, err = l.Write([]byte("x"))
	if !errors.Is(err, io.ErrClosedPipe) || !Disconnected(err) {
		t.Fatalf("Write without a reader: %v, want io.ErrClosedPipe", err)
	}
}
