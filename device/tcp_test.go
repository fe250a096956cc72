package device

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// listen starts a loopback listener whose connections are handled by serve; it returns the
// address and a channel of the accepted connections' ends.
func listen(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			serve(c)
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

func TestTCP(t *testing.T) {
	conns := make(chan net.Conn, 4)
	addr := listen(t, func(c net.Conn) { conns <- c })
	peer := func(t *testing.T) net.Conn {
		select {
		case c := <-conns:
			t.Cleanup(func() { c.Close() })
			return c
		case <-time.After(2 * time.Second):
			t.Fatal("no connection")
			return nil
		}
	}

	t.Run("echo and info", func(t *testing.T) {
		l := mustOpen(t, "tcp://"+addr+"?keepalive=10s")
		c := peer(t)
		go io.Copy(c, c) // echo until closed
		if got, want := l.Info(), (LinkInfo{URI: "tcp://" + addr + "?keepalive=10s", Kind: "tcp", CanRead: true}); got != want {
			t.Errorf("Info() = %+v, want %+v", got, want)
		}
		l.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := l.Write([]byte{0x10, 0x04, 0x01}); err != nil {
			t.Fatal(err)
		}
		expectRead(t, l, []byte{0x10, 0x04, 0x01})
	})
	t.Run("deadlines", func(t *testing.T) {
		l := mustOpen(t, "tcp://"+addr)
		peer(t) // never reads nor writes
		l.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		start := time.Now()
		n, err := l.Read(make([]byte, 8))
		if n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) || Disconnected(err) {
			t.Fatalf("Read = %d, %v; want a deadline error", n, err)
		}
		if el := time.Since(start); el > 100*time.Millisecond+slack {
			t.Errorf("Read returned after %v", el)
		}
		// The peer does not read: the socket buffers fill, then the deadline.
		l.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
		chunk := make([]byte, 1<<20)
		for i := 0; err == nil && i < 256; i++ {
			n, err = l.Write(chunk)
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) || n >= len(chunk) {
			t.Fatalf("Write = %d, %v; want a deadline error", n, err)
		}
	})
	t.Run("peer closes", func(t *testing.T) {
		l := mustOpen(t, "tcp://"+addr)
		c := peer(t)
		c.Close()
		l.SetReadDeadline(time.Now().Add(2 * time.Second))
		if n, err := l.Read(make([]byte, 8)); n != 0 || err != io.EOF {
			t.Fatalf("Read after the peer closed = %d, %v; want io.EOF", n, err)
		}
		// Writing to a closed peer: the first write may still be accepted, then the reset.
		var err error
		l.SetWriteDeadline(time.Now().Add(2 * time.Second))
		for i := 0; i < 100 && err == nil; i++ {
			_, err = l.Write([]byte("ticket"))
			time.Sleep(5 * time.Millisecond)
		}
		if !errors.Is(err, io.ErrClosedPipe) || !Disconnected(err) {
			t.Fatalf("Write after the peer closed: %v, want io.ErrClosedPipe", err)
		}
		t.Logf("write after peer closed: %v", err)
	})
	t.Run("closed by us", func(t *testing.T) {
		l := mustOpen(t, "tcp://"+addr)
		peer(t)
		l.Close()
		if _, err := l.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) || Disconnected(err) {
			t.Errorf("Read after Close: %v", err)
		}
		if _, err := l.Write([]byte{1}); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Write after Close: %v", err)
		}
	})
	t.Run("nothing listening", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		free := ln.Addr().String()
		ln.Close()
		_, err := Open(context.Background(), "tcp://"+free+"?timeout=1s")
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("Open of a closed port: %v, want ErrNotFound", err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := Open(ctx, "tcp://"+addr); !errors.Is(err, context.Canceled) {
			t.Fatalf("Open with a cancelled context: %v", err)
		}
	})
}
