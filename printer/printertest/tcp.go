package printertest

import (
	"net"
	"sync"
)

// Server serves a Fake on a TCP port, as a network printer (port 9100 style) would. Unplug and
// Replug simulate a cable pulled and put back.
type Server struct {
	Fake *Fake
	ln   net.Listener
	wg   sync.WaitGroup
	mu   sync.Mutex
	conn map[net.Conn]struct{}
	down bool
}

// Listen serves a new ready Fake on addr ("127.0.0.1:0" for any free port).
func Listen(addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{Fake: New(), ln: ln, conn: map[net.Conn]struct{}{}}
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			if s.down {
				s.mu.Unlock()
				c.Close()
				continue
			}
			s.conn[c] = struct{}{}
			s.mu.Unlock()
			s.wg.Go(func() {
				_ = s.Fake.Serve(c)
				c.Close()
				s.mu.Lock()
				delete(s.conn, c)
				s.mu.Unlock()
			})
		}
	})
	return s, nil
}

// Addr is the host:port served.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URI is the device URI of the printer: tcp://host:port.
func (s *Server) URI() string { return "tcp://" + s.Addr() }

// Unplug drops the connections and refuses new ones until Replug.
func (s *Server) Unplug() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = true
	for c := range s.conn {
		c.Close()
	}
}

// Replug accepts connections again.
func (s *Server) Replug() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = false
}

// Close stops serving and waits for every connection's goroutine.
func (s *Server) Close() error {
	err := s.ln.Close()
	s.Unplug()
	s.wg.Wait()
	return err
}
