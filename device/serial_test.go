//go:build linux

package device

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// socatPair is a pair of connected ptys made by socat: what is written on one side is read on
// the other, like a null-modem cable. Killing socat is pulling the cable.
type socatPair struct {
	t    *testing.T
	a, b string
	cmd  *exec.Cmd
	done chan struct{}
}

func startSocat(t *testing.T, dir string) *socatPair {
	t.Helper()
	if _, err := exec.LookPath("socat"); err != nil {
		t.Fatal("socat is not installed: make test installs it (scripts/deps.sh), or apt-get install socat")
	}
	p := &socatPair{t: t, a: filepath.Join(dir, "a"), b: filepath.Join(dir, "b"), done: make(chan struct{})}
	p.cmd = exec.Command("socat", "-d", "-d", "pty,raw,echo=0,link="+p.a, "pty,raw,echo=0,link="+p.b)
	stderr := new(syncBuffer)
	p.cmd.Stderr = stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(p.stop)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, errA := os.Stat(p.a)
		_, errB := os.Stat(p.b)
		if errA == nil && errB == nil {
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("socat ended: %s", stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("socat made no ptys in 5s: %s", stderr.String())
		}
	}
}

// syncBuffer is a bytes.Buffer safe for socat's stderr copier and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// stop ends socat (unplug) and waits for it.
func (p *socatPair) stop() {
	if p.cmd.Process != nil {
		select {
		case <-p.done:
			return
		default:
		}
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(3 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
	}
}

func TestSerialPty(t *testing.T) {
	dir := t.TempDir()
	p := startSocat(t, dir)
	a := mustOpen(t, "serial://"+p.a+"?baud=115200")
	b := mustOpen(t, "serial://"+p.b+"?baud=115200&flow=xonxoff")

	t.Run("info", func(t *testing.T) {
		want := LinkInfo{URI: "serial://" + p.a + "?baud=115200", Kind: "serial", CanRead: true, BaudRate: 115200, Flow: "none"}
		if got := a.Info(); got != want {
			t.Errorf("Info() = %+v, want %+v", got, want)
		}
		if got := b.Info().Flow; got != "xonxoff" {
			t.Errorf("Flow = %q", got)
		}
	})
	t.Run("both directions", func(t *testing.T) {
		for _, dir := range []struct {
			name     string
			from, to Link
			data     []byte
		}{
			{"a to b", a, b, []byte("\x1b@ESC/POS ticket\n\x1dV\x00")},
			{"b to a", b, a, []byte{0x10, 0x04, 0x01, 0x13, 0x11, 0x00, 0xff}}, // status bytes, XOFF/XON pass through
		} {
			dir.from.SetWriteDeadline(time.Now().Add(2 * time.Second))
			if n, err := dir.from.Write(dir.data); err != nil || n != len(dir.data) {
				t.Fatalf("%s: Write = %d, %v", dir.name, n, err)
			}
			expectRead(t, dir.to, dir.data)
		}
	})
	t.Run("read deadline", func(t *testing.T) {
		for _, d := range []time.Duration{150 * time.Millisecond, 0, -time.Second} {
			a.SetReadDeadline(time.Now().Add(d))
			start := time.Now()
			n, err := a.Read(make([]byte, 16))
			el := time.Since(start)
			if n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("deadline %v: Read = %d, %v; want 0, a deadline error", d, n, err)
			}
			if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
				t.Errorf("deadline error %v is not a net.Error with Timeout()", err)
			}
			if el < d || el > max(d, 0)+slack {
				t.Errorf("deadline %v: Read returned after %v", d, el)
			}
		}
		// A deadline moved while a Read is pending applies to it.
		a.SetReadDeadline(time.Time{})
		res := make(chan error, 1)
		go func() { _, err := a.Read(make([]byte, 16)); res <- err }()
		time.Sleep(50 * time.Millisecond)
		a.SetReadDeadline(time.Now())
		select {
		case err := <-res:
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("pending Read: %v", err)
			}
		case <-time.After(time.Second):
			t.Fatal("a deadline set during a Read did not end it")
		}
		// Data is read again once the deadline is cleared.
		a.SetReadDeadline(time.Time{})
		b.Write([]byte("ok"))
		expectRead(t, a, []byte("ok"))
	})
	t.Run("write deadline", func(t *testing.T) {
		// Nobody reads b: the ptys and socat fill up, then the write blocks until the deadline.
		a.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
		start := time.Now()
		n, err := a.Write(make([]byte, 4<<20))
		if !errors.Is(err, os.ErrDeadlineExceeded) || n >= 4<<20 {
			t.Fatalf("Write = %d, %v; want a deadline error", n, err)
		}
		if el := time.Since(start); el > 300*time.Millisecond+slack {
			t.Errorf("Write returned after %v", el)
		}
		a.SetWriteDeadline(time.Time{})
	})
	t.Run("busy", func(t *testing.T) {
		_, err := Open(context.Background(), "serial://"+p.a)
		if !errors.Is(err, ErrBusy) {
			t.Fatalf("second Open of %s: %v, want ErrBusy", p.a, err)
		}
	})
	t.Run("unplug", func(t *testing.T) {
		a.SetReadDeadline(time.Time{})
		res := make(chan error, 1)
		go func() {
			for { // drain what the write deadline test left, then fail
				if _, err := a.Read(make([]byte, 4096)); err != nil {
					res <- err
					return
				}
			}
		}()
		p.stop()
		select {
		case err := <-res:
			if !errors.Is(err, ErrNotFound) || !Disconnected(err) {
				t.Fatalf("Read after unplug: %v, want ErrNotFound", err)
			}
			t.Logf("read after unplug: %v", err)
		case <-time.After(3 * time.Second):
			t.Fatal("Read did not fail after unplug")
		}
		a.SetWriteDeadline(time.Now().Add(time.Second))
		_, err := a.Write([]byte("x"))
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("Write after unplug: %v, want ErrNotFound", err)
		}
		t.Logf("write after unplug: %v", err)
		if err := a.Close(); err != nil {
			t.Errorf("Close after unplug: %v", err)
		}
		if _, err := a.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Write after Close: %v, want net.ErrClosed", err)
		}
		b.Close()
		// Unplugged: opening fails with ErrNotFound.
		if _, err := Open(context.Background(), "serial://"+p.a); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Open while unplugged: %v, want ErrNotFound", err)
		}
	})
	t.Run("reconnect", func(t *testing.T) {
		p := startSocat(t, dir) // plugged in again: same names
		a := mustOpen(t, "serial://"+p.a+"?baud=9600&flow=rtscts")
		b := mustOpen(t, "serial://"+p.b+"?baud=9600")
		if _, err := a.Write([]byte("again")); err != nil {
			t.Fatal(err)
		}
		expectRead(t, b, []byte("again"))
		if _, err := b.Write([]byte{0x12}); err != nil {
			t.Fatal(err)
		}
		expectRead(t, a, []byte{0x12})
		// flow=rtscts is in the tty's termios.
		tio, err := unix.IoctlGetTermios(int(a.(*serialLink).w.(*os.File).Fd()), unix.TCGETS)
		if err != nil || tio.Cflag&unix.CRTSCTS == 0 {
			t.Errorf("CRTSCTS not set (termios %+v, %v)", tio, err)
		}
	})
}

func TestSerialClosePendingRead(t *testing.T) {
	p := startSocat(t, t.TempDir())
	a := mustOpen(t, "serial://"+p.a)
	res := make(chan error, 1)
	go func() { _, err := a.Read(make([]byte, 8)); res <- err }()
	time.Sleep(50 * time.Millisecond)
	a.Close()
	select {
	case err := <-res:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("pending Read after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(time.Second):
		t.Fatal("Close did not end a pending Read")
	}
}

func TestSerialOpenErrors(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "regular")
	os.WriteFile(regular, nil, 0o600)
	for _, tc := range []struct {
		uri  string
		want error
	}{
		{"serial://" + filepath.Join(dir, "ttyUSB9"), ErrNotFound},
		{"serial:///dev/ttyUSB99", ErrNotFound},
	} {
		_, err := Open(context.Background(), tc.uri)
		if !errors.Is(err, tc.want) {
			t.Errorf("Open(%s) = %v, want %v", tc.uri, err, tc.want)
		}
	}
	// A regular file is not a serial port: an error, and not ErrNotFound.
	if _, err := Open(context.Background(), "serial://"+regular); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("Open of a regular file: %v", err)
	}
}
