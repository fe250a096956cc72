package payment_test

// The Pix flow of the Service against the real PSP simulator (pixsim): a real journal, the
// production BCB client (OAuth2 + mTLS, built from the simulator's certificate files, as the
// daemon builds it from its config) and payment.PixPSP. Faults are injected at the simulator;
// what the simulator served is read from its own request log. Nothing sleeps to wait for a
// state: tests wait on the journal (Changed + re-read) or on the simulator's request log, with
// a failure deadline.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/totemd/totemd/payment"
	"github.com/totemd/totemd/payment/paymenttest"
	"github.com/totemd/totemd/payment/pix"
	"github.com/totemd/totemd/payment/pix/pixsim"
	"github.com/totemd/totemd/sync/journal"
)

// The simulated PSP's identity in these tests (deliberately not pixsim's defaults, so a client
// that silently fell back to them would fail).
const (
	simClientID = "totemd-test-client"
	simSecret   = "s3cret-do-teste"
	simPixKey   = "0b6a2f0e-5c1d-4e55-9c57-2f7d0b0c9a11"
	simMerchant = "CLINICA TESTE"
	simCity     = "SAO PAULO"
)

// ---- the simulator's request log ----

// simReq is one request the simulator served (its "pixsim: request" debug record, written when
// the handler returns; Status 0: the answer was dropped).
type simReq struct {
	At     time.Time
	Method string
	Path   string
	Status int
}

// simLog is a slog.Handler that keeps the simulator's request log and tells waiters about
// every new request.
type simLog struct {
	mu      sync.Mutex
	reqs    []simReq
	notes   []string // the other records: message and txid ("pixsim: charge created TXID")
	changed chan struct{}
}

func newSimLog() *simLog { return &simLog{changed: make(chan struct{})} }

func (l *simLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *simLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *simLog) WithGroup(string) slog.Handler            { return l }

func (l *simLog) Handle(_ context.Context, r slog.Record) error {
	if os.Getenv("PIXSIM_TEST_LOG") != "" {
		fmt.Fprintf(os.Stderr, "pixsim %s %s\n", r.Time.Format("15:04:05.000"), r.Message)
	}
	if r.Message != "pixsim: request" {
		var txid string
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "txid" {
				txid = a.Value.String()
			}
			return true
		})
		l.mu.Lock()
		l.notes = append(l.notes, r.Message+" "+txid)
		close(l.changed)
		l.changed = make(chan struct{})
		l.mu.Unlock()
		return nil
	}
	q := simReq{At: r.Time}
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "method":
			q.Method = a.Value.String()
		case "path":
			q.Path = a.Value.String()
		case "status":
			q.Status = int(a.Value.Int64())
		}
		return true
	})
	l.mu.Lock()
	l.reqs = append(l.reqs, q)
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
	return nil
}

// match returns the requests with method whose path starts with prefix, in order.
func (l *simLog) match(method, prefix string) []simReq {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []simReq
	for _, q := range l.reqs {
		if (method == "" || q.Method == method) && strings.HasPrefix(q.Path, prefix) {
			out = append(out, q)
		}
	}
	return out
}

func (l *simLog) count(method, prefix string) int { return len(l.match(method, prefix)) }

// noted reports whether the simulator logged msg about txid.
func (l *simLog) noted(msg, txid string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Contains(l.notes, msg+" "+txid)
}

// wait blocks until ok holds for the log, failing t after waitLimit.
func (l *simLog) wait(t testing.TB, what string, ok func(l *simLog) bool) {
	t.Helper()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		ch := l.changed
		l.mu.Unlock()
		if ok(l) {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("waited %s for the simulator to serve %s", waitLimit, what)
		}
	}
}

// ---- a kiosk paying through pixsim ----

// simEnv is one kiosk whose Pix goes to a pixsim over mTLS: journal, client, provider and
// Service; the fake printer and card terminal of paymenttest.
type simEnv struct {
	t      testing.TB
	dir    string
	cfg    payment.Config
	pixCfg pix.Config
	simOpt pixsim.Options
	log    *simLog
	// clientMod, when set, adjusts each new client (retry knobs) before it is used.
	clientMod func(c *pix.Client)
	noPix     bool // start the Service without a Pix provider
	// now, when set, is the Service's clock (the PSP keeps real time).
	now func() time.Time

	sim     *pixsim.Sim
	client  *pix.Client
	store   *journal.Store
	svc     *payment.Service
	printer *paymenttest.Printer
	running bool
}

