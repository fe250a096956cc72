package device

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

// tcpLink is a raw TCP connection (port 9100 "JetDirect" printers, serial-to-Ethernet servers).
// Deadlines are the connection's own.
type tcpLink struct {
	conn *net.TCPConn
	info LinkInfo
}

func openTCP(ctx context.Context, ep Endpoint) (Link, error) {
	d := net.Dialer{Timeout: ep.DialTimeout, KeepAlive: -1}
	if ep.KeepAlive > 0 {
		// Probe after KeepAlive idle, then every KeepAlive, give up after 3 unanswered: a
		// printer switched off without a FIN is noticed in about 4×KeepAlive.
		d.KeepAliveConfig = net.KeepAliveConfig{Enable: true, Idle: ep.KeepAlive, Interval: ep.KeepAlive, Count: 3}
	}
	c, err := d.DialContext(ctx, "tcp", ep.Host)
	if err != nil {
		if ctx.Err() != nil {
			return nil, newLinkError("open", ep.URI, ctx.Err(), err)
		}
		return nil, newLinkError("open", ep.URI, ErrNotFound, err)
	}
	tc := c.(*net.TCPConn)
	if err := tc.SetNoDelay(true); err != nil {
		tc.Close()
		return nil, newLinkError("open", ep.URI, nil, err)
	}
	return &tcpLink{conn: tc, info: LinkInfo{URI: ep.URI, Kind: "tcp", CanRead: true}}, nil
}

func (l *tcpLink) Read(p []byte) (int, error) {
	n, err := l.conn.Read(p)
	if err != nil {
		return n, l.mapErr("read", err)
	}
	return n, nil
}

func (l *tcpLink) Write(p []byte) (int, error) {
	n, err := l.conn.Write(p)
	if err != nil {
		return n, l.mapErr("write", err)
	}
	return n, nil
}

func (l *tcpLink) mapErr(op string, err error) error {
	switch {
	case err == io.EOF:
		return io.EOF // the io.Reader convention: the printer closed the connection
	case errors.Is(err, os.ErrDeadlineExceeded):
		return newLinkError(op, l.info.URI, os.ErrDeadlineExceeded, err)
	case errors.Is(err, net.ErrClosed):
		return newLinkError(op, l.info.URI, net.ErrClosed, nil)
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.ETIMEDOUT), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.ECONNABORTED):
		// reset by the peer, or keepalive/retransmissions gave up: the printer is gone
		return newLinkError(op, l.info.URI, io.ErrClosedPipe, err)
	}
	return newLinkError(op, l.info.URI, nil, err)
}

func (l *tcpLink) Close() error                       { return l.conn.Close() }
func (l *tcpLink) SetReadDeadline(t time.Time) error  { return l.conn.SetReadDeadline(t) }
func (l *tcpLink) SetWriteDeadline(t time.Time) error { return l.conn.SetWriteDeadline(t) }
func (l *tcpLink) Info() LinkInfo                     { return l.info }
