package tef

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"
)

// tcpTransport opens one connection per operation; the status and the response come on it.
type tcpTransport struct {
	addr        string
	dialTimeout time.Duration
}

func (t *tcpTransport) name() string { return "tcp" }

func (t *tcpTransport) send(ctx context.Context, raw []byte) (exchange, error) {
	d := net.Dialer{Timeout: t.dialTimeout}
	conn, err := d.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", t.addr, err)
	}
	conn.SetWriteDeadline(time.Now().Add(t.dialTimeout))
	if _, err := conn.Write(raw); err != nil {
		conn.Close()
		return nil, fmt.Errorf("writing to %s: %w", t.addr, err)
	}
	conn.SetWriteDeadline(time.Time{})
	x := &tcpExchange{conn: conn, msgs: make(chan []byte), stop: make(chan struct{}), done: make(chan struct{})}
	go x.read()
	return x, nil
}

type tcpExchange struct {
	conn net.Conn
	msgs chan []byte   // raw messages; closed when the reader ends (err set before)
	err  error         // why the reader ended (nil: EOF)
	stop chan struct{} // closed by close
	done chan struct{} // closed when the reader is gone
}

func (x *tcpExchange) read() {
	defer close(x.done)
	defer close(x.msgs)
	sc := bufio.NewScanner(x.conn)
	sc.Buffer(make([]byte, 0, 4096), MaxMessageSize+2)
	sc.Split(SplitMessages)
	for sc.Scan() {
		raw := append([]byte(nil), sc.Bytes()...)
		select {
		case x.msgs <- raw:
		case <-x.stop:
			return
		}
	}
	x.err = sc.Err()
}

func (x *tcpExchange) next(ctx context.Context, _ phase, log *slog.Logger) (*Message, error) {
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case raw, ok := <-x.msgs:
			if !ok {
				cause := x.err
				if cause == nil {
					cause = io.EOF
				}
				return nil, fmt.Errorf("%w: %w", ErrConnectionLost, cause)
			}
			m, err := Parse(raw)
			if err != nil {
				log.Warn("tef: a message that does not parse: dropped", "err", err, "bytes", len(raw))
				continue
			}
			return m, nil
		}
	}
}

func (x *tcpExchange) abandon() {}

func (x *tcpExchange) close() {
	select {
	case <-x.stop:
		return
	default:
	}
	close(x.stop)
	x.conn.Close()
	<-x.done
}
