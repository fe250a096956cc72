package tefsim

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/totemd/totemd/payment/tef"
)

// writeTimeout bounds the write of one message to a TCP peer.
const writeTimeout = 5 * time.Second

// ListenTCP serves TEF Dial over TCP on addr ("127.0.0.1:0" picks a port) and returns the
// host:port it listens on. It may be called more than once.
func (s *Sim) ListenTCP(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("tefsim: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		ln.Close()
		return "", ErrClosed
	}
	l := &listener{addr: ln.Addr().String()}
	s.listeners = append(s.listeners, l)
	if s.down {
		ln.Close() // listened only to learn the port: a GP that is down refuses connections
	} else {
		l.ln = ln
		s.startAcceptLocked(ln)
	}
	s.log.Info("tefsim: serving TCP", "addr", l.addr)
	return l.addr, nil
}

// stopTCPLocked closes the listeners and drops every connection; s.mu is held.
func (s *Sim) stopTCPLocked() {
	for _, l := range s.listeners {
		if l.ln != nil {
			l.ln.Close()
			l.ln = nil
		}
	}
	for c := range s.conns {
		c.Close()
	}
}

func (s *Sim) startAcceptLocked(ln net.Listener) {
	s.goLocked(func() { s.accept(ln) })
}

func (s *Sim) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("tefsim: accept", "err", err)
			time.Sleep(50 * time.Millisecond) // out of file descriptors and the like
			continue
		}
		s.mu.Lock()
		if s.closed || s.down {
			s.mu.Unlock()
			c.Close()
			continue
		}
		ctx := s.upCtx
		s.conns[c] = struct{}{}
		s.goLocked(func() {
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
			}()
			s.serveConn(ctx, c)
		})
		s.mu.Unlock()
	}
}

// serveConn reads messages from c and handles them one after the other.
func (s *Sim) serveConn(ctx context.Context, c net.Conn) {
	log := s.log.With("peer", c.RemoteAddr().String())
	log.Debug("tefsim: connection")
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 0, 4096), tef.MaxMessageSize+2)
	sc.Split(tef.SplitMessages)
	r := &tcpReplier{c: c}
	for sc.Scan() {
		raw := sc.Bytes()
		req, err := tef.Parse(raw)
		if err != nil {
			log.Warn("tefsim: a message that does not parse: not answered", "err", err, "bytes", len(raw))
			continue
		}
		if !s.handle(ctx, req, r) {
			return
		}
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
		log.Warn("tefsim: reading the connection: dropped", "err", err)
		return
	}
	log.Debug("tefsim: connection closed by the peer")
}

// tcpReplier answers on the connection the request came on.
type tcpReplier struct {
	c  net.Conn
	mu sync.Mutex
}

func (r *tcpReplier) name() string { return "tcp" }

func (r *tcpReplier) write(m *tef.Message) error {
	b, err := m.Encode()
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.c.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err = r.c.Write(b)
	return err
}

func (r *tcpReplier) status(m *tef.Message) error  { return r.write(m) }
func (r *tcpReplier) respond(m *tef.Message) error { return r.write(m) }

// lose closes the connection instead of sending the approval.
func (r *tcpReplier) lose(*tef.Message) error { return r.c.Close() }