func newSimEnv(t testing.TB, mod ...func(e *simEnv)) *simEnv {
	t.Helper()
	dir := t.TempDir()
	cfg := payment.DefaultConfig()
	cfg.PixPoll = 200 * time.Millisecond
	cfg.SessionTimeout = time.Hour
	cfg.PixExpiry = 5 * time.Minute
	e := &simEnv{t: t, dir: dir, cfg: cfg, log: newSimLog(), printer: paymenttest.NewPrinter()}
	e.simOpt = pixsim.Options{Dir: filepath.Join(dir, "pixsim"), ClientID: simClientID, ClientSecret: simSecret,
		PixKey: simPixKey, MerchantName: simMerchant, MerchantCity: simCity, Logger: slog.New(e.log)}
	secretFile := filepath.Join(dir, "pix-secret")
	if err := os.WriteFile(secretFile, []byte(simSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.pixCfg = pix.Config{Profile: "bcb", ClientID: simClientID, ClientSecretFile: secretFile, PixKey: simPixKey,
		MerchantName: simMerchant, MerchantCity: simCity, Timeout: 5 * time.Second}
	for _, m := range mod {
		m(e)
	}
	t.Cleanup(e.close)
	e.startSim()
	e.startKiosk()
	return e
}

func testLogger() *slog.Logger {
	if os.Getenv("PIXSIM_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return quiet()
}

// startSim starts the simulator on its state directory; a restart listens on the same address,
// so the kiosk's config (base_url) stays right, as with a real PSP.
func (e *simEnv) startSim() {
	e.t.Helper()
	sim, err := pixsim.Start(e.simOpt)
	if err != nil {
		e.t.Fatalf("pixsim.Start: %v", err)
	}
	e.sim = sim
	e.simOpt.Addr = strings.TrimPrefix(sim.BaseURL(), "https://")
	c := sim.Certs()
	e.pixCfg.BaseURL = sim.BaseURL()
	e.pixCfg.Cert = filepath.Join(c.Dir, "client.pem")
	e.pixCfg.Key = filepath.Join(c.Dir, "client.key")
	e.pixCfg.CA = filepath.Join(c.Dir, "ca.pem")
}

// startKiosk opens the journal, builds the client from the config's files and starts a Service.
func (e *simEnv) startKiosk() {
	e.t.Helper()
	st, err := journal.Open(journal.Options{Path: filepath.Join(e.dir, "state", "journal.db"), KioskID: "TOTEM-PIXSIM", Logger: quiet()})
	if err != nil {
		e.t.Fatalf("journal.Open: %v", err)
	}
	client, err := pix.New(e.pixCfg, pix.Options{Logger: testLogger()})
	if err != nil {
		st.Close()
		e.t.Fatalf("pix.New: %v", err)
	}
	if e.clientMod != nil {
		e.clientMod(client)
	}
	o := payment.Options{Config: e.cfg, Catalog: testCatalog, Store: st, Printer: e.printer,
		Card: paymenttest.NewCard(), Now: e.now, Logger: testLogger()}
	if !e.noPix {
		o.Pix = payment.NewPixPSP(client, e.pixCfg)
	}
	svc, err := payment.New(o)
	if err != nil {
		client.Close()
		st.Close()
		e.t.Fatalf("payment.New: %v", err)
	}
	e.store, e.client, e.svc, e.running = st, client, svc, true
	if err := svc.Start(); err != nil {
		e.t.Fatalf("Start: %v", err)
	}
}

// stopKiosk closes the Service (every flow has returned when it does), the client and the journal.
func (e *simEnv) stopKiosk() {
	if !e.running {
		return
	}
	e.running = false
	e.svc.Close()
	e.client.Close()
	if err := e.store.Close(); err != nil {
		e.t.Errorf("closing the journal: %v", err)
	}
}

func (e *simEnv) close() {
	e.stopKiosk()
	if e.sim != nil {
		if err := e.sim.Close(); err != nil {
			e.t.Errorf("closing pixsim: %v", err)
		}
	}
}

// restart stops the kiosk (and the simulator too, when sim is true: faults queued at it are
// gone, its ledger is kept on disk), then starts everything again on the same files.
func (e *simEnv) restart(sim bool) {
	e.t.Helper()
	e.stopKiosk()
	if sim {
		if err := e.sim.Close(); err != nil {
			e.t.Fatalf("closing pixsim: %v", err)
		}
		e.startSim()
	}
	e.startKiosk()
}

func (e *simEnv) create(items ...payment.Item) *payment.Session {
	e.t.Helper()
	s, err := e.svc.Create(context.Background(), items)
	if err != nil {
		e.t.Fatalf("Create: %v", err)
	}
	return s
}

func (e *simEnv) payPix(id string) *payment.Session {
	e.t.Helper()
	s, err := e.svc.Pay(context.Background(), id, payment.PayRequest{Method: payment.MethodPix})
	if err != nil {
		e.t.Fatalf("Pay(pix): %v", err)
	}
	return s
}

func (e *simEnv) get(id string) *payment.Session {
	e.t.Helper()
	s, err := e.svc.Get(context.Background(), id)
	if err != nil {
		e.t.Fatalf("Get: %v", err)
	}
	return s
}

func (e *simEnv) waitFor(id, what string, ok func(*payment.Session) bool) *payment.Session {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	s, err := waitSession(ctx, e.store, e.svc, id, ok)
	if err != nil {
		e.t.Fatalf("waiting for %s: %v", what, err)
	}
	return s
}

func (e *simEnv) waitState(id string, want payment.State) *payment.Session {
	e.t.Helper()
	return e.waitFor(id, "state "+string(want), func(s *payment.Session) bool { return s.State == want })
}

func (e *simEnv) waitAttempt(id string, n int, want payment.AttemptState) *payment.Session {
	e.t.Helper()
	return e.waitFor(id, fmt.Sprintf("attempt %d %s", n, want), func(s *payment.Session) bool {
		a := s.Attempt(n)
		return a != nil && a.State == want
	})
}

// events returns the session's events in log order.
func (e *simEnv) events(id string) []journal.Event {
	e.t.Helper()
	var out []journal.Event
	var after uint64
	for {
		evs, err := e.store.Events(after, 0)
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

// waitNote waits until a session.note with code is in the journal.
func (e *simEnv) waitNote(id, code string) {
	e.t.Helper()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	for {
		ch := e.store.Changed()
		if slices.Contains(notes(e.t, e.events(id)), code) {
			return
		}
		select {
		case <-deadline.C:
			e.t.Fatalf("waited %s for the note %s on %s", waitLimit, code, id)
		case <-ch:
		}
	}
}

// sessionStates is the trail of session states in the session's events (pix.qr and notes left out).
func sessionStates(t testing.TB, evs []journal.Event) []payment.State {
	t.Helper()
	var out []payment.State
	for _, ev := range evs {
		if ev.Type == payment.EventSessionNote || ev.Type == payment.EventPixQR {
			continue
		}
		var s payment.Session
		if err := json.Unmarshal(ev.Data, &s); err != nil {
			t.Fatalf("event %d: %v", ev.Seq, err)
		}
		if len(out) == 0 || out[len(out)-1] != s.State {
			out = append(out, s.State)
		}
	}
	return out
}

func problemCode(p *payment.Problem) string {
	if p == nil {
		return ""
	}
	return p.Code
}

// ---- 1. the happy path ----

func TestPixSimHappyPath(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t)
	s := e.create(item("consulta", 1))
	txid := payment.PixTxID(s.ID, 1)
	before := time.Now()
	e.payPix(s.ID)
	act := e.waitAttempt(s.ID, 1, payment.AttemptActive)
	after := time.Now()
	a := act.Attempt(1)
	if act.State != payment.StatePaying || a.Pix.TxID != txid || a.Pix.BRCode == "" || a.Pix.Location == "" {
		t.Fatalf("active attempt: %s %+v", describe(act), a.Pix)
	}

	// The QR event: one, committed no later than the attempt became active.
	evs := e.events(s.ID)
	qrAt, activeAt, qrs := -1, -1, 0
	for i, ev := range evs {
		if ev.Type == payment.EventPixQR {
			qrs++
			if qrAt < 0 {
				qrAt = i
			}
			continue
		}
		if ev.Type == payment.EventSessionNote {
			continue
		}
		var ss payment.Session
		if err := json.Unmarshal(ev.Data, &ss); err != nil {
			t.Fatal(err)
		}
		if at := ss.Attempt(1); activeAt < 0 && at != nil && at.State == payment.AttemptActive {
			activeAt = i
		}
	}
	if qrs != 1 || qrAt < 0 || activeAt < 0 {
		t.Fatalf("want one %s event and an active attempt in the log; got %d QR events, active at %d", payment.EventPixQR, qrs, activeAt)
	}
	if evs[qrAt].Seq > evs[activeAt].Seq {
		t.Errorf("%s (seq %d) committed after the attempt became active (seq %d)", payment.EventPixQR, evs[qrAt].Seq, evs[activeAt].Seq)
	}
	var qr payment.PixQR
	if err := json.Unmarshal(evs[qrAt].Data, &qr); err != nil {
		t.Fatalf("%s data: %v", payment.EventPixQR, err)
	}
	if qr.TxID != txid || qr.Attempt != 1 || qr.BRCode != a.Pix.BRCode || !qr.ExpiresAt.Equal(a.Pix.ExpiresAt) {
		t.Errorf("QR event %+v does not match the attempt %+v", qr, a.Pix)
	}
	lo, hi := before.Add(e.cfg.PixExpiry-2*time.Second), after.Add(e.cfg.PixExpiry+2*time.Second)
	if qr.ExpiresAt.Before(lo) || qr.ExpiresAt.After(hi) {
		t.Errorf("expires_at %s, want about creation + %s (%s..%s)", qr.ExpiresAt, e.cfg.PixExpiry, lo, hi)
	}
	b64, ok := strings.CutPrefix(qr.PNG, "data:image/png;base64,")
	if !ok {
		t.Fatalf("png is not a PNG data URL: %.40q", qr.PNG)
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatalf("png base64: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("png: %v", err)
	}
	if b := img.Bounds(); b.Dx() != e.cfg.QRSize || b.Dy() != e.cfg.QRSize {
		t.Errorf("QR PNG is %dx%d, want %d", b.Dx(), b.Dy(), e.cfg.QRSize)
	}
	if want, _ := pix.QRDataURL(qr.BRCode, e.cfg.QRSize); want != qr.PNG {
		t.Errorf("the PNG is not the QR of the BR Code")
	}

	// The BR Code is the PSP's dynamic code for this charge.
	ch, ok := e.sim.Charge(txid)
	if !ok {
		t.Fatalf("no charge %s at the PSP", txid)
	}
	d := pix.Decode(qr.BRCode)
	if !d.Valid || d.Kind != "dynamic" || d.PointOfInitiation != "12" {
		t.Fatalf("BR Code %q: valid %v kind %q poi %q: %s", qr.BRCode, d.Valid, d.Kind, d.PointOfInitiation, d.Error)
	}
	if d.URL != ch.Location || a.Pix.Location != ch.Location || d.Key != "" {
		t.Errorf("BR Code URL %q, attempt location %q, key %q; the charge's location is %q", d.URL, a.Pix.Location, d.Key, ch.Location)
	}
	if d.AmountCents != 15000 || d.Amount != "150.00" || d.MerchantName != simMerchant || d.MerchantCity != simCity || d.TxID != "***" {
		t.Errorf("BR Code fields: amount %q (%d) name %q city %q txid %q", d.Amount, d.AmountCents, d.MerchantName, d.MerchantCity, d.TxID)
	}
	if ch.AmountCents != 15000 || ch.Status != "ATIVA" || ch.Puts != 1 || ch.PixCopiaECola != qr.BRCode {
		t.Errorf("charge at the PSP: %+v", ch)
	}

	// The customer pays.
	e2e, err := e.sim.Pay(txid, 15000)
	if err != nil {
		t.Fatalf("sim.Pay: %v", err)
	}
	done := e.waitState(s.ID, payment.StateFulfilled)
	da := done.Attempt(1)
	if da.State != payment.AttemptConcluded || da.Pix.E2EID != e2e || da.Pix.PaidCents != 15000 || da.Pix.PaidAt.IsZero() || done.PaidAt.IsZero() {
		t.Errorf("fulfilled session: %s %+v", describe(done), da.Pix)
	}
	if got := sessionStates(t, e.events(s.ID)); !slices.Equal(got, []payment.State{payment.StateOpen, payment.StatePaying, payment.StatePaid, payment.StateFulfilled}) {
		t.Errorf("state trail %v", got)
	}
	if p := e.printer.Printed(); len(p) != 1 || p[0].Number != done.Ticket || p[0].Pix == nil || p[0].Pix.E2EID != e2e || p[0].Total != 15000 {
		t.Errorf("printed tickets: %+v", p)
	}
	all := e.sim.Charges()
	if len(all) != 1 || all[0].TxID != txid || all[0].Status != "CONCLUIDA" || all[0].Puts != 1 || len(all[0].Payments) != 1 {
		t.Errorf("PSP ledger: %+v", all)
	}
	if r := e.sim.Refunds(); len(r) != 0 {
		t.Errorf("refunds at the PSP: %+v", r)
	}
	if n := e.log.count("PUT", "/cob/"); n != 1 {
		t.Errorf("%d PUT /cob, want 1", n)
	}
}

// ---- 2. PSP failures while creating the charge ----

func TestPixSimCreateFaults(t *testing.T) {
	t.Parallel()

	t.Run("5xx twice then OK", func(t *testing.T) {
		t.Parallel()
		e := newSimEnv(t)
		s := e.create(item("consulta", 1))
		txid := payment.PixTxID(s.ID, 1)
		e.sim.Fail(pixsim.Fault{Path: "/cob/" + txid, Method: "PUT", Status: 500, Times: 2})
		e.payPix(s.ID)
		act := e.waitAttempt(s.ID, 1, payment.AttemptActive)
		if act.State != payment.StatePaying || act.Attempt(1).Problem != nil {
			t.Errorf("after two 500s: %s", describe(act))
		}
		puts := e.log.match("PUT", "/cob/"+txid)
		if len(puts) != 3 || puts[0].Status != 500 || puts[1].Status != 500 || puts[2].Status != 201 {
			t.Errorf("PUT /cob answers: %+v, want 500, 500, 201", puts)
		}
		if all := e.sim.Charges(); len(all) != 1 || all[0].Puts != 1 {
			t.Errorf("PSP ledger: %+v, want one charge", all)
		}
	})

	t.Run("503 forever fails the attempt, session stays open", func(t *testing.T) {
		t.Parallel()
		// The client's own retries off and Retry-After: 1, so the flow's four tries take ~3 s.
		e := newSimEnv(t, func(e *simEnv) { e.clientMod = func(c *pix.Client) { c.MaxRetries = 0 } })
		s := e.create(item("consulta", 1))
		txid := payment.PixTxID(s.ID, 1)
		e.sim.Fail(pixsim.Fault{Path: "/cob/" + txid, Method: "PUT", Status: 503, RetryAfter: 1, Times: 1 << 20})
		e.payPix(s.ID)
		failed := e.waitAttempt(s.ID, 1, payment.AttemptFailed)
		if failed.State != payment.StateOpen || problemCode(failed.Attempt(1).Problem) != "pix.psp_unavailable" || problemCode(failed.Problem) != "pix.psp_unavailable" {
			t.Errorf("after 503s: %s", describe(failed))
		}
		if n := e.log.count("PUT", "/cob/"+txid); n != 4 {
			t.Errorf("%d PUT /cob for the attempt, want the flow's 4 tries", n)
		}
		if all := e.sim.Charges(); len(all) != 0 {
			t.Errorf("PSP ledger: %+v, want no charge", all)
		}
		// The customer tries Pix again: a new txid, not under the fault.
		e.payPix(s.ID)
		e.waitAttempt(s.ID, 2, payment.AttemptActive)
		if _, err := e.sim.Pay(payment.PixTxID(s.ID, 2), 15000); err != nil {
			t.Fatal(err)
		}
		e.waitState(s.ID, payment.StateFulfilled)
	})

	// The PSP creates the charge but answers after the client's timeout (1 s): the answer is
	// lost and PUT is retried with the same txid.
	for _, times := range []int{1, 3} {
		t.Run(fmt.Sprintf("slow PSP, %d late answers", times), func(t *testing.T) {
			t.Parallel()
			e := newSimEnv(t, func(e *simEnv) { e.pixCfg.Timeout = time.Second })
			s := e.create(item("consulta", 1))
			txid := payment.PixTxID(s.ID, 1)
			e.sim.Fail(pixsim.Fault{Path: "/cob/" + txid, Method: "PUT", Delay: 1500 * time.Millisecond, AfterHandling: true, Times: times})
			e.payPix(s.ID)
			act := e.waitAttempt(s.ID, 1, payment.AttemptActive)
			ch, _ := e.sim.Charge(txid)
			if all := e.sim.Charges(); len(all) != 1 || ch.Puts != times+1 {
				t.Errorf("PSP ledger %+v: want one charge reached by %d PUTs", all, times+1)
			}
			if act.Attempt(1).Pix.Location != ch.Location {
				t.Errorf("attempt location %q, charge's %q", act.Attempt(1).Pix.Location, ch.Location)
			}
			if _, err := e.sim.Pay(txid, 15000); err != nil {
				t.Fatal(err)
			}
			e.waitState(s.ID, payment.StateFulfilled)
			if all := e.sim.Charges(); len(all) != 1 {
				t.Errorf("%d charges at the PSP", len(all))
			}
		})
	}
}

// ---- 3. rate limit while polling ----

func TestPixSimRateLimitedPolling(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t)
	s := e.create(item("consulta", 1))
	txid := payment.PixTxID(s.ID, 1)
	// Every status check of this charge is refused three times with Retry-After: 1.
	e.sim.Fail(pixsim.Fault{Path: "/cob/" + txid, Method: "GET", Status: 429, RetryAfter: 1, Times: 3})
	e.payPix(s.ID)
	act := e.waitAttempt(s.ID, 1, payment.AttemptActive)
	start := time.Now()
	if _, err := e.sim.Pay(txid, 15000); err != nil {
		t.Fatal(err)
	}
	paid := e.waitFor(s.ID, "paid", func(s *payment.Session) bool { return s.PaidAt.After(time.Time{}) })
	took := time.Since(start)
	if paid.State != payment.StatePaid && paid.State != payment.StateFulfilled {
		t.Fatalf("after the 429s: %s", describe(paid))
	}
	gets := e.log.match("GET", "/cob/"+txid)
	var statuses []int
	for _, g := range gets {
		statuses = append(statuses, g.Status)
	}
	if len(gets) < 4 || !slices.Equal(statuses[:4], []int{429, 429, 429, 200}) {
		t.Fatalf("GET /cob answers %v, want 429 429 429 200", statuses)
	}
	for i := 1; i < 4; i++ {
		if gap := gets[i].At.Sub(gets[i-1].At); gap < 900*time.Millisecond {
			t.Errorf("GET %d came %s after a 429 with Retry-After: 1", i+1, gap)
		}
	}
	// Over the ~3 s the PSP asked for, polling every 200 ms would have sent ~15 GETs.
	window := gets[3].At.Sub(gets[0].At)
	if polls := int(window / e.cfg.PixPoll); len(gets) > 5 || polls < 10 {
		t.Errorf("%d GETs over %s (the poll interval would send %d)", len(gets), window, polls)
	}
	t.Logf("429 x3 with Retry-After 1s: payment seen %s after it was made; %d GETs over %s (active at v%d)", took.Round(time.Millisecond), len(gets), window.Round(time.Millisecond), act.Version)
	e.waitState(s.ID, payment.StateFulfilled)
}

// ---- 4. token expired mid-flow ----

func TestPixSimTokenExpiredMidFlow(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t)
	s := e.create(item("consulta", 1))
	txid := payment.PixTxID(s.ID, 1)
	e.payPix(s.ID)
	e.waitAttempt(s.ID, 1, payment.AttemptActive)
	tokens := e.log.count("POST", "/oauth/token")
	e.sim.ExpireTokens()
	if _, err := e.sim.Pay(txid, 15000); err != nil {
		t.Fatal(err)
	}
	done := e.waitState(s.ID, payment.StateFulfilled)
	if done.Problem != nil || done.Attempt(1).Problem != nil {
		t.Errorf("a token refresh surfaced as a problem: %s", describe(done))
	}
	if got := sessionStates(t, e.events(s.ID)); !slices.Equal(got, []payment.State{payment.StateOpen, payment.StatePaying, payment.StatePaid, payment.StateFulfilled}) {
		t.Errorf("state trail %v", got)
	}
	var unauthorized int
	for _, q := range e.log.match("", "/") {
		if q.Status == 401 {
			unauthorized++
		}
	}
	if unauthorized != 1 || e.log.count("POST", "/oauth/token") != tokens+1 {
		t.Errorf("%d answers 401 and %d new tokens after the expiry, want 1 and 1", unauthorized, e.log.count("POST", "/oauth/token")-tokens)
	}
}

// ---- 5. wrong amount ----

func TestPixSimWrongAmount(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t)
	s := e.create(item("consulta", 1))
	txid := payment.PixTxID(s.ID, 1)
	e.payPix(s.ID)
	e.waitAttempt(s.ID, 1, payment.AttemptActive)
	e2e, err := e.sim.Pay(txid, 15000-1)
	if err != nil {
		t.Fatal(err)
	}
	got := e.waitFor(s.ID, "the wrong amount refunded", func(s *payment.Session) bool {
		a := s.Attempt(1)
		return a.State == payment.AttemptFailed && a.Pix.Refunded
	})
	a := got.Attempt(1)
	if got.State != payment.StateOpen || problemCode(a.Problem) != "pix.wrong_amount" || problemCode(got.Problem) != "pix.wrong_amount" ||
		a.Pix.E2EID != e2e || a.Pix.PaidCents != 14999 || a.Pix.RefundID != payment.PixRefundID(s.ID, 1) {
		t.Errorf("after a wrong amount: %s %+v", describe(got), a.Pix)
	}
	refunds := e.sim.Refunds()
	if len(refunds) != 1 || refunds[0].E2EID != e2e || refunds[0].ID != a.Pix.RefundID || refunds[0].AmountCents != 14999 {
		t.Fatalf("refunds at the PSP: %+v, want one of 149,99 for %s", refunds, e2e)
	}
	if len(e.printer.Printed()) != 0 {
		t.Errorf("a ticket was printed for a wrong amount")
	}

	// A second attempt pays.
	e.payPix(s.ID)
	e.waitAttempt(s.ID, 2, payment.AttemptActive)
	if _, err := e.sim.Pay(payment.PixTxID(s.ID, 2), 15000); err != nil {
		t.Fatal(err)
	}
	done := e.waitState(s.ID, payment.StateFulfilled)
	if done.Attempt(1).State != payment.AttemptFailed || done.Attempt(2).State != payment.AttemptConcluded || done.Problem != nil {
		t.Errorf("after the second attempt: %s", describe(done))
	}
	if r := e.sim.Refunds(); len(r) != 1 || e.log.count("PUT", "/pix/") != 1 {
		t.Errorf("refunds at the PSP: %+v (%d PUT devolucao), want exactly one", r, e.log.count("PUT", "/pix/"))
	}
	if n := len(e.sim.Charges()); n != 2 {
		t.Errorf("%d charges at the PSP, want 2", n)
	}
}

// ---- 6. late payment, refunded once, across a restart ----

// cancelWithFailingPatch cancels a session whose PATCH /cob the PSP refuses: the session is
// cancelled, the charge stays ATIVA (payable) and watched.
func cancelWithFailingPatch(t *testing.T, e *simEnv, id string) {
	t.Helper()
	txid := payment.PixTxID(id, 1)
	e.sim.Fail(pixsim.Fault{Path: "/cob/" + txid, Method: "PATCH", Status: 503, Times: 1 << 20})
	c, err := e.svc.Cancel(context.Background(), id)
	if err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	if c.State != payment.StateCancelled || c.Attempt(1).State != payment.AttemptActive {
		t.Fatalf("cancel with the PATCH failing: %s", describe(c))
	}
	if ch, _ := e.sim.Charge(txid); ch.Status != "ATIVA" || e.log.count("PATCH", "/cob/"+txid) == 0 {
		t.Fatalf("the charge is %s after %d PATCHes", ch.Status, e.log.count("PATCH", "/cob/"+txid))
	}
}

func TestPixSimLatePaymentRefundedOnceAcrossRestart(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t)
	s := e.create(item("consulta", 1))
	txid := payment.PixTxID(s.ID, 1)
	e.payPix(s.ID)
	e.waitAttempt(s.ID, 1, payment.AttemptActive)
	cancelWithFailingPatch(t, e, s.ID)

	// The customer pays the QR they still hold.
	e2e, err := e.sim.Pay(txid, 15000)
	if err != nil {
		t.Fatalf("paying the charge of a cancelled session: %v", err)
	}
	got := e.waitState(s.ID, payment.StateRefunded)
	a := got.Attempt(1)
	if a.State != payment.AttemptConcluded || !a.Pix.Refunded || a.Pix.E2EID != e2e || a.Pix.RefundID != payment.PixRefundID(s.ID, 1) {
		t.Errorf("late payment: %s %+v", describe(got), a.Pix)
	}
	if trail := sessionStates(t, e.events(s.ID)); !slices.Equal(trail, []payment.State{payment.StateOpen, payment.StatePaying, payment.StateCancelled, payment.StatePaidLate, payment.StateRefunded}) {
		t.Errorf("state trail %v", trail)
	}
	e.waitNote(s.ID, "pix.refunded") // written just after the refund is recorded
	refunds := e.sim.Refunds()
	if len(refunds) != 1 || refunds[0].E2EID != e2e || refunds[0].AmountCents != 15000 {
		t.Fatalf("refunds at the PSP: %+v, want one of 150,00", refunds)
	}
	if len(e.printer.Printed()) != 0 {
		t.Errorf("a ticket was printed for a refunded late payment")
	}

	// Reboot the kiosk and the PSP.
	restarted := time.Now()
	e.restart(true)
	// Another customer pays through the restarted kiosk: by the time that is done, whatever
	// the recovery started has run.
	s2 := e.create(item("exame", 1))
	e.payPix(s2.ID)
	e.waitAttempt(s2.ID, 1, payment.AttemptActive)
	if _, err := e.sim.Pay(payment.PixTxID(s2.ID, 1), 8000); err != nil {
		t.Fatal(err)
	}
	e.waitState(s2.ID, payment.StateFulfilled)
	e.svc.Close() // every flow has returned
	if after := e.get(s.ID); after.State != payment.StateRefunded || after.Version != got.Version {
		t.Errorf("after the restart the refunded session is %s v%d (was v%d)", describe(after), after.Version, got.Version)
	}
	var again int
	for _, q := range e.log.match("PUT", "/pix/") {
		if q.At.After(restarted) {
			again++
		}
	}
	if r := e.sim.Refunds(); len(r) != 1 || again != 0 {
		t.Errorf("after the restart: %d refunds at the PSP, %d new PUT devolucao; want 1 and 0", len(r), again)
	}
}

// ---- 7. refund failing at the PSP, completed after a restart ----

func TestPixSimRefundFailingAcrossRestart(t *testing.T) {
	t.Parallel()

	// Wrong amount; the PSP registers the refund but every answer is a 500 (answer lost).
	t.Run("wrong amount, answers lost", func(t *testing.T) {
		t.Parallel()
		e := newSimEnv(t)
		s := e.create(item("consulta", 1))
		txid := payment.PixTxID(s.ID, 1)
		e.payPix(s.ID)
		e.waitAttempt(s.ID, 1, payment.AttemptActive)
		e.sim.Fail(pixsim.Fault{Path: "/pix/", Method: "PUT", Status: 500, AfterHandling: true, Times: 1 << 20})
		e2e, err := e.sim.Pay(txid, 15000+1)
		if err != nil {
			t.Fatal(err)
		}
		e.waitNote(s.ID, "pix.refund_failed")
		mid := e.get(s.ID)
		if a := mid.Attempt(1); a.State != payment.AttemptFailed || a.Pix.Refunded || a.Pix.RefundID == "" || mid.State != payment.StateOpen {
			t.Fatalf("while the refund fails: %s %+v", describe(mid), a.Pix)
		}
		if r := e.sim.Refunds(); len(r) != 1 {
			t.Fatalf("the PSP holds %d refunds after the lost answers, want 1", len(r))
		}
		e.restart(true)
		done := e.waitFor(s.ID, "refunded after the restart", func(s *payment.Session) bool { return s.Attempt(1).Pix.Refunded })
		if done.State != payment.StateOpen {
			t.Errorf("after the refund: %s", describe(done))
		}
		if r := e.sim.Refunds(); len(r) != 1 || r[0].E2EID != e2e || r[0].AmountCents != 15001 || r[0].ID != payment.PixRefundID(s.ID, 1) {
			t.Errorf("refunds at the PSP: %+v, want exactly one of 150,01", r)
		}
	})

	// Late payment; the PSP refuses every refund before handling it.
	t.Run("late payment, refused", func(t *testing.T) {
		t.Parallel()
		e := newSimEnv(t)
		s := e.create(item("consulta", 1))
		txid := payment.PixTxID(s.ID, 1)
		e.payPix(s.ID)
		e.waitAttempt(s.ID, 1, payment.AttemptActive)
		cancelWithFailingPatch(t, e, s.ID)
		e.sim.Fail(pixsim.Fault{Path: "/pix/", Method: "PUT", Status: 500, Times: 1 << 20})
		if _, err := e.sim.Pay(txid, 15000); err != nil {
			t.Fatal(err)
		}
		e.waitNote(s.ID, "pix.refund_failed")
		if mid := e.get(s.ID); mid.State != payment.StatePaidLate || len(e.sim.Refunds()) != 0 {
			t.Fatalf("while the refund fails: %s, %d refunds at the PSP", describe(mid), len(e.sim.Refunds()))
		}
		e.restart(true)
		done := e.waitState(s.ID, payment.StateRefunded)
		if !done.Attempt(1).Pix.Refunded {
			t.Errorf("refunded session, attempt not marked refunded: %+v", done.Attempt(1).Pix)
		}
		if r := e.sim.Refunds(); len(r) != 1 || r[0].AmountCents != 15000 {
			t.Errorf("refunds at the PSP: %+v, want exactly one", r)
		}
	})
}

// TestPixSimRefundNotMade: a devolução the PSP reads back NAO_REALIZADO is asked again under a
// new id (the old one is spent); after three, the refund is left to a person and said so.
func TestPixSimRefundNotMade(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		fail    int
		refunds int
		done    bool
	}{
		{"one refused, then made", 1, 2, true},
		{"always refused", 5, 3, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newSimEnv(t)
			s := e.create(item("consulta", 1))
			e.payPix(s.ID)
			e.waitAttempt(s.ID, 1, payment.AttemptActive)
			cancelWithFailingPatch(t, e, s.ID)
			e.sim.FailRefunds(tc.fail)
			if _, err := e.sim.Pay(payment.PixTxID(s.ID, 1), 15000); err != nil {
				t.Fatal(err)
			}
			var got *payment.Session
			if tc.done {
				got = e.waitState(s.ID, payment.StateRefunded)
				e.waitNote(s.ID, "pix.refunded")
			} else {
				e.waitNote(s.ID, "pix.refund_not_made")
				got = e.get(s.ID)
				if got.State != payment.StatePaidLate || got.Problem == nil || got.Problem.Code != "pix.refund_not_made" {
					t.Errorf("after the PSP refused every refund: %s %+v", describe(got), got.Problem)
				}
			}
			r := e.sim.Refunds()
			if len(r) != tc.refunds {
				t.Fatalf("refunds at the PSP: %+v, want %d", r, tc.refunds)
			}
			ids := map[string]bool{}
			for i, x := range r {
				ids[x.ID] = true
				want := "NAO_REALIZADO"
				if tc.done && i == len(r)-1 {
					want = "DEVOLVIDO"
				}
				if x.Status != want || x.AmountCents != 15000 {
					t.Errorf("refund %d: %+v, want %s of 150,00", i, x, want)
				}
			}
			if len(ids) != len(r) || r[0].ID != payment.PixRefundID(s.ID, 1) {
				t.Errorf("refund ids %+v: each try needs its own id, the first the derived one", r)
			}
			if a := got.Attempt(1); a.Pix.Refunded != tc.done || a.Pix.RefundsFailed != min(tc.fail, 3) {
				t.Errorf("attempt pix %+v", a.Pix)
			}
			if !tc.done {
				// A restart does not start the given-up refund again.
				e.restart(true)
				s2 := e.create(item("exame", 1))
				e.payPix(s2.ID)
				e.waitAttempt(s2.ID, 1, payment.AttemptActive)
				e.svc.Close()
				if n := len(e.sim.Refunds()); n != tc.refunds {
					t.Errorf("%d refunds after a restart, want %d", n, tc.refunds)
				}
			}
		})
	}
}

