package payment_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // ticket days follow America/Sao_Paulo even without an OS tz database

	"go.uber.org/goleak"

	"github.com/totemd/totemd/payment"
	"github.com/totemd/totemd/payment/paymenttest"
	"github.com/totemd/totemd/sync/journal"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitLimit is a failure deadline, never a measure of speed: a state that has not come after
// this long is not coming. Generous: a loaded 2-core CI machine runs several packages at once.
const waitLimit = 30 * time.Second

// saoPaulo is the kiosk's zone in these tests.
var saoPaulo = func() *time.Location {
	loc, err := time.LoadLocation("America/Sao_Paulo")
	if err != nil {
		panic(err)
	}
	return loc
}()

// clock is the injectable clock of the Service, the fake PSP and the journal.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// retryAfterErr carries a PSP's Retry-After, so retries in tests take milliseconds.
type retryAfterErr time.Duration

func (e retryAfterErr) Error() string             { return "retry after " + time.Duration(e).String() }
func (e retryAfterErr) RetryAfter() time.Duration { return time.Duration(e) }

// pspDown is what a PSP client returns when the PSP does not answer.
func pspDown(retry time.Duration) error {
	return &payment.Error{Code: "pix.psp_unavailable", Kind: payment.KindUnavailable,
		Message: "PSP fora do ar.", Err: retryAfterErr(retry)}
}

// callerKey marks the context of a call made by the test (or the API), as opposed to a flow.
type callerKey struct{}

func callerCtx(ctx context.Context) context.Context { return context.WithValue(ctx, callerKey{}, true) }

// spyPix wraps the fake PSP: it counts calls per operation and txid, injects faults under its
// own lock (so tests can change them while flows run), and can hold the flows' status checks.
type spyPix struct {
	*paymenttest.Pix

	mu    sync.Mutex
	calls map[string]int // "create", "status", "cancel", "refund" and "op txid"
	// loseCreate, when set, lets CreateCharge reach the PSP and then answers with this error,
	// as a timeout after the PSP created the charge would.
	loseCreate error
	created    chan string // receives the txid of each CreateCharge that reached the PSP (if not full)
	failRefund error
	hold       chan struct{} // non-nil: status checks by flows wait until it is closed
	held       chan struct{} // receives a value when a flow's status check starts waiting
}

func newSpyPix(p *paymenttest.Pix) *spyPix {
	return &spyPix{Pix: p, calls: map[string]int{}, created: make(chan string, 16), held: make(chan struct{}, 1)}
}

func (s *spyPix) count(op, txid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[op]++
	if txid != "" {
		s.calls[op+" "+txid]++
	}
}

// Calls returns how many times op was called (for txid, when not empty).
func (s *spyPix) Calls(op, txid string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if txid != "" {
		return s.calls[op+" "+txid]
	}
	return s.calls[op]
}

func (s *spyPix) set(fn func(s *spyPix)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s)
}

// The spy honours contexts, as an HTTP client does (the fake PSP ignores them): a call made
// after the Service stopped fails instead of reaching the PSP.

func (s *spyPix) CreateCharge(ctx context.Context, req payment.PixChargeRequest) (payment.PixCharge, error) {
	s.count("create", req.TxID)
	if err := ctx.Err(); err != nil {
		return payment.PixCharge{}, err
	}
	c, err := s.Pix.CreateCharge(ctx, req)
	s.mu.Lock()
	lose := s.loseCreate
	s.mu.Unlock()
	if err == nil {
		select {
		case s.created <- req.TxID:
		default:
		}
	}
	if err == nil && lose != nil {
		return payment.PixCharge{}, lose
	}
	return c, err
}

func (s *spyPix) ChargeStatus(ctx context.Context, txid string) (payment.PixStatus, error) {
	s.count("status", txid)
	if err := ctx.Err(); err != nil {
		return payment.PixStatus{}, err
	}
	s.mu.Lock()
	hold := s.hold
	s.mu.Unlock()
	if hold != nil && ctx.Value(callerKey{}) == nil {
		select {
		case s.held <- struct{}{}:
		default:
		}
		select {
		case <-hold:
		case <-ctx.Done():
			return payment.PixStatus{}, ctx.Err()
		}
	}
	return s.Pix.ChargeStatus(ctx, txid)
}

func (s *spyPix) CancelCharge(ctx context.Context, txid string) error {
	s.count("cancel", txid)
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.Pix.CancelCharge(ctx, txid)
}

