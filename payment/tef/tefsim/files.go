package tefsim

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/totemd/totemd/internal/atomicfile"
	"github.com/totemd/totemd/payment/tef"
)

// Names of the file exchange.
const (
	RequestFile  = "IntPos.001" // in REQ: the request (the automation renames IntPos.tmp to it)
	StatusFile   = "IntPos.sts" // in RESP: the status
	ResponseFile = "IntPos.001" // in RESP: the response
	TempFile     = "IntPos.tmp" // what is written before the rename, in either folder
)

// PollInterval is how often the simulator looks at REQ: 4 times a second, the most the
// protocol allows.
const PollInterval = 250 * time.Millisecond

// fileTransport is the REQ/RESP pair ServeFiles serves.
type fileTransport struct {
	req, resp string

	mu      sync.Mutex // RESP writes (IntPos.tmp is shared)
	waiting fileStamp  // the trailer-less request last reported, so it is logged once
}

type fileStamp struct {
	size int64
	mod  time.Time
}

// ServeFiles serves the file exchange: requests in reqDir, statuses and responses in respDir
// (both are created if missing). It starts a poller that looks at reqDir/IntPos.001 every
// PollInterval and never at anything else (IntPos.tmp is the automation's, still being
// written). A request is read, consumed (deleted) and handled; IntPos.sts and then IntPos.001
// are written in respDir, each as IntPos.tmp renamed. A request without its 999-999 trailer is
// left alone until it has one; one that does not parse is deleted unanswered (and logged).
// Requests are handled one at a time: while a sale waits on the PIN pad, a new request waits
// in REQ. Stale files in respDir are overwritten, never removed: clearing RESP before a
// request is the automation's job. One pair per simulator.
func (s *Sim) ServeFiles(reqDir, respDir string) error {
	if reqDir == "" || respDir == "" {
		return errors.New("tefsim: ServeFiles needs the REQ and RESP folders")
	}
	for _, d := range []string{reqDir, respDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("tefsim: %w", err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return ErrClosed
	case s.files != nil:
		return errors.New("tefsim: the file transport is already served")
	}
	ft := &fileTransport{req: reqDir, resp: respDir}
	s.files = ft
	s.goLocked(func() { s.poll(ft) })
	s.log.Info("tefsim: serving files", "req", reqDir, "resp", respDir)
	return nil
}

func (s *Sim) poll(ft *fileTransport) {
	t := time.NewTicker(PollInterval)
	defer t.Stop()
	for {
		select {
		case <-s.closeCtx.Done():
			return
		case <-t.C:
		}
		ctx := s.epoch()
		if ctx == nil {
			continue // down: REQ is left alone
		}
		s.polls.Add(1)
		s.pollOnce(ctx, ft)
	}
}

// pollOnce looks at REQ once and handles the request found there.
func (s *Sim) pollOnce(ctx context.Context, ft *fileTransport) {
	path := filepath.Join(ft.req, RequestFile)
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		ft.waiting = fileStamp{}
		return
	case err != nil:
		s.log.Debug("tefsim: looking at the request", "err", err)
		return
	case !fi.Mode().IsRegular():
		if stamp := (fileStamp{fi.Size(), fi.ModTime()}); stamp != ft.waiting {
			ft.waiting = stamp
			s.log.Warn("tefsim: the request is not a regular file: left alone", "path", path)
		}
		return
	case fi.Size() > tef.MaxMessageSize:
		s.consumeGarbled(path, fmt.Errorf("%d bytes", fi.Size()))
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		// Locked (an antivirus, the writer) or gone: look again at the next poll.
		s.log.Debug("tefsim: reading the request", "err", err)
		return
	}
	req, err := tef.Parse(data)
	if errors.Is(err, tef.ErrNoTrailer) {
		if stamp := (fileStamp{fi.Size(), fi.ModTime()}); stamp != ft.waiting {
			ft.waiting = stamp
			s.log.Info("tefsim: the request has no 999-999 trailer yet: waiting", "bytes", len(data))
		}
		return
	}
	ft.waiting = fileStamp{}
	if err != nil {
		s.consumeGarbled(path, err)
		return
	}
	if err := os.Remove(path); err != nil {
		// Never handle a request that cannot be consumed: it would be handled again.
		s.log.Error("tefsim: consuming the request: not handled", "err", err)
		return
	}
	if _, err := os.Stat(filepath.Join(ft.resp, ResponseFile)); err == nil {
		s.log.Warn("tefsim: a response of an earlier exchange is still in RESP: the automation should clear RESP before a request")
	}
	s.handle(ctx, req, &fileReplier{ft: ft})
}

func (s *Sim) consumeGarbled(path string, cause error) {
	err := os.Remove(path)
	s.log.Warn("tefsim: a request that does not parse: deleted, not answered", "err", cause, "remove_err", err)
}