// ---- 8. a relayed hint wakes the flow ----

func TestPixSimHint(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, func(e *simEnv) { e.cfg.PixPoll = 30 * time.Second })
	s := e.create(item("consulta", 1))
	txid := payment.PixTxID(s.ID, 1)
	e.payPix(s.ID)
	e.waitAttempt(s.ID, 1, payment.AttemptActive)
	// The flow's first status check was answered (ATIVA): from now on it polls every 30 s.
	e.log.wait(t, "the first GET /cob", func(l *simLog) bool {
		g := l.match("GET", "/cob/"+txid)
		return len(g) > 0 && g[0].Status == 200
	})
	gets := e.log.count("GET", "/cob/"+txid)
	if _, err := e.sim.Pay(txid, 15000); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := e.svc.PixHint(context.Background(), txid); err != nil {
		t.Fatalf("PixHint: %v", err)
	}
	done := e.waitState(s.ID, payment.StateFulfilled) // fails after 10 s, well before the 30 s poll
	t.Logf("hint to fulfilled: %s", time.Since(start).Round(time.Millisecond))
	if n := e.log.count("GET", "/cob/"+txid) - gets; n < 1 || n > 2 {
		t.Errorf("%d status checks after the hint", n)
	}
	if done.Attempt(1).Pix.E2EID == "" {
		t.Errorf("no e2eid: %+v", done.Attempt(1).Pix)
	}

	// Hints that are not about a charge of this kiosk are refused without asking the PSP.
	before := len(e.log.match("", "/"))
	for _, c := range []struct {
		txid, code string
		kind       payment.Kind
	}{
		{"E9999999920250310180000abcdefghij", "pix.unknown_txid", payment.KindInvalid}, // someone else's
		{"", "pix.unknown_txid", payment.KindInvalid},
		{payment.PixTxID(payment.NewID(time.Now()), 1), "session.not_found", payment.KindNotFound},
		{payment.PixTxID(s.ID, 7), "pix.unknown_txid", payment.KindNotFound},
	} {
		err := e.svc.PixHint(context.Background(), c.txid)
		if err == nil {
			t.Errorf("PixHint(%q) accepted", c.txid)
			continue
		}
		if code, kind := errCode(t, err); code != c.code || kind != c.kind {
			t.Errorf("PixHint(%q) = %s (kind %d), want %s (kind %d)", c.txid, code, kind, c.code, c.kind)
		}
	}
	if after := len(e.log.match("", "/")); after != before {
		t.Errorf("refused hints made %d requests to the PSP", after-before)
	}
}

