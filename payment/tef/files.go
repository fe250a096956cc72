package tef

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// Names of the file exchange.
const (
	fileRequest  = "IntPos.001" // REQ: the request; RESP: the response
	fileStatus   = "IntPos.sts" // RESP: the status
	fileTemp     = "IntPos.tmp" // REQ: the request being written
	pollInterval = 250 * time.Millisecond
	// openRetries is how many polls in a row a file may fail to open (an antivirus, the GP
	// writing it) before the exchange fails.
	openRetries = 8
)

// partialTimeout is how long an answer file may stay cut (no trailer) without growing before
// the GP is taken to have died writing it: ErrConnectionLost, the outcome is unknown. A GP
// writes a file in milliseconds.
const partialTimeout = 10 * time.Second

// fileTransport is the exchange through a REQ and a RESP folder.
type fileTransport struct {
	root    string
	partial time.Duration // partialTimeout; tests shorten it
}

func (t *fileTransport) name() string { return "file" }

// dirs finds the REQ and RESP folders: req/resp, or REQ/RESP as PayGo names them.
func (t *fileTransport) dirs() (req, resp string) {
	pick := func(names ...string) string {
		for _, n := range names {
			p := filepath.Join(t.root, n)
			if fi, err := os.Stat(p); err == nil && fi.IsDir() {
				return p
			}
		}
		return filepath.Join(t.root, names[0])
	}
	return pick("req", "REQ", "Req"), pick("resp", "RESP", "Resp")
}

func (t *fileTransport) send(ctx context.Context, raw []byte) (exchange, error) {
	req, resp := t.dirs()
	for _, p := range []string{
		filepath.Join(resp, fileStatus), filepath.Join(resp, fileRequest),
		filepath.Join(req, fileRequest), filepath.Join(req, fileTemp),
	} {
		if err := removeRetry(ctx, p); err != nil {
			return nil, fmt.Errorf("removing the stale %s: %w", p, err)
		}
	}
	tmp := filepath.Join(req, fileTemp)
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("writing the request: %w", err)
	}
	_, err = f.Write(raw)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(req, fileRequest))
	}
	if err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("writing the request: %w", err)
	}
	if d, err := os.Open(req); err == nil { // make the rename durable; best effort
		d.Sync()
		d.Close()
	}
	return &fileExchange{req: req, resp: resp, partial: cmp.Or(t.partial, partialTimeout)}, nil
}

// removeRetry removes path, trying again a few times when it is locked; a missing file is fine.
func removeRetry(ctx context.Context, path string) error {
	var err error
	for i := 0; i < 4; i++ {
		if err = os.Remove(path); err == nil || errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if !sleepCtx(ctx, pollInterval) {
			return ctx.Err()
		}
	}
	return err
}

type fileExchange struct {
	req, resp string
	partial   time.Duration
}

// next polls RESP for IntPos.sts (status) or IntPos.001 (response), at most 4 times a second.
// A file without its trailer is still being written: it is read again at the next poll.
func (x *fileExchange) next(ctx context.Context, p phase, log *slog.Logger) (*Message, error) {
	name := fileStatus
	if p == phaseResponse {
		name = fileRequest
	}
	path := filepath.Join(x.resp, name)
	failures := 0
	partial, partialSince := -1, time.Time{}
	for first := true; ; first = false {
		if !first && !sleepCtx(ctx, pollInterval) {
			return nil, ctx.Err()
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		data, err := os.ReadFile(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			failures = 0
			continue
		case err != nil:
			failures++
			log.Debug("tef: reading an answer file", "path", path, "err", err, "attempt", failures)
			if failures >= openRetries {
				return nil, fmt.Errorf("reading %s: %w", path, err)
			}
			continue
		}
		failures = 0
		m, err := Parse(data)
		if errors.Is(err, ErrNoTrailer) {
			if len(data) != partial {
				partial, partialSince = len(data), time.Now()
				log.Debug("tef: an answer file without its trailer yet: waiting", "path", path, "bytes", len(data))
				continue
			}
			if time.Since(partialSince) < x.partial {
				continue
			}
			if rerr := removeRetry(ctx, path); rerr != nil {
				log.Warn("tef: removing a cut answer file", "path", path, "err", rerr)
			}
			return nil, fmt.Errorf("%w: %s stayed cut (%d bytes, no 999-999 trailer) for %s: the TEF manager stopped writing it",
				ErrConnectionLost, path, len(data), x.partial)
		}
		if rerr := removeRetry(ctx, path); rerr != nil {
			log.Warn("tef: removing a consumed answer file", "path", path, "err", rerr)
		}
		if err != nil {
			log.Warn("tef: an answer file that does not parse: dropped", "path", path, "err", err)
			continue
		}
		return m, nil
	}
}

// leftover reads and removes what an exchange interrupted by a crash left: see Client.Leftover.
func (t *fileTransport) leftover(ctx context.Context, log *slog.Logger) (*Message, error) {
	req, resp := t.dirs()
	path := filepath.Join(resp, fileRequest)
	data, err := os.ReadFile(path)
	var m *Message
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("tef: reading the leftover response %s: %w", path, err)
	default:
		m, err = Parse(data)
		if err != nil {
			log.Warn("tef: a leftover response that cannot be used: removed (the GP keeps its transaction pending)",
				"path", path, "bytes", len(data), "err", err)
			m = nil
		} else {
			log.Info("tef: a leftover response from before the restart", "command", m.Command(), "id", m.RequestID(),
				"status", m.Value(9, 0), "network", m.Value(10, 0), "nsu", m.Value(12, 0))
		}
	}
	for _, p := range []string{path, filepath.Join(resp, fileStatus), filepath.Join(req, fileRequest), filepath.Join(req, fileTemp)} {
		if err := removeRetry(ctx, p); err != nil {
			return m, fmt.Errorf("tef: removing the stale %s: %w", p, err)
		}
	}
	return m, nil
}

// abandon takes back a request the GP never picked up, so it cannot run once the GP is back.
func (x *fileExchange) abandon() {
	os.Remove(filepath.Join(x.req, fileRequest))
}

func (x *fileExchange) close() {}

// sleepCtx waits d or until ctx ends; it reports whether the whole delay passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
