//go:build linux

package device

import (
	"errors"
	"fmt"
	"os"
	"time"

	"go.bug.st/serial"
	"golang.org/x/sys/unix"
)

// On Linux a serial link holds a second descriptor of the tty, opened non-blocking before
// go.bug.st/serial opens (and TIOCEXCL-locks) the port. It serves three purposes:
//
//   - writes go through it as an *os.File in Go's poller, so write deadlines are real (no
//     goroutine, no blocking syscall) and Close ends a pending Write: a printer holding CTS low
//     cannot hang the service;
//   - flow=rtscts sets CRTSCTS in termios through it (termios is per tty, not per descriptor):
//     the kernel then obeys CTS and drives RTS, which go.bug.st/serial v1.8 cannot do;
//   - it holds an flock(LOCK_EX) so two links (or two totemd) never share a port, even as
//     root, which TIOCEXCL does not stop.

type ttyPre struct {
	fd   int
	path string
}

func preOpenTTY(ep Endpoint) (*ttyPre, error) {
	fd, err := unix.Open(ep.Path, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: ep.Path, Err: err}
	}
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("%s is locked by another program: %w", ep.Path, err)
	}
	return &ttyPre{fd: fd, path: ep.Path}, nil
}

func (p *ttyPre) abort() { unix.Close(p.fd) }

func (p *ttyPre) finish(_ serial.Port, ep Endpoint) (ttyWriter, error) {
	if ep.Flow == "rtscts" {
		t, err := unix.IoctlGetTermios(p.fd, unix.TCGETS)
		if err == nil {
			t.Cflag |= unix.CRTSCTS
			err = unix.IoctlSetTermios(p.fd, unix.TCSETS, t)
		}
		if err != nil {
			unix.Close(p.fd)
			return nil, fmt.Errorf("enabling RTS/CTS flow control: %w", err)
		}
	}
	f := os.NewFile(uintptr(p.fd), p.path) // non-blocking: joins the poller
	if err := f.SetWriteDeadline(time.Time{}); errors.Is(err, os.ErrNoDeadline) {
		setBlocking(f) // a tty the poller refuses: writes block, deadlines cannot apply
	}
	return f, nil
}