// ---- 9. cancel with the QR on screen ----

func TestPixSimCancelActive(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t)
	s := e.create(item("consulta", 1))
	txid := payment.PixTxID(s.ID, 1)
	e.payPix(s.ID)
	e.waitAttempt(s.ID, 1, payment.AttemptActive)
	c, err := e.svc.Cancel(context.Background(), s.ID)
	if err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	if c.State != payment.StateCancelled || c.Attempt(1).State != payment.AttemptRemoved || problemCode(c.Problem) != "session.cancelled" {
		t.Errorf("cancelled session: %s", describe(c))
	}
	ch, _ := e.sim.Charge(txid)
	if ch.Status != "REMOVIDA_PELO_USUARIO_RECEBEDOR" || e.log.count("PATCH", "/cob/"+txid) < 1 {
		t.Errorf("charge at the PSP after the cancel: %s (%d PATCH)", ch.Status, e.log.count("PATCH", "/cob/"+txid))
	}
	if _, err := e.sim.Pay(txid, 15000); !errors.Is(err, pixsim.ErrNotPayable) {
		t.Errorf("paying a removed charge: %v, want ErrNotPayable", err)
	}
	if _, err := e.svc.Pay(context.Background(), s.ID, payment.PayRequest{Method: payment.MethodPix}); err == nil {
		t.Errorf("a cancelled session accepted a payment")
	}
	e.svc.Close()
	if got := e.get(s.ID); got.State != payment.StateCancelled || got.Attempt(1).State != payment.AttemptRemoved || len(e.sim.Refunds()) != 0 {
		t.Errorf("after the flows ended: %s", describe(got))
	}
}

