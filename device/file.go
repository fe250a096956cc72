package device

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"syscall"
	"time"
)

// fileLink writes to a device file (/dev/usb/lp0, a parallel port, a FIFO, a plain file for
// tests). It cannot read: the printer's status is then unavailable, never invented.
//
// Write deadlines work where the OS can poll the file (character devices such as usblp, FIFOs);
// on a regular file they are accepted and ignored (such writes do not block for long).
type fileLink struct {
	f    *os.File
	info LinkInfo
}

func openFile(_ context.Context, ep Endpoint) (Link, error) {
	// Non-blocking open: a FIFO without a reader fails at once (ENXIO) instead of hanging, and
	// the poller can then give writes their deadlines.
	f, err := os.OpenFile(ep.Path, os.O_WRONLY|openNonblock, 0)
	if err != nil {
		return nil, newLinkError("open", ep.URI, fileErrKind(err), err)
	}
	if err := f.SetWriteDeadline(time.Time{}); errors.Is(err, os.ErrNoDeadline) {
		setBlocking(f) // not pollable: let writes block rather than fail with EAGAIN
	}
	return &fileLink{f: f, info: LinkInfo{URI: ep.URI, Kind: "file"}}, nil
}

// fileErrKind classifies an error from opening or writing a device file.
func fileErrKind(err error) error {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return os.ErrDeadlineExceeded
	case errors.Is(err, fs.ErrClosed):
		return nil // handled by the callers
	case errors.Is(err, fs.ErrNotExist), isErrno(err, goneErrnos...):
		return ErrNotFound
	case errors.Is(err, syscall.EBUSY):
		return ErrBusy
	case errors.Is(err, syscall.EPIPE):
		return io.ErrClosedPipe
	}
	return nil
}

func (l *fileLink) Read([]byte) (int, error) {
	return 0, newLinkError("read", l.info.URI, ErrUnsupported, errors.New("a device file is write-only: no status"))
}

func (l *fileLink) Write(p []byte) (int, error) {
	n, err := l.f.Write(p)
	if err != nil {
		if errors.Is(err, fs.ErrClosed) {
			return n, closedError("write", l.info.URI)
		}
		return n, newLinkError("write", l.info.URI, fileErrKind(err), err)
	}
	return n, nil
}

// SetReadDeadline is accepted and does nothing: Read is unsupported anyway.
func (l *fileLink) SetReadDeadline(time.Time) error { return nil }

func (l *fileLink) SetWriteDeadline(t time.Time) error {
	if err := l.f.SetWriteDeadline(t); err != nil && !errors.Is(err, os.ErrNoDeadline) {
		if errors.Is(err, fs.ErrClosed) {
			return closedError("set deadline", l.info.URI)
		}
		return err
	}
	return nil
}

func (l *fileLink) Close() error {
	if err := l.f.Close(); err != nil && !errors.Is(err, fs.ErrClosed) {
		return newLinkError("close", l.info.URI, nil, err)
	}
	return nil
}

func (l *fileLink) Info() LinkInfo { return l.info }
