// Package tefsim is a TEF manager ("gerenciador padrão", GP) simulator: it speaks TEF Dial
// byte for byte (see payment/tef) over both transports a real GP offers, so the same client
// code runs against it and against PayGo, SiTef's file interface and friends. `totemd run
// --demo` and the tests use it.
//
// Transports:
//   - tcp (ListenTCP): each message ends with its 999-999 = 0 line; the status and the
//     response of a request come on the connection that carried it. Messages on one
//     connection are handled one after the other.
//   - file (ServeFiles): the automation writes IntPos.tmp in REQ and renames it IntPos.001;
//     the simulator polls REQ (4 times a second), consumes (deletes) the request, writes
//     IntPos.sts (status) and then IntPos.001 (response) in RESP, each through IntPos.tmp and
//     a rename. Requests are handled one after the other, as a GP with one PIN pad does.
//
// Commands: ATV (status, then a response with 009-000 = 0), ADM (a report as receipt lines),
// CRT (card sale), CNC (cancel a confirmed sale by 025 NSU, 026 timestamp, 003 amount), CNF
// and NCN (confirm or undo by 010 network + 012 NSU + 027 finalização; status only). Every
// request gets a status (same 000-000 and 001-000, 009-000 = 0) after Options.StatusDelay.
// An approved CNC has its own NSU and 729-000 = 1: the sale is cancelled at once, nothing is
// left to confirm. Requests that do not parse, lack a 1-10 digit 001-000 or carry an unknown
// command get nothing (and a log line).
//
// The outcome of a CRT is chosen by the amount's centavos (003-000), so a person can try the
// scenarios from the kiosk UI:
//
//	,51  declined after the PIN pad (009-000 = 51, 030-000 TRANSACAO NEGADA)
//	,52  cancelled by the customer on the PIN pad (009-000 = 52, 030-000 OPERACAO CANCELADA)
//	,53  the GP never answers: no status, no response, nothing recorded (on files the
//	     request is consumed all the same; on tcp the connection keeps serving)
//	,54  approved and recorded as pending, but the approval never reaches the automation: on
//	     tcp the connection is closed instead; on files IntPos.001 is left truncated (about
//	     half of the approved response, cut mid-line, no 999-999 trailer)
//	,55  approved with 729-000 = 1 (no confirmation needed): recorded as confirmed at once
//	,56  like ,55, but approved for one centavo less than asked (003-000 of the response): a
//	     partial approval the GP confirmed by itself, which the automation must not take for
//	     the purchase (an extension of the spec's list)
//	else approved after Options.PINPadDelay, 729-000 = 2: pending until CNF or NCN
//
// A pending transaction (approved, neither confirmed nor undone) blocks new sales and
// cancellations: they get 009-000 = 60, 030-000 TRANSACAO PENDENTE, and the pending
// transaction's 010-000, 012-000, 027-000 and 003-000, so an automation that never got the approval
// (,54, a crash) can still undo it. CNF and NCN resolve a transaction once: a second CNF, a
// NCN after CNF and anything for an unknown transaction only get their status (and a log
// line).
//
// There is one PIN pad: sales, cancellations and ADM on several connections (or on both
// transports) take it in turn. As at a real GP, a sale goes on when its TCP automation hangs
// up during the PIN pad time: it is approved and stays pending.
//
// The simulator keeps a ledger of approved transactions (Ledger, Pending), in Options.Dir
// (ledger.json, written atomically at every change) so a restart keeps it.
package tefsim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a simulator. The zero value is a usable in-memory simulator.
type Options struct {
	PINPadDelay time.Duration // how long the "customer" takes on the PIN pad; 0: 2s, < 0: none
	StatusDelay time.Duration // how late the status comes; 0: 50ms, < 0: none; scenario ,53 never answers it
	Network     string        // 010-000, default "REDE"
	Brand       string        // 040-000, default "VISA"
	Now         func() time.Time
	Logger      *slog.Logger
	Dir         string // where the ledger is kept (ledger.json); "" = memory only
}

// Defaults of Options.
const (
	DefaultPINPadDelay = 2 * time.Second
	DefaultStatusDelay = 50 * time.Millisecond
	DefaultNetwork     = "REDE"
	DefaultBrand       = "VISA"
)

// Codes of 009-000 in the simulator's refusals (0 is approved).
const (
	CodeDeclined  = "51" // ,51: the issuer declined
	CodeCancelled = "52" // ,52: the customer cancelled on the PIN pad
	CodePending   = "60" // a pending transaction blocks the request
	CodeNotFound  = "61" // CNC: no confirmed sale matches
	CodeInvalid   = "62" // CRT or CNC without a usable amount or NSU
)

// Transaction states in the ledger.
const (
	StatePending   = "pending"   // approved, not confirmed yet
	StateConfirmed = "confirmed" // CNF, or approved with 729-000 = 1
	StateUndone    = "undone"    // NCN
	StateCancelled = "cancelled" // cancelled by a CNC after its confirmation
)

// Tx is an approved transaction, as the simulator knows it.
type Tx struct {
	Network       string    `json:"network"`     // 010-000
	NSU           string    `json:"nsu"`         // 012-000
	Finalizacao   string    `json:"finalizacao"` // 027-000
	Document      string    `json:"document"`    // 002-000 of the request
	AmountCents   int64     `json:"amount_cents"`
	State         string    `json:"state"` // StatePending, StateConfirmed, StateUndone, StateCancelled
	Approved      time.Time `json:"approved"`
	RequestID     string    `json:"request_id"`        // 001-000 of the CRT
	Authorization string    `json:"authorization"`     // 013-000
	Timestamp     string    `json:"timestamp"`         // 015-000 / 016-000 (DDMMhhmmss), what a CNC gives in 026-000
	Resolved      time.Time `json:"resolved,omitzero"` // when it left StatePending (or was cancelled)
}