// Cancel refused because the money already arrived: the PATCH of a paid charge fails, the
// status check finds the payment, the purchase goes on to the ticket.
func TestPixSimCancelAfterPaymentArrived(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, func(e *simEnv) { e.cfg.PixPoll = 30 * time.Second })
	s := e.create(item("consulta", 1))
	txid := payment.PixTxID(s.ID, 1)
	e.payPix(s.ID)
	e.waitAttempt(s.ID, 1, payment.AttemptActive)
	e.log.wait(t, "the first GET /cob", func(l *simLog) bool { return l.count("GET", "/cob/"+txid) > 0 })
	if _, err := e.sim.Pay(txid, 15000); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.Cancel(context.Background(), s.ID)
	if err == nil {
		t.Fatalf("cancel accepted after the payment arrived")
	}
	if code, kind := errCode(t, err); code != "session.already_paid" || kind != payment.KindConflict {
		t.Errorf("cancel of a paid charge: %s (kind %d)", code, kind)
	}
	done := e.waitState(s.ID, payment.StateFulfilled)
	if len(e.sim.Refunds()) != 0 || len(e.printer.Printed()) != 1 || done.Attempt(1).State != payment.AttemptConcluded {
		t.Errorf("after the refused cancel: %s, %d refunds, %d tickets", describe(done), len(e.sim.Refunds()), len(e.printer.Printed()))
	}
}