// fileReplier answers in RESP.
type fileReplier struct{ ft *fileTransport }

func (r *fileReplier) name() string { return "file" }

func (r *fileReplier) status(m *tef.Message) error  { return r.ft.write(StatusFile, m, false) }
func (r *fileReplier) respond(m *tef.Message) error { return r.ft.write(ResponseFile, m, false) }

// lose leaves the approved response truncated: about its first half, cut mid-line, without
// the 999-999 trailer, as a GP dying while writing it would leave it. The automation never
// reads the approval from it (Parse says ErrNoTrailer).
func (r *fileReplier) lose(m *tef.Message) error {
	return r.ft.write(ResponseFile, m, true)
}

// write writes name in RESP through IntPos.tmp and a rename; truncated keeps the first half
// of the message only.
func (ft *fileTransport) write(name string, m *tef.Message, truncated bool) error {
	b, err := m.Encode()
	if err != nil {
		return err
	}
	if truncated {
		b = truncate(b)
	}
	ft.mu.Lock()
	defer ft.mu.Unlock()
	f, err := os.OpenFile(filepath.Join(ft.resp, TempFile), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return atomicfile.Finish(f, filepath.Join(ft.resp, name), b, 0o644, false)
}

// truncate cuts an encoded message at about its half, in the middle of a line.
func truncate(b []byte) []byte {
	n := len(b) / 2
	for n > 0 && (b[n-1] == '\n' || b[n-1] == '\r') {
		n-- // never end on a line end: the last line is visibly cut
	}
	return b[:n]
}

// Leftover describes the answer LeftoverResponse leaves in RESP.
type Leftover struct {
	RequestID   string // 001-000 of the CRT the answer is for; "" makes one up
	Document    string // 002-000
	AmountCents int64  // chooses the outcome as for a CRT: ,51 declined, ,52 cancelled, ,54 truncated, ,55 no confirmation, else approved
	Aborted     bool   // 009-000 = FF: cancelled before a network was chosen (nothing recorded)
}

// LeftoverResponse leaves in RESP the status and the response of a CRT the automation sent and
// never read, as a crash of the automation between its request and the response leaves them:
// the sale is decided (without the PIN pad delay) and recorded as any CRT (an approval is
// pending, or confirmed for ,55; a pending transaction gets the TRANSACAO PENDENTE refusal),
// and IntPos.sts and IntPos.001 are written and not consumed. It returns the transaction
// recorded (zero when none was). It needs ServeFiles; ,53 has no answer to leave.
func (s *Sim) LeftoverResponse(l Leftover) (Tx, error) {
	s.mu.Lock()
	ft, closed := s.files, s.closed
	s.mu.Unlock()
	switch {
	case closed:
		return Tx{}, ErrClosed
	case ft == nil:
		return Tx{}, ErrNoFiles
	case l.AmountCents <= 0:
		return Tx{}, fmt.Errorf("tefsim: leftover amount %d", l.AmountCents)
	case !l.Aborted && l.AmountCents%100 == 53:
		return Tx{}, errors.New("tefsim: scenario ,53 leaves no answer")
	}
	id := l.RequestID
	if id == "" {
		id = "1" + randDigits(8)
	}
	if !validID(id) {
		return Tx{}, fmt.Errorf("tefsim: leftover request id %q: 1 to 10 digits", id)
	}
	req := newMsg(cmdCRT, id)
	req.Set(fDocument, 0, l.Document)
	req.Set(fAmount, 0, tef.FormatAmount(l.AmountCents))
	log := s.log.With("transport", "file", "command", cmdCRT, "id", id, "leftover", true)
	if err := ft.write(StatusFile, statusMessage(cmdCRT, id), false); err != nil {
		return Tx{}, fmt.Errorf("tefsim: %w", err)
	}
	if l.Aborted {
		m := refusal(req, id, "FF", "OPERACAO CANCELADA", "OPERACAO CANCELADA")
		if err := ft.write(ResponseFile, m, false); err != nil {
			return Tx{}, fmt.Errorf("tefsim: %w", err)
		}
		log.Info("tefsim: leftover response FF")
		return Tx{}, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := context.AfterFunc(s.closeCtx, cancel)
	defer stop()
	if !s.takePINPad(ctx) {
		return Tx{}, ErrClosed
	}
	defer s.releasePINPad()
	resp, lost, tx := s.runSale(ctx, req, id, l.AmountCents, nil, 0, log)
	if resp == nil {
		return Tx{}, ErrClosed
	}
	if err := ft.write(ResponseFile, resp, lost); err != nil {
		return tx, fmt.Errorf("tefsim: %w", err)
	}
	log.Info("tefsim: leftover response", "status", resp.Value(fStatus, 0), "truncated", lost)
	return tx, nil
}