// Errors.
var (
	ErrClosed  = errors.New("tefsim: closed")
	ErrNoFiles = errors.New("tefsim: the file transport is not served")
)

// Sim is a running simulator.
type Sim struct {
	o   Options
	log *slog.Logger

	pinpad chan struct{} // one PIN pad: CRT, CNC and ADM take it in turn

	mu        sync.Mutex
	led       *ledger
	closed    bool
	down      bool
	upCtx     context.Context // cancelled when the GP goes down or closes
	upCancel  context.CancelFunc
	listeners []*listener
	conns     map[net.Conn]struct{}
	files     *fileTransport

	closeCtx  context.Context // cancelled by Close
	closeStop context.CancelFunc
	wg        sync.WaitGroup // every goroutine the simulator started; Add only under mu while !closed
	closeOnce sync.Once

	polls atomic.Int64 // REQ polls, for tests
}

type listener struct {
	addr string       // host:port it serves on (kept while down, to listen again)
	ln   net.Listener // nil while down
}

// New opens the ledger (when Options.Dir is set) and returns a simulator serving nothing yet:
// call ListenTCP and/or ServeFiles.
func New(o Options) (*Sim, error) {
	switch {
	case o.PINPadDelay == 0:
		o.PINPadDelay = DefaultPINPadDelay
	case o.PINPadDelay < 0:
		o.PINPadDelay = 0
	}
	switch {
	case o.StatusDelay == 0:
		o.StatusDelay = DefaultStatusDelay
	case o.StatusDelay < 0:
		o.StatusDelay = 0
	}
	if o.Network == "" {
		o.Network = DefaultNetwork
	}
	if o.Brand == "" {
		o.Brand = DefaultBrand
	}
	for _, v := range []string{o.Network, o.Brand} {
		if !printable(v) || len(v) > 20 {
			return nil, fmt.Errorf("tefsim: network and brand must be printable ASCII of at most 20 characters: %q", v)
		}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	led, err := loadLedger(o.Dir)
	if err != nil {
		return nil, err
	}
	s := &Sim{o: o, log: o.Logger, led: led, pinpad: make(chan struct{}, 1), conns: map[net.Conn]struct{}{}}
	s.upCtx, s.upCancel = context.WithCancel(context.Background())
	s.closeCtx, s.closeStop = context.WithCancel(context.Background())
	if n := len(led.pending()); n > 0 {
		s.log.Info("tefsim: the ledger holds pending transactions", "pending", n)
	}
	return s, nil
}

// Options returns the options in effect (defaults filled in; negative delays read as 0).
func (s *Sim) Options() Options { return s.o }

// Close stops both transports, drops every connection and waits for every goroutine. A
// request being handled is abandoned where it is (an approval is only recorded once the PIN
// pad time is over). The ledger is already on disk.
func (s *Sim) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.upCancel()
		s.closeStop()
		s.stopTCPLocked()
		s.mu.Unlock()
		s.wg.Wait()
		s.log.Info("tefsim: closed")
	})
	return nil
}

// SetDown makes the GP stop (true) or start again (false), as when its process dies or a
// technician restarts it. Down: TCP connections are refused (the listeners close, open
// connections drop), the file poller leaves REQ alone, and a request being handled is
// abandoned. Up: the same addresses are listened on again (a failure is logged) and the poller
// resumes; a request left in REQ meanwhile is then handled, as a real GP does at start-up.
func (s *Sim) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.down == down {
		return
	}
	s.down = down
	if down {
		s.upCancel()
		s.stopTCPLocked()
		s.log.Info("tefsim: down")
		return
	}
	s.upCtx, s.upCancel = context.WithCancel(context.Background())
	for _, l := range s.listeners {
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			s.log.Error("tefsim: listening again", "addr", l.addr, "err", err)
			continue
		}
		l.ln = ln
		s.startAcceptLocked(ln)
	}
	s.log.Info("tefsim: up")
}

// Ledger returns every approved transaction the simulator knows, oldest first.
func (s *Sim) Ledger() []Tx {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Tx, 0, len(s.led.Txs))
	for _, t := range s.led.Txs {
		out = append(out, *t)
	}
	return out
}

// Pending returns the approved transactions neither confirmed nor undone, oldest first.
func (s *Sim) Pending() []Tx {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Tx
	for _, t := range s.led.pending() {
		out = append(out, *t)
	}
	return out
}

// epoch returns the context of the GP's current run, or nil when it is down or closed.
func (s *Sim) epoch() context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.down {
		return nil
	}
	return s.upCtx
}

// goLocked starts fn as a tracked goroutine; s.mu must be held and the simulator open.
func (s *Sim) goLocked(fn func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn()
	}()
}

// now is the simulator's clock, without a monotonic reading (values survive the ledger file).
func (s *Sim) now() time.Time { return s.o.Now().Round(0) }

// sleep waits d or until ctx ends; it reports whether the whole delay passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// takePINPad waits for the PIN pad; release with releasePINPad.
func (s *Sim) takePINPad(ctx context.Context) bool {
	select {
	case s.pinpad <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *Sim) releasePINPad() { <-s.pinpad }

func printable(v string) bool {
	return !slices.ContainsFunc([]byte(v), func(c byte) bool { return c < 0x20 || c > 0x7e })
}
