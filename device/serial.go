package device

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.bug.st/serial"
)

// serialLink is a serial port opened with go.bug.st/serial.
//
// Reads use the library's Read with SetReadTimeout, computed from the read deadline in slices
// of at most readSlice, so a deadline set while a Read is pending takes effect within a slice,
// and Close ends a pending Read at once (the library wakes it).
//
// Writes and flow control are platform-specific (see ttyWriter in serial_linux.go and
// serial_other.go): go.bug.st/serial v1.8 has no write timeout and no flow control in its Mode
// (its open even clears CRTSCTS).
type serialLink struct {
	port serial.Port
	w    ttyWriter
	info LinkInfo

	rmu       sync.Mutex   // one Read at a time: SetReadTimeout is per port
	rdl       atomic.Int64 // read deadline, UnixNano; 0 = none
	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// readSlice bounds each wait of the library's Read, so that a new read deadline or Close is
// noticed by a pending Read.
const readSlice = 100 * time.Millisecond

// ttyWriter is the platform's half of a serial link: writes with deadlines, flow control.
type ttyWriter interface {
	Write(p []byte) (int, error) // errors are mapped by the link
	SetWriteDeadline(t time.Time) error
	Close() error
}

func openSerial(ctx context.Context, ep Endpoint) (Link, error) {
	mode := &serial.Mode{BaudRate: ep.Baud, DataBits: ep.DataBits, StopBits: serial.OneStopBit}
	if ep.StopBits == 2 {
		mode.StopBits = serial.TwoStopBits
	}
	switch ep.Parity {
	case "even":
		mode.Parity = serial.EvenParity
	case "odd":
		mode.Parity = serial.OddParity
	}
	l := &serialLink{info: LinkInfo{URI: ep.URI, Kind: "serial", CanRead: true, BaudRate: ep.Baud, Flow: ep.Flow}}
	pre, err := preOpenTTY(ep)
	if err != nil {
		return nil, serialOpenError(ep.URI, err)
	}
	port, err := serial.Open(ep.Path, mode)
	if err != nil {
		pre.abort()
		return nil, serialOpenError(ep.URI, err)
	}
	l.port = port
	if l.w, err = pre.finish(port, ep); err != nil {
		port.Close()
		return nil, serialOpenError(ep.URI, err)
	}
	if err := ctx.Err(); err != nil {
		l.Close()
		return nil, newLinkError("open", ep.URI, err, nil)
	}
	return l, nil
}

func serialOpenError(uri string, err error) error {
	var kind error
	var pe *serial.PortError
	switch {
	case errors.As(err, &pe):
		switch pe.Code() {
		case serial.PortBusy:
			kind = ErrBusy
		case serial.PortNotFound:
			kind = ErrNotFound
		case serial.PermissionDenied:
			kind = os.ErrPermission
		}
	case errors.Is(err, fs.ErrNotExist), isErrno(err, goneErrnos...):
		kind = ErrNotFound
	case isErrno(err, syscall.EBUSY, syscall.EWOULDBLOCK):
		kind = ErrBusy
	}
	return newLinkError("open", uri, kind, err)
}

// ioError maps an error from the port or the writer.
func (l *serialLink) ioError(op string, err error) error {
	if l.closed.Load() || errors.Is(err, fs.ErrClosed) {
		return closedError(op, l.info.URI)
	}
	var pe *serial.PortError
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return deadlineError(op, l.info.URI)
	case errors.As(err, &pe) && pe.Code() == serial.PortClosed:
		// the library's word for a hung-up tty (zero-length read): the adapter went away
		return newLinkError(op, l.info.URI, ErrNotFound, errors.New("the serial port hung up"))
	case isErrno(err, goneErrnos...):
		return newLinkError(op, l.info.URI, ErrNotFound, err)
	}
	return newLinkError(op, l.info.URI, nil, err)
}

func (l *serialLink) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	l.rmu.Lock()
	defer l.rmu.Unlock()
	for {
		if l.closed.Load() {
			return 0, closedError("read", l.info.URI)
		}
		wait := readSlice
		if dl := l.rdl.Load(); dl != 0 {
			left := time.Until(time.Unix(0, dl))
			if left <= 0 {
				return 0, deadlineError("read", l.info.URI)
			}
			wait = min(wait, left)
		}
		if err := l.port.SetReadTimeout(wait); err != nil {
			return 0, l.ioError("read", err)
		}
		n, err := l.port.Read(p)
		if err != nil {
			return n, l.ioError("read", err)
		}
		if n > 0 {
			return n, nil
		}
		// n == 0, no error: the library's timeout; go round to check the deadline
	}
}

func (l *serialLink) Write(p []byte) (int, error) {
	if l.closed.Load() {
		return 0, closedError("write", l.info.URI)
	}
	n, err := l.w.Write(p)
	if err != nil {
		return n, l.ioError("write", err)
	}
	return n, nil
}

func (l *serialLink) SetReadDeadline(t time.Time) error { storeDeadline(&l.rdl, t); return nil }

func (l *serialLink) SetWriteDeadline(t time.Time) error {
	if err := l.w.SetWriteDeadline(t); err != nil {
		return l.ioError("set deadline", err)
	}
	return nil
}

func (l *serialLink) Close() error {
	l.closeOnce.Do(func() {
		l.closed.Store(true)
		err1 := l.port.Close() // wakes a pending Read
		err2 := l.w.Close()    // wakes a pending Write
		if err := errors.Join(err1, err2); err != nil {
			l.closeErr = newLinkError("close", l.info.URI, nil, err)
		}
	})
	return l.closeErr
}

func (l *serialLink) Info() LinkInfo { return l.info }
