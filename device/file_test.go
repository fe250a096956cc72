package device

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestFileRegular(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lp0")
	if err := os.WriteFile(path, []byte("old "), 0o600); err != nil {
		t.Fatal(err)
	}
	l := mustOpen(t, "file://"+path)
	if got, want := l.Info(), (LinkInfo{URI: "file://" + path, Kind: "file"}); got != want {
		t.Errorf("Info() = %+v, want %+v", got, want)
	}
	// Deadlines are accepted (and ignored on a regular file).
	if err := l.SetWriteDeadline(time.Now().Add(time.Second)); err != nil {
		t.Errorf("SetWriteDeadline: %v", err)
	}
	if err := l.SetReadDeadline(time.Now().Add(time.Second)); err != nil {
		t.Errorf("SetReadDeadline: %v", err)
	}
	for _, s := range []string{"\x1b@", "ticket\n"} {
		if n, err := l.Write([]byte(s)); err != nil || n != len(s) {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	n, err := l.Read(make([]byte, 4))
	if n != 0 || !errors.Is(err, ErrUnsupported) || Disconnected(err) {
		t.Errorf("Read = %d, %v; want ErrUnsupported", n, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write after Close: %v, want net.ErrClosed", err)
	}
	got, _ := os.ReadFile(path)
	if string(got) != "\x1b@ticket\n" { // O_WRONLY, not O_APPEND: written from the start
		t.Errorf("file holds %q", got)
	}
	if _, err := Open(context.Background(), "file://"+filepath.Join(t.TempDir(), "usb", "lp9")); !errors.Is(err, ErrNotFound) {
		t.Errorf("Open of a missing file: %v, want ErrNotFound", err)
	}
}
