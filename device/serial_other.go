//go:build !linux

package device

import (
	"os"
	"sync/atomic"
	"time"

	"go.bug.st/serial"
)

// Off Linux, writes go through go.bug.st/serial, which blocks and has no write timeout: the
// deadline is checked before each chunk of about 50 ms of line time, so a write overruns its
// deadline by at most one chunk unless the driver itself blocks (flow control holding it):
// only Close ends that. flow=rtscts asserts RTS only; the library cannot make the driver obey
// CTS (v1.8 clears it on open).

type ttyPre struct{}

func preOpenTTY(Endpoint) (*ttyPre, error) { return &ttyPre{}, nil }

func (*ttyPre) abort() {}

func (*ttyPre) finish(port serial.Port, ep Endpoint) (ttyWriter, error) {
	if ep.Flow == "rtscts" {
		_ = port.SetRTS(true)
	}
	return &chunkWriter{port: port, chunk: max(16, ep.Baud/10/20)}, nil
}

type chunkWriter struct {
	port  serial.Port
	chunk int
	wdl   atomic.Int64
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if dl := w.wdl.Load(); dl != 0 && !time.Now().Before(time.Unix(0, dl)) {
			return n, os.ErrDeadlineExceeded
		}
		m, err := w.port.Write(p[n:min(len(p), n+w.chunk)])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (w *chunkWriter) SetWriteDeadline(t time.Time) error { storeDeadline(&w.wdl, t); return nil }

func (w *chunkWriter) Close() error { return nil }