// Cancel while the PUT /cob is still unanswered: the charge the PSP creates afterwards is
// removed by the flow, and cannot be paid.
func TestPixSimCancelWhileCreating(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t)
	s := e.create(item("consulta", 1))
	txid := payment.PixTxID(s.ID, 1)
	e.sim.Fail(pixsim.Fault{Path: "/cob/" + txid, Method: "PUT", Delay: time.Second, AfterHandling: true})
	e.payPix(s.ID)
	e.log.wait(t, "the charge created", func(l *simLog) bool { return l.noted("pixsim: charge created", txid) })
	c, err := e.svc.Cancel(context.Background(), s.ID)
	if err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	if c.State != payment.StateCancelled || c.Attempt(1).State != payment.AttemptCreating {
		t.Fatalf("cancel during creation: %s", describe(c))
	}
	done := e.waitFor(s.ID, "the attempt closed", func(s *payment.Session) bool { return s.Attempt(1).State.Final() })
	if done.State != payment.StateCancelled || done.Attempt(1).State != payment.AttemptRemoved {
		t.Errorf("after the late answer: %s", describe(done))
	}
	if ch, _ := e.sim.Charge(txid); ch.Status != "REMOVIDA_PELO_USUARIO_RECEBEDOR" {
		t.Errorf("the charge created after the cancel is %s at the PSP", ch.Status)
	}
	if _, err := e.sim.Pay(txid, 15000); !errors.Is(err, pixsim.ErrNotPayable) {
		t.Errorf("paying it: %v, want ErrNotPayable", err)
	}
}