func (s *spyPix) Refund(ctx context.Context, e2eid, refundID string, amount payment.Money) error {
	s.count("refund", refundID)
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	fail := s.failRefund
	s.mu.Unlock()
	if fail != nil {
		return fail
	}
	return s.Pix.Refund(ctx, e2eid, refundID, amount)
}

// gatePrinter wraps the fake printer; when blocked, a print waits for the end of its context
// (the service stopping), as a printer that hangs mid-job would.
type gatePrinter struct {
	*paymenttest.Printer
	mu      sync.Mutex
	block   bool
	entered chan struct{}
}

func (g *gatePrinter) Block(b bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.block = b
}

func (g *gatePrinter) PrintTicket(ctx context.Context, t payment.Ticket) error {
	g.mu.Lock()
	b := g.block
	g.mu.Unlock()
	if b {
		select {
		case g.entered <- struct{}{}:
		default:
		}
		<-ctx.Done()
		return ctx.Err()
	}
	return g.Printer.PrintTicket(ctx, t)
}

// cardHooks wraps the fake terminal for scenarios the fake cannot play by itself.
type cardHooks struct {
	*paymenttest.Card
	mu sync.Mutex
	// sale, when set, replaces Sale; it gets the wrapped terminal.
	sale       func(ctx context.Context, c *paymenttest.Card, req payment.CardSale, progress func(string)) (payment.CardResult, error)
	confirmErr error
	confirms   int
	confirmSig chan struct{} // when not nil, receives a value at each Confirm (if not full)
}

func (h *cardHooks) Sale(ctx context.Context, req payment.CardSale, progress func(string)) (payment.CardResult, error) {
	h.mu.Lock()
	sale := h.sale
	h.mu.Unlock()
	if sale != nil {
		return sale(ctx, h.Card, req, progress)
	}
	return h.Card.Sale(ctx, req, progress)
}

func (h *cardHooks) Confirm(ctx context.Context, res payment.CardResult) error {
	h.mu.Lock()
	h.confirms++
	err, sig := h.confirmErr, h.confirmSig
	h.mu.Unlock()
	if sig != nil {
		select {
		case sig <- struct{}{}:
		default:
		}
	}
	if err != nil {
		return err
	}
	return h.Card.Confirm(ctx, res)
}

func (h *cardHooks) set(fn func(h *cardHooks)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	fn(h)
}

// Products of the test catalog. Prices ending in ,51 and ,53 drive the fake terminal's decline
// and no-answer scenarios.
var testCatalog = payment.Catalog{
	{SKU: "consulta", Name: "Consulta clínica", PriceCents: 15000, Prefix: "A"},
	{SKU: "exame", Name: "Exame de sangue", PriceCents: 8000, Prefix: "B"},
	{SKU: "taxa", Name: "Taxa administrativa", PriceCents: 500},
	{SKU: "recusa", Name: "Teste de recusa", PriceCents: 1051, Prefix: "D"},
	{SKU: "cancela", Name: "Teste cancelado no PIN pad", PriceCents: 1052, Prefix: "D"},
	{SKU: "mudo", Name: "Teste TEF mudo", PriceCents: 1053, Prefix: "D"},
}

func item(sku string, qty int) payment.Item {
	p, ok := testCatalog.Find(sku)
	if !ok {
		panic("no sku " + sku)
	}
	return payment.Item{SKU: sku, UnitCents: p.PriceCents, Qty: qty}
}

// env is one kiosk: a real bbolt journal in a temporary directory, the fakes, and a Service.
type env struct {
	t       testing.TB
	path    string
	clock   *clock
	cfg     payment.Config
	catalog payment.Catalog

	pix     *paymenttest.Pix
	spy     *spyPix
	card    *paymenttest.Card
	hooks   *cardHooks
	printer *paymenttest.Printer
	gate    *gatePrinter
	noPix   bool
	noCard  bool
	// term, when set, is the card terminal instead of the fake (a TEFCard over tefsim).
	term payment.CardTerminal

	store   *journal.Store
	svc     *payment.Service
	running bool
}

