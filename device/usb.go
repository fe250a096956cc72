package device

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// usbDevice is what a USB link needs from a claimed printer interface: bulk transfers bounded
// by a context. The gousb implementation (usb_gousb.go) maps libusb's "no device" to an error
// matching ErrNotFound; tests use a fake.
type usbDevice interface {
	Write(ctx context.Context, p []byte) (int, error) // bulk OUT
	Read(ctx context.Context, p []byte) (int, error)  // bulk IN; only when CanRead
	CanRead() bool                                    // the interface has a bulk IN endpoint
	PacketSize() int                                  // of the IN endpoint: reads are rounded up to it
	Close() error                                     // release the interface (re-attach usblp), close the device
}

// usbLink is a printer-class USB interface: data on the bulk OUT endpoint, status (DLE EOT
// answers, ASB) on the bulk IN endpoint when there is one.
//
// Each Read or Write is one transfer bounded by a context carrying the deadline set before it
// started; a deadline changed during a transfer applies to the next one. Close cancels pending
// transfers and waits for them before releasing the device.
type usbLink struct {
	dev  usbDevice
	info LinkInfo

	rdl, wdl atomic.Int64 // UnixNano; 0 = none

	mu     sync.Mutex
	closed bool
	ops    sync.WaitGroup
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc

	rmu     sync.Mutex // one Read at a time
	pending []byte     // received beyond what the last Read could take
}

func newUSBLink(uri string, dev usbDevice) *usbLink {
	ctx, cancel := context.WithCancel(context.Background())
	return &usbLink{dev: dev, ctx: ctx, cancel: cancel,
		info: LinkInfo{URI: uri, Kind: "usb", CanRead: dev.CanRead()}}
}

// begin starts a transfer: a context with the deadline, and done to call when it ended.
func (l *usbLink) begin(deadline int64) (ctx context.Context, done func(), ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, nil, false
	}
	l.ops.Add(1)
	ctx, cancel := l.ctx, context.CancelFunc(func() {})
	if deadline != 0 {
		ctx, cancel = context.WithDeadline(l.ctx, time.Unix(0, deadline))
	}
	return ctx, func() { cancel(); l.ops.Done() }, true
}

func (l *usbLink) ioError(op string, ctx context.Context, err error) error {
	switch {
	case l.ctx.Err() != nil:
		return closedError(op, l.info.URI)
	case ctx.Err() == context.DeadlineExceeded || errors.Is(err, context.DeadlineExceeded):
		return deadlineError(op, l.info.URI)
	case errors.Is(err, ErrNotFound):
		return newLinkError(op, l.info.URI, ErrNotFound, err)
	}
	return newLinkError(op, l.info.URI, nil, err)
}

func (l *usbLink) Read(p []byte) (int, error) {
	if !l.info.CanRead {
		return 0, newLinkError("read", l.info.URI, ErrUnsupported, errors.New("the printer interface has no bulk IN endpoint: no status"))
	}
	if len(p) == 0 {
		return 0, nil
	}
	l.rmu.Lock()
	defer l.rmu.Unlock()
	if len(l.pending) > 0 {
		n := copy(p, l.pending)
		l.pending = l.pending[n:]
		return n, nil
	}
	// A device answers in whole packets; a buffer that is not a multiple of the packet size
	// would overflow, so read into one that is and keep the rest for the next Read.
	buf := p
	if ps := l.dev.PacketSize(); ps > 0 && len(p)%ps != 0 {
		buf = make([]byte, (len(p)/ps+1)*ps)
	}
	for {
		dl := l.rdl.Load()
		if dl != 0 && !time.Now().Before(time.Unix(0, dl)) {
			return 0, deadlineError("read", l.info.URI)
		}
		ctx, done, ok := l.begin(dl)
		if !ok {
			return 0, closedError("read", l.info.URI)
		}
		n, err := l.dev.Read(ctx, buf)
		if err != nil && n == 0 {
			err = l.ioError("read", ctx, err)
			done()
			return 0, err
		}
		done()
		if n == 0 {
			continue // a zero-length packet: wait for data
		}
		if len(buf) != len(p) {
			m := copy(p, buf[:n])
			l.pending = append([]byte(nil), buf[m:n]...)
			n = m
		}
		return n, nil // data first; an error (if any) repeats on the next Read
	}
}

func (l *usbLink) Write(p []byte) (int, error) {
	dl := l.wdl.Load()
	if dl != 0 && !time.Now().Before(time.Unix(0, dl)) {
		return 0, deadlineError("write", l.info.URI)
	}
	ctx, done, ok := l.begin(dl)
	if !ok {
		return 0, closedError("write", l.info.URI)
	}
	defer done()
	n, err := l.dev.Write(ctx, p)
	if err != nil {
		return n, l.ioError("write", ctx, err)
	}
	return n, nil
}

func storeDeadline(a *atomic.Int64, t time.Time) {
	if t.IsZero() {
		a.Store(0)
	} else {
		a.Store(max(t.UnixNano(), 1))
	}
}

func (l *usbLink) SetReadDeadline(t time.Time) error  { storeDeadline(&l.rdl, t); return nil }
func (l *usbLink) SetWriteDeadline(t time.Time) error { storeDeadline(&l.wdl, t); return nil }
func (l *usbLink) Info() LinkInfo                     { return l.info }

func (l *usbLink) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.cancel()
	l.mu.Unlock()
	l.ops.Wait()
	if err := l.dev.Close(); err != nil {
		return newLinkError("close", l.info.URI, nil, err)
	}
	return nil
}

// goneError is a libusb error meaning the device went away: it matches ErrNotFound.
type goneError struct{ err error }

func (e goneError) Error() string        { return e.err.Error() }
func (e goneError) Unwrap() error        { return e.err }
func (e goneError) Is(target error) bool { return target == ErrNotFound }