// The kiosk restarts while its PUT /cob is unanswered (the PSP created the charge): the
// recovery PUTs the same txid again and gets the same charge.
func TestPixSimRestartWhilePutUnanswered(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t)
	s := e.create(item("consulta", 1))
	txid := payment.PixTxID(s.ID, 1)
	e.sim.Fail(pixsim.Fault{Path: "/cob/" + txid, Method: "PUT", Delay: time.Minute, AfterHandling: true})
	e.payPix(s.ID)
	e.log.wait(t, "the charge created", func(l *simLog) bool { return l.noted("pixsim: charge created", txid) })
	if a := e.get(s.ID).Attempt(1); a.State != payment.AttemptCreating {
		t.Fatalf("attempt %s before the restart", a.State)
	}
	e.restart(false) // the PSP keeps running, as a real one would
	act := e.waitAttempt(s.ID, 1, payment.AttemptActive)
	ch, _ := e.sim.Charge(txid)
	if all := e.sim.Charges(); len(all) != 1 || ch.Puts != 2 || act.Attempt(1).Pix.Location != ch.Location {
		t.Fatalf("after the restart: PSP ledger %+v, attempt %+v", all, act.Attempt(1).Pix)
	}
	if _, err := e.sim.Pay(txid, 15000); err != nil {
		t.Fatal(err)
	}
	e.waitState(s.ID, payment.StateFulfilled)
}

// ---- expiry by the kiosk's clock ----