// start is 15:00 in São Paulo on a Monday.
var start = time.Date(2025, 3, 10, 15, 0, 0, 0, saoPaulo)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newEnv builds and starts a kiosk. mod, when given, adjusts the env before anything opens
// (config, catalog, fakes' fault settings).
func newEnv(t testing.TB, mod ...func(e *env)) *env {
	t.Helper()
	cfg := payment.DefaultConfig()
	cfg.PixPoll = 200 * time.Millisecond
	cfg.SessionTimeout = time.Hour
	cfg.PixExpiry = 5 * time.Minute
	e := &env{t: t, path: filepath.Join(t.TempDir(), "state", "totemd.db"), clock: &clock{t: start},
		cfg: cfg, catalog: testCatalog}
	e.pix = paymenttest.NewPix(e.clock.Now)
	e.spy = newSpyPix(e.pix)
	e.card = paymenttest.NewCard()
	e.hooks = &cardHooks{Card: e.card}
	e.printer = paymenttest.NewPrinter()
	e.gate = &gatePrinter{Printer: e.printer, entered: make(chan struct{}, 1)}
	for _, m := range mod {
		m(e)
	}
	t.Cleanup(e.stop)
	e.open()
	e.startService()
	e.waitCardReady() // a new journal: nothing to recover
	return e
}

func (e *env) open() {
	e.t.Helper()
	st, err := journal.Open(journal.Options{Path: e.path, KioskID: "TOTEM-TEST", Now: e.clock.Now, Logger: quiet()})
	if err != nil {
		e.t.Fatalf("journal.Open: %v", err)
	}
	e.store = st
}

func (e *env) startService() {
	e.t.Helper()
	o := payment.Options{Config: e.cfg, Catalog: e.catalog, Store: e.store, Printer: e.gate, Now: e.clock.Now, Logger: quiet()}
	if !e.noPix {
		o.Pix = e.spy
	}
	if !e.noCard {
		o.Card = e.hooks
	}
	if e.term != nil {
		o.Card = e.term
	}
	svc, err := payment.New(o)
	if err != nil {
		e.t.Fatalf("payment.New: %v", err)
	}
	if err := svc.Start(); err != nil {
		svc.Close()
		e.t.Fatalf("Start: %v", err)
	}
	e.svc, e.running = svc, true
}

// stop closes the Service (every flow has returned when it does) and the journal.
func (e *env) stop() {
	if !e.running {
		return
	}
	e.running = false
	e.svc.Close()
	if err := e.store.Close(); err != nil {
		e.t.Errorf("closing the journal: %v", err)
	}
}

