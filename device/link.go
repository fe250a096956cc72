package device

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"
)

// Link is a byte stream to a device, with deadlines.
//
// One goroutine may Read while another Writes; Close may be called from any goroutine and
// makes pending and later Reads and Writes fail with an error wrapping net.ErrClosed.
//
// What the operations return, by kind (the printer service reconnects when Disconnected(err)):
//
//   - deadline passed: an error for which errors.Is(err, os.ErrDeadlineExceeded) is true (its
//     Timeout method says true too). A Read returns n=0 with it; a Write may have written a
//     part (n>0) before the deadline.
//   - device gone (cable pulled, printer off, peer closed):
//     serial: ErrNotFound (the tty hung up or returns EIO);
//     usb: ErrNotFound (libusb "no device");
//     tcp: Read returns io.EOF when the printer closed the connection; a reset connection or a
//     Write after the peer went away returns an error wrapping io.ErrClosedPipe; a dead peer
//     with no reset shows as a deadline (or, after the keepalive probes, io.ErrClosedPipe);
//     file: ErrNotFound (EIO/ENODEV/ENXIO from the driver, e.g. usblp after an unplug), or
//     io.ErrClosedPipe for a FIFO whose reader went away.
//   - closed by us: an error wrapping net.ErrClosed.
//   - Read on a link that cannot read (Info().CanRead false): ErrUnsupported.
type Link interface {
	io.ReadWriteCloser
	SetReadDeadline(t time.Time) error
	SetWriteDeadline(t time.Time) error
	// Info says what the link is and whether it can read (a device file is write-only: status
	// is then "unavailable", never invented).
	Info() LinkInfo
}

// LinkInfo describes an open link.
type LinkInfo struct {
	URI      string
	Kind     string // "serial", "usb", "tcp", "file"
	CanRead  bool
	BaudRate int    // serial: for pacing (0 otherwise)
	Flow     string // serial: "none", "rtscts", "xonxoff" ("" otherwise)
}

// Errors wrapped (with the URI and the system's cause) by Open and by the links' operations.
var (
	// ErrNotFound: no such device, or it went away (unplugged, switched off, unreachable).
	ErrNotFound = errors.New("device not found (unplugged or switched off?)")
	// ErrBusy: the device is in use by another program (or another link of this one).
	ErrBusy = errors.New("device busy (in use by another program?)")
	// ErrUnsupported: the link cannot do that (Read on a device file), or this build cannot
	// open that kind of link (usb without cgo).
	ErrUnsupported = errors.New("not supported by this link")
	// ErrBadURI: the URI is malformed; the message says what is wrong and shows an example.
	ErrBadURI = errors.New("bad device URI")
)

// Disconnected reports whether err from a link means the device went away, so the link should
// be closed and opened again (with Backoff): ErrNotFound, io.EOF, io.ErrUnexpectedEOF or
// io.ErrClosedPipe. Deadlines and a link closed by us are not disconnections.
func Disconnected(err error) bool {
	return errors.Is(err, ErrNotFound) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.ErrClosedPipe)
}

// Open opens a link by URI:
//
//	serial:///dev/ttyUSB0?baud=115200&parity=none|even|odd&databits=8&stopbits=1|2&flow=none|rtscts|xonxoff   (Windows: serial://COM3?...)
//	usb://04b8:0e15[?serial=ABC123][&interface=0]     (VID:PID in hex)
//	tcp://10.0.0.5:9100[?keepalive=30s&timeout=5s]
//	file:///dev/usb/lp0                                (write-only)
//
// A malformed URI is an error wrapping ErrBadURI that says what is wrong and shows a correct
// example. A missing device is ErrNotFound, one in use ErrBusy, both wrapped with the URI.
func Open(ctx context.Context, uri string) (Link, error) {
	ep, err := ParseURI(uri)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, &linkError{op: "open", uri: uri, err: err}
	}
	switch ep.Scheme {
	case "serial":
		return openSerial(ctx, ep)
	case "usb":
		return openUSB(ctx, ep)
	case "tcp":
		return openTCP(ctx, ep)
	case "file":
		return openFile(ctx, ep)
	}
	return nil, badURI(uri, fmt.Sprintf("unknown scheme %q", ep.Scheme), anyExample)
}

// linkError is what links and Open return: the operation, the URI, the kind of failure (one of
// the package's errors, io.EOF, os.ErrDeadlineExceeded, net.ErrClosed...) and the system's cause.
type linkError struct {
	op   string // "open", "read", "write"
	uri  string
	kind error // may be nil
	err  error // cause; may be nil
}

func (e *linkError) Error() string {
	var b strings.Builder
	b.WriteString("device: ")
	b.WriteString(e.op)
	b.WriteString(" ")
	b.WriteString(e.uri)
	if e.kind != nil {
		b.WriteString(": ")
		b.WriteString(e.kind.Error())
	}
	if e.err != nil && (e.kind == nil || e.err.Error() != e.kind.Error()) {
		b.WriteString(": ")
		b.WriteString(e.err.Error())
	}
	return b.String()
}

func (e *linkError) Unwrap() []error {
	var out []error
	if e.kind != nil {
		out = append(out, e.kind)
	}
	if e.err != nil {
		out = append(out, e.err)
	}
	return out
}

// Timeout and Temporary make deadline errors net.Errors, like net's.
func (e *linkError) Timeout() bool { return errors.Is(e, os.ErrDeadlineExceeded) }

// Temporary is Timeout (net.Error's deprecated method).
func (e *linkError) Temporary() bool { return e.Timeout() }

func newLinkError(op, uri string, kind, cause error) error {
	return &linkError{op: op, uri: uri, kind: kind, err: cause}
}

func deadlineError(op, uri string) error {
	return &linkError{op: op, uri: uri, kind: os.ErrDeadlineExceeded}
}

func closedError(op, uri string) error {
	return &linkError{op: op, uri: uri, kind: net.ErrClosed}
}