func TestPixSimExpiry(t *testing.T) {
	t.Parallel()

	// The PATCH succeeds: the attempt expires, the charge is removed, the session is open again.
	t.Run("charge removed", func(t *testing.T) {
		t.Parallel()
		clk := &clock{t: time.Now()}
		e := newSimEnv(t, func(e *simEnv) { e.now = clk.Now })
		s := e.create(item("consulta", 1))
		txid := payment.PixTxID(s.ID, 1)
		e.payPix(s.ID)
		a := e.waitAttempt(s.ID, 1, payment.AttemptActive).Attempt(1)
		clk.Set(a.Pix.ExpiresAt.Add(time.Second))
		got := e.waitAttempt(s.ID, 1, payment.AttemptExpired)
		if got.State != payment.StateOpen || problemCode(got.Problem) != "pix.expired" {
			t.Errorf("after the expiry: %s", describe(got))
		}
		if ch, _ := e.sim.Charge(txid); ch.Status != "REMOVIDA_PELO_USUARIO_RECEBEDOR" {
			t.Errorf("the expired charge is %s at the PSP", ch.Status)
		}
		if _, err := e.sim.Pay(txid, 15000); !errors.Is(err, pixsim.ErrNotPayable) {
			t.Errorf("paying the expired charge: %v", err)
		}
	})

	// The PATCH fails: the kiosk is given back to the customer, the charge stays watched, and a
	// payment that still lands on it goes back.
	t.Run("charge not removable, paid later", func(t *testing.T) {
		t.Parallel()
		clk := &clock{t: time.Now()}
		e := newSimEnv(t, func(e *simEnv) { e.now = clk.Now })
		s := e.create(item("consulta", 1))
		txid := payment.PixTxID(s.ID, 1)
		e.payPix(s.ID)
		a := e.waitAttempt(s.ID, 1, payment.AttemptActive).Attempt(1)
		e.sim.Fail(pixsim.Fault{Path: "/cob/" + txid, Method: "PATCH", Status: 503, Times: 1 << 20})
		clk.Set(a.Pix.ExpiresAt.Add(time.Second))
		rel := e.waitFor(s.ID, "released", func(s *payment.Session) bool { return s.State == payment.StateOpen })
		if rel.Attempt(1).State != payment.AttemptActive || problemCode(rel.Problem) != "pix.expired" {
			t.Fatalf("after the expiry with the PATCH failing: %s", describe(rel))
		}
		e2e, err := e.sim.Pay(txid, 15000)
		if err != nil {
			t.Fatalf("the PSP refused a payment on its still active charge: %v", err)
		}
		got := e.waitFor(s.ID, "refunded", func(s *payment.Session) bool { return s.Attempt(1).Pix.Refunded })
		if got.State != payment.StateOpen || got.Attempt(1).State != payment.AttemptFailed || problemCode(got.Attempt(1).Problem) != "pix.unexpected_payment" {
			t.Errorf("after the late payment: %s", describe(got))
		}
		if r := e.sim.Refunds(); len(r) != 1 || r[0].E2EID != e2e || r[0].AmountCents != 15000 {
			t.Errorf("refunds at the PSP: %+v", r)
		}
		if len(e.printer.Printed()) != 0 {
			t.Errorf("a ticket was printed for a QR the customer was told had expired")
		}
	})
}

// Late payment under the "fulfil" policy: the ticket is printed, nothing is refunded.
func TestPixSimLatePaymentFulfilPolicy(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, func(e *simEnv) { e.cfg.LatePayment = "fulfil" })
	s := e.create(item("consulta", 1))
	e.payPix(s.ID)
	e.waitAttempt(s.ID, 1, payment.AttemptActive)
	cancelWithFailingPatch(t, e, s.ID)
	e2e, err := e.sim.Pay(payment.PixTxID(s.ID, 1), 15000)
	if err != nil {
		t.Fatal(err)
	}
	done := e.waitState(s.ID, payment.StateFulfilled)
	if trail := sessionStates(t, e.events(s.ID)); !slices.Equal(trail, []payment.State{payment.StateOpen, payment.StatePaying, payment.StateCancelled, payment.StatePaidLate, payment.StateFulfilled}) {
		t.Errorf("state trail %v", trail)
	}
	if p := e.printer.Printed(); len(p) != 1 || p[0].Pix == nil || p[0].Pix.E2EID != e2e || done.Attempt(1).Pix.RefundID != "" || len(e.sim.Refunds()) != 0 {
		t.Errorf("fulfilled late payment: %s, tickets %+v, refunds %+v", describe(done), p, e.sim.Refunds())
	}
}

// A charge paid after the kiosk stopped watching it (LateWatch over, the PATCH never went
// through): a relayed hint makes the kiosk check it and refund the money, once.
func TestPixSimHintAfterWatchEnded(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Now()}
	e := newSimEnv(t, func(e *simEnv) { e.now = clk.Now })
	s := e.create(item("consulta", 1))
	txid := payment.PixTxID(s.ID, 1)
	e.payPix(s.ID)
	a := e.waitAttempt(s.ID, 1, payment.AttemptActive).Attempt(1)
	cancelWithFailingPatch(t, e, s.ID)
	clk.Set(a.Pix.ExpiresAt.Add(e.cfg.LateWatch + time.Second))
	e.waitAttempt(s.ID, 1, payment.AttemptExpired)
	if ch, _ := e.sim.Charge(txid); ch.Status != "ATIVA" {
		t.Fatalf("setup: the charge is %s at the PSP", ch.Status)
	}
	e2e, err := e.sim.Pay(txid, 15000)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.PixHint(context.Background(), txid); err != nil {
		t.Fatalf("PixHint: %v", err)
	}
	got := e.waitFor(s.ID, "refunded", func(s *payment.Session) bool { return s.Attempt(1).Pix.Refunded })
	if got.State != payment.StateCancelled || got.Attempt(1).Pix.E2EID != e2e || problemCode(got.Attempt(1).Problem) != "pix.unexpected_payment" {
		t.Errorf("after the hint: %s %+v", describe(got), got.Attempt(1).Pix)
	}
	// The same hint again (the cloud relays at least once): checked, not refunded again.
	if err := e.svc.PixHint(context.Background(), txid); err != nil {
		t.Fatalf("PixHint: %v", err)
	}
	e.svc.Close() // the hint's check has returned
	if r := e.sim.Refunds(); len(r) != 1 || r[0].E2EID != e2e || r[0].AmountCents != 15000 || e.log.count("PUT", "/pix/") != 1 {
		t.Errorf("refunds at the PSP: %+v (%d PUT devolucao), want exactly one", r, e.log.count("PUT", "/pix/"))
	}
}

// The Efí dialect end to end: JSON token request, {nome, mensagem} errors.
func TestPixSimEfiDialect(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, func(e *simEnv) {
		e.simOpt.Dialect = "efi"
		e.pixCfg.Profile = "efi"
	})
	s := e.create(item("consulta", 1))
	txid := payment.PixTxID(s.ID, 1)
	e.sim.Fail(pixsim.Fault{Path: "/cob/" + txid, Method: "PUT", Status: 503})
	e.payPix(s.ID)
	e.waitAttempt(s.ID, 1, payment.AttemptActive)
	if _, err := e.sim.Pay(txid, 15000-1); err != nil {
		t.Fatal(err)
	}
	e.waitFor(s.ID, "refunded", func(s *payment.Session) bool { return s.Attempt(1).Pix.Refunded })
	e.payPix(s.ID)
	e.waitAttempt(s.ID, 2, payment.AttemptActive)
	if _, err := e.sim.Pay(payment.PixTxID(s.ID, 2), 15000); err != nil {
		t.Fatal(err)
	}
	e.waitState(s.ID, payment.StateFulfilled)
	if r := e.sim.Refunds(); len(r) != 1 || len(e.sim.Charges()) != 2 {
		t.Errorf("PSP ledger: %d charges, refunds %+v", len(e.sim.Charges()), r)
	}
}