// waitCardReady waits until start-up card recovery is done.
func (e *env) waitCardReady() {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !e.svc.CardRecovered() {
		if time.Now().After(deadline) {
			e.t.Fatal("card recovery not done after 30s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// restart stops the kiosk, lets between act on the closed world (nil: nothing), reopens the
// journal file and starts a new Service on it, as after a reboot. Card recovery runs in the
// background: a test that sells by card after a restart waits for it (waitCardReady).
func (e *env) restart(between func()) {
	e.t.Helper()
	e.stop()
	if between != nil {
		between()
	}
	e.open()
	e.startService()
}

// rewrite changes a stored session directly in the journal (the Service must be stopped): the
// state a crash at an exact point would have left.
func (e *env) rewrite(id string, fn func(s *payment.Session)) {
	e.t.Helper()
	st, err := journal.Open(journal.Options{Path: e.path, Now: e.clock.Now, Logger: quiet()})
	if err != nil {
		e.t.Fatalf("journal.Open: %v", err)
	}
	defer st.Close()
	_, err = st.Update(func(tx *journal.Tx) error {
		var s payment.Session
		if err := json.Unmarshal(tx.Get(journal.BucketSessions, id), &s); err != nil {
			return err
		}
		fn(&s)
		s.Version++
		raw, err := json.Marshal(&s)
		if err != nil {
			return err
		}
		return tx.Put(journal.BucketSessions, id, raw)
	})
	if err != nil {
		e.t.Fatalf("rewriting session %s: %v", id, err)
	}
}

func (e *env) create(items ...payment.Item) *payment.Session {
	e.t.Helper()
	s, err := e.svc.Create(context.Background(), items)
	if err != nil {
		e.t.Fatalf("Create: %v", err)
	}
	return s
}

func (e *env) pay(id string, m payment.Method) *payment.Session {
	e.t.Helper()
	s, err := e.svc.Pay(context.Background(), id, payment.PayRequest{Method: m})
	if err != nil {
		e.t.Fatalf("Pay(%s): %v", m, err)
	}
	return s
}

func (e *env) get(id string) *payment.Session {
	e.t.Helper()
	s, err := e.svc.Get(context.Background(), id)
	if err != nil {
		e.t.Fatalf("Get: %v", err)
	}
	return s
}

// waitSession re-reads the session after every journal commit until ok says so, the store
// closes, or ctx ends.
func waitSession(ctx context.Context, st *journal.Store, svc *payment.Service, id string, ok func(*payment.Session) bool) (*payment.Session, error) {
	for {
		ch := st.Changed()
		s, err := svc.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if ok(s) {
			return s, nil
		}
		select {
		case <-ctx.Done():
			return s, fmt.Errorf("%w; the session is %s", ctx.Err(), describe(s))
		case <-ch:
		}
	}
}

// waitFor waits (on the journal) until ok holds for the session.
func (e *env) waitFor(id, what string, ok func(*payment.Session) bool) *payment.Session {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	s, err := waitSession(ctx, e.store, e.svc, id, ok)
	if err != nil {
		e.t.Fatalf("waiting for %s: %v", what, err)
	}
	return s
}

func (e *env) waitState(id string, want payment.State) *payment.Session {
	e.t.Helper()
	return e.waitFor(id, "state "+string(want), func(s *payment.Session) bool { return s.State == want })
}

func (e *env) waitAttempt(id string, n int, want payment.AttemptState) *payment.Session {
	e.t.Helper()
	return e.waitFor(id, fmt.Sprintf("attempt %d %s", n, want), func(s *payment.Session) bool {
		a := s.Attempt(n)
		return a != nil && a.State == want
	})
}

// waitChan waits for a signal from a fake (an event no journal write reports).
func waitChan[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitLimit):
		t.Fatalf("waited %s for %s", waitLimit, what)
		panic("unreachable")
	}
}

// events returns the session's events, in log order. On a stopped kiosk it reads the file.
func (e *env) events(id string) []journal.Event {
	e.t.Helper()
	st := e.store
	if !e.running {
		var err error
		st, err = journal.Open(journal.Options{Path: e.path, ReadOnly: true, Logger: quiet()})
		if err != nil {
			e.t.Fatalf("journal.Open: %v", err)
		}
		defer st.Close()
	}
	var out []journal.Event
	var after uint64
	for {
		evs, err := st.Events(after, 0)
		if err != nil {
			e.t.Fatalf("Events: %v", err)
		}
		if len(evs) == 0 {
			return out
		}
		for _, ev := range evs {
			if ev.SessionID == id {
				out = append(out, ev)
			}
		}
		after = evs[len(evs)-1].Seq
	}
}

// stateTrail decodes the session events (notes left out) into "type:state[/attempt state]".
func stateTrail(t testing.TB, evs []journal.Event) (trail []string, versions []int64) {
	t.Helper()
	for _, ev := range evs {
		if ev.Type == payment.EventSessionNote {
			continue
		}
		if ev.Type == payment.EventPixQR {
			trail = append(trail, ev.Type) // not a session snapshot: no version
			continue
		}
		var s payment.Session
		if err := json.Unmarshal(ev.Data, &s); err != nil {
			t.Fatalf("event %d: %v", ev.Seq, err)
		}
		step := ev.Type + ":" + string(s.State)
		if a := s.Current(); a != nil {
			step += "/" + string(a.State)
		}
		trail = append(trail, step)
		versions = append(versions, s.Version)
	}
	return trail, versions
}

// waitNote waits until a session.note with code is in the journal.
func (e *env) waitNote(id, code string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	for {
		ch := e.store.Changed()
		if slices.Contains(notes(e.t, e.events(id)), code) {
			return
		}
		select {
		case <-ctx.Done():
			e.t.Fatalf("waited %s for the note %s on %s", waitLimit, code, id)
		case <-ch:
		}
	}
}

func notes(t testing.TB, evs []journal.Event) []string {
	t.Helper()
	var out []string
	for _, ev := range evs {
		if ev.Type != payment.EventSessionNote {
			continue
		}
		var p payment.Problem
		if err := json.Unmarshal(ev.Data, &p); err != nil {
			t.Fatalf("note %d: %v", ev.Seq, err)
		}
		out = append(out, p.Code)
	}
	return out
}

func describe(s *payment.Session) string {
	if s == nil {
		return "<nil>"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s v%d ticket %q", s.State, s.Version, s.Ticket)
	if s.Problem != nil {
		fmt.Fprintf(&b, " problem %s", s.Problem.Code)
	}
	for _, a := range s.Attempts {
		fmt.Fprintf(&b, " [#%d %s %s", a.N, a.Method, a.State)
		if a.Problem != nil {
			fmt.Fprintf(&b, " %s", a.Problem.Code)
		}
		b.WriteString("]")
	}
	return b.String()
}

// errCode returns the code and kind of a *payment.Error (or fails).
func errCode(t testing.TB, err error) (string, payment.Kind) {
	t.Helper()
	var pe *payment.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *payment.Error", err, err)
	}
	return pe.Code, pe.Kind
}
