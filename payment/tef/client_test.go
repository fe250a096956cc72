package tef_test

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/totemd/totemd/internal/config"
	"github.com/totemd/totemd/payment/tef"
	"github.com/totemd/totemd/payment/tef/tefsim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const statusTimeout = 300 * time.Millisecond

// logBuf collects log lines (client and simulator) and shows them when a test fails.
type logBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newLogger(t *testing.T) (*slog.Logger, *logBuf) {
	buf := &logBuf{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", buf)
		}
	})
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

func testConfig(device string) tef.Config {
	cfg := tef.DefaultConfig()
	cfg.Device = device
	cfg.StatusTimeout = statusTimeout
	cfg.MaxInstallments = 6
	cfg.Certification = "CERT123"
	return cfg
}

func newClient(t *testing.T, cfg tef.Config, log *slog.Logger) *tef.Client {
	t.Helper()
	c, err := tef.NewClient(cfg, log)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// env is a simulator and a client on one transport.
type env struct {
	sim       *tefsim.Sim
	c         *tef.Client
	transport string
	root      string // file exchange root
	cfg       tef.Config
	log       *slog.Logger
}

const fileStatusTimeout = 1500 * time.Millisecond

// withStatusTimeout replaces e's client by one with another status timeout.
func (e *env) withStatusTimeout(t *testing.T, d time.Duration) {
	e.c.Close()
	cfg := e.cfg
	cfg.StatusTimeout = d
	e.c = newClient(t, cfg, e.log)
}

func (e *env) withCutResponseTimeout(t *testing.T, d time.Duration) {
	e.c.Close()
	cfg := e.cfg
	cfg.CutResponseTimeout = d
	e.c = newClient(t, cfg, e.log)
}

var transports = []string{"tcp", "file"}

func setup(t *testing.T, transport string, mod ...func(*tefsim.Options)) *env {
	t.Helper()
	log, _ := newLogger(t)
	o := tefsim.Options{PINPadDelay: 20 * time.Millisecond, StatusDelay: 5 * time.Millisecond, Logger: log.With("who", "sim")}
	for _, m := range mod {
		m(&o)
	}
	sim, err := tefsim.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	e := &env{sim: sim, transport: transport, log: log.With("who", "client")}
	var device string
	switch transport {
	case "tcp":
		addr, err := sim.ListenTCP("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		device = "tcp://" + addr
	case "file":
		e.root = t.TempDir()
		if err := sim.ServeFiles(filepath.Join(e.root, "req"), filepath.Join(e.root, "resp")); err != nil {
			t.Fatal(err)
		}
		device = "file://" + e.root
	}
	cfg := testConfig(device)
	if transport == "file" {
		// Both sides poll 4 times a second: a status takes up to about 600ms.
		cfg.StatusTimeout = fileStatusTimeout
	}
	e.cfg = cfg
	e.c = newClient(t, cfg, log.With("who", "client"))
	return e
}

func bothTransports(t *testing.T, f func(t *testing.T, tr string)) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			f(t, tr)
		})
	}
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func ledgerState(t *testing.T, sim *tefsim.Sim, nsu string) string {
	t.Helper()
	for _, tx := range sim.Ledger() {
		if tx.NSU == nsu {
			return tx.State
		}
	}
	t.Fatalf("NSU %q not in the ledger %+v", nsu, sim.Ledger())
	return ""
}

func TestATV(t *testing.T) {
	bothTransports(t, func(t *testing.T, tr string) {
		e := setup(t, tr)
		if err := e.c.ATV(ctxT(t, 5*time.Second)); err != nil {
			t.Fatalf("ATV: %v", err)
		}
	})
}

func TestCreditSaleConfirmed(t *testing.T) {
	bothTransports(t, func(t *testing.T, tr string) {
		e := setup(t, tr)
		ctx := ctxT(t, 5*time.Second)
		resp, err := e.c.Sale(ctx, tef.Sale{Document: "T-0001", AmountCents: 1234, Credit: true, Installments: 3})
		if err != nil {
			t.Fatalf("Sale: %v", err)
		}
		if !tef.Approved(resp) || !tef.NeedsConfirmation(resp) {
			t.Fatalf("approved %v, needs confirmation %v: %+v", tef.Approved(resp), tef.NeedsConfirmation(resp), resp.Fields)
		}
		if got := resp.Value(11, 0); got != "11" {
			t.Errorf("011-000 = %q, want 11 (credit, merchant installments)", got)
		}
		if got := resp.Value(18, 0); got != "3" {
			t.Errorf("018-000 = %q, want 3", got)
		}
		if got := resp.Value(2, 0); got != "T-0001" {
			t.Errorf("002-000 = %q", got)
		}
		nsu := resp.Value(12, 0)
		if st := ledgerState(t, e.sim, nsu); st != tefsim.StatePending {
			t.Fatalf("before CNF: %s", st)
		}
		if err := e.c.Confirm(ctx, resp); err != nil {
			t.Fatalf("Confirm: %v", err)
		}
		if st := ledgerState(t, e.sim, nsu); st != tefsim.StateConfirmed {
			t.Fatalf("after CNF: %s", st)
		}
	})
}

func TestDebitSaleUndone(t *testing.T) {
	bothTransports(t, func(t *testing.T, tr string) {
		e := setup(t, tr)
		ctx := ctxT(t, 5*time.Second)
		resp, err := e.c.Sale(ctx, tef.Sale{Document: "T-0002", AmountCents: 500})
		if err != nil {
			t.Fatalf("Sale: %v", err)
		}
		if !tef.Approved(resp) || !tef.NeedsConfirmation(resp) || resp.Value(11, 0) != "20" {
			t.Fatalf("want an approved debit waiting for confirmation: %+v", resp.Fields)
		}
		if err := e.c.Undo(ctx, resp); err != nil {
			t.Fatalf("Undo: %v", err)
		}
		if st := ledgerState(t, e.sim, resp.Value(12, 0)); st != tefsim.StateUndone {
			t.Fatalf("after NCN: %s", st)
		}
		if p := e.sim.Pending(); len(p) != 0 {
			t.Fatalf("pending: %+v", p)
		}
	})
}

func TestDeclinedAndCancelled(t *testing.T) {
	bothTransports(t, func(t *testing.T, tr string) {
		e := setup(t, tr)
		ctx := ctxT(t, 5*time.Second)
		for _, tc := range []struct {
			amount int64
			code   string
		}{{1051, tefsim.CodeDeclined}, {1052, tefsim.CodeCancelled}} {
			resp, err := e.c.Sale(ctx, tef.Sale{Document: "T-3", AmountCents: tc.amount, Credit: true})
			if err != nil {
				t.Fatalf("Sale %d: %v", tc.amount, err)
			}
			if tef.Approved(resp) || tef.NeedsConfirmation(resp) {
				t.Errorf("%d: approved or needs confirmation", tc.amount)
			}
			if resp.Value(9, 0) != tc.code || resp.Value(30, 0) == "" || resp.Value(31, 0) == "" {
				t.Errorf("%d: want 009 = %s with 030 and 031: %+v", tc.amount, tc.code, resp.Fields)
			}
		}
		if len(e.sim.Ledger()) != 0 {
			t.Fatalf("ledger: %+v", e.sim.Ledger())
		}
	})
}

func TestNoStatus(t *testing.T) {
	bothTransports(t, func(t *testing.T, tr string) {
		e := setup(t, tr)
		e.withStatusTimeout(t, statusTimeout)
		ctx := ctxT(t, 5*time.Second)
		start := time.Now()
		_, err := e.c.Sale(ctx, tef.Sale{Document: "T-4", AmountCents: 1053, Credit: true})
		took := time.Since(start)
		if !errors.Is(err, tef.ErrNoStatus) {
			t.Fatalf("Sale ,53: %v, want ErrNoStatus", err)
		}
		if took < statusTimeout || took > statusTimeout+time.Second {
			t.Errorf("took %s, status timeout %s", took, statusTimeout)
		}
		if err := e.c.ATV(ctx); err != nil {
			t.Fatalf("ATV after ,53: %v", err)
		}
	})
}

func TestNoConfirmationNeeded(t *testing.T) {
	bothTransports(t, func(t *testing.T, tr string) {
		e := setup(t, tr)
		resp, err := e.c.Sale(ctxT(t, 5*time.Second), tef.Sale{Document: "T-5", AmountCents: 1055, Credit: true})
		if err != nil {
			t.Fatalf("Sale: %v", err)
		}
		if !tef.Approved(resp) || tef.NeedsConfirmation(resp) {
			t.Fatalf("want approved without confirmation: %+v", resp.Fields)
		}
		if st := ledgerState(t, e.sim, resp.Value(12, 0)); st != tefsim.StateConfirmed {
			t.Fatalf("state %s", st)
		}
	})
}

// lostApproval checks the ledger after a lost ,54 approval, that the next sale is refused
// with the pending transaction's data, and that Undo on that refusal clears it.
func lostApproval(t *testing.T, e *env, ctx context.Context) {
	t.Helper()
	pending := e.sim.Pending()
	if len(pending) != 1 || pending[0].AmountCents != 1054 {
		t.Fatalf("pending: %+v", pending)
	}
	resp, err := e.c.Sale(ctx, tef.Sale{Document: "T-7", AmountCents: 700, Credit: true})
	if err != nil {
		t.Fatalf("Sale while pending: %v", err)
	}
	p := pending[0]
	if tef.Approved(resp) || resp.Value(9, 0) != tefsim.CodePending || resp.Value(10, 0) != p.Network ||
		resp.Value(12, 0) != p.NSU || resp.Value(27, 0) != p.Finalizacao {
		t.Fatalf("want the pending refusal naming %+v: %+v", p, resp.Fields)
	}
	if err := e.c.Undo(ctx, resp); err != nil {
		t.Fatalf("Undo: %v", err)
	}
	if len(e.sim.Pending()) != 0 || ledgerState(t, e.sim, p.NSU) != tefsim.StateUndone {
		t.Fatalf("after NCN: %+v", e.sim.Ledger())
	}
	resp, err = e.c.Sale(ctx, tef.Sale{Document: "T-8", AmountCents: 800, Credit: true})
	if err != nil || !tef.Approved(resp) {
		t.Fatalf("Sale after the undo: %v", err)
	}
	if err := e.c.Confirm(ctx, resp); err != nil {
		t.Fatal(err)
	}
}

func TestConnectionLostTCP(t *testing.T) {
	t.Parallel()
	e := setup(t, "tcp")
	ctx := ctxT(t, 5*time.Second)
	_, err := e.c.Sale(ctx, tef.Sale{Document: "T-6", AmountCents: 1054, Credit: true})
	if !errors.Is(err, tef.ErrConnectionLost) {
		t.Fatalf("Sale ,54: %v, want ErrConnectionLost", err)
	}
	lostApproval(t, e, ctx)
}

func TestTruncatedResponseFile(t *testing.T) {
	t.Parallel()
	e := setup(t, "file")
	e.withCutResponseTimeout(t, time.Second)
	ctx := ctxT(t, 8*time.Second)
	_, err := e.c.Sale(ctx, tef.Sale{Document: "T-6", AmountCents: 1054, Credit: true})
	if !errors.Is(err, tef.ErrConnectionLost) {
		t.Fatalf("Sale ,54 on files: %v, want ErrConnectionLost once the cut file stopped growing", err)
	}
	lostApproval(t, e, ctx)
}

func TestCancelWhileWaitingResponse(t *testing.T) {
	bothTransports(t, func(t *testing.T, tr string) {
		e := setup(t, tr, func(o *tefsim.Options) { o.PINPadDelay = 10 * time.Second })
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		time.AfterFunc(1200*time.Millisecond, cancel) // after the status (files poll 4x/s)
		start := time.Now()
		_, err := e.c.Sale(ctx, tef.Sale{Document: "T-9", AmountCents: 900, Credit: true})
		if !errors.Is(err, context.Canceled) || errors.Is(err, tef.ErrNoStatus) {
			t.Fatalf("Sale: %v, want context.Canceled", err)
		}
		if took := time.Since(start); took > 1200*time.Millisecond+400*time.Millisecond {
			t.Fatalf("returned %s after the start, cancel was at 1.2s", took)
		}
	})
}

func TestCloseDuringOperation(t *testing.T) {
	t.Parallel()
	e := setup(t, "tcp", func(o *tefsim.Options) { o.PINPadDelay = 10 * time.Second })
	time.AfterFunc(300*time.Millisecond, func() { e.c.Close() })
	_, err := e.c.Sale(ctxT(t, 5*time.Second), tef.Sale{Document: "T-10", AmountCents: 900, Credit: true})
	if !errors.Is(err, tef.ErrClosed) {
		t.Fatalf("Sale: %v, want ErrClosed", err)
	}
	if err := e.c.ATV(ctxT(t, time.Second)); !errors.Is(err, tef.ErrClosed) {
		t.Fatalf("ATV after Close: %v", err)
	}
}

func TestGPDown(t *testing.T) {
	bothTransports(t, func(t *testing.T, tr string) {
		e := setup(t, tr)
		e.withStatusTimeout(t, statusTimeout)
		e.sim.SetDown(true)
		start := time.Now()
		err := e.c.ATV(ctxT(t, 5*time.Second))
		if !errors.Is(err, tef.ErrNoStatus) {
			t.Fatalf("ATV: %v, want ErrNoStatus", err)
		}
		if time.Since(start) > statusTimeout+time.Second {
			t.Errorf("took %s", time.Since(start))
		}
		switch tr {
		case "tcp":
			var op *net.OpError
			if !errors.As(err, &op) || op.Op != "dial" {
				t.Errorf("want the dial error inside: %v", err)
			}
		case "file":
			if _, err := os.Stat(filepath.Join(e.root, "req", "IntPos.001")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the unanswered request is left in REQ: %v", err)
			}
		}
		e.sim.SetDown(false)
		if err := e.c.ATV(ctxT(t, 5*time.Second)); err != nil {
			t.Fatalf("ATV once up: %v", err)
		}
	})
}

func TestAdmin(t *testing.T) {
	e := setup(t, "tcp")
	resp, err := e.c.Admin(ctxT(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if !tef.Approved(resp) || len(resp.Lines(28, 29)) == 0 || tef.NeedsConfirmation(resp) {
		t.Fatalf("ADM: %+v", resp.Fields)
	}
}

func TestSaleChecks(t *testing.T) {
	c := newClient(t, testConfig("tcp://127.0.0.1:1"), nil)
	ctx := ctxT(t, time.Second)
	for _, s := range []tef.Sale{
		{AmountCents: 0},
		{AmountCents: 100, Installments: 2},               // debit
		{AmountCents: 100, Credit: true, Installments: 7}, // more than max_installments
		{AmountCents: 100, Document: "a\nb"},
	} {
		if _, err := c.Sale(ctx, s); err == nil || errors.Is(err, tef.ErrNoStatus) {
			t.Errorf("Sale(%+v): %v, want a refusal before sending", s, err)
		}
	}
	if err := c.Confirm(ctx, &tef.Message{}); err == nil {
		t.Error("Confirm of an empty response succeeded")
	}
}

// fakeTCP is a tiny GP: it reads one request, records it and runs script on the connection.
func fakeTCP(t *testing.T, script func(c net.Conn, req *tef.Message)) (addr string, got chan *tef.Message) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	got = make(chan *tef.Message, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		sc := bufio.NewScanner(c)
		sc.Buffer(nil, tef.MaxMessageSize+2)
		sc.Split(tef.SplitMessages)
		if !sc.Scan() {
			return
		}
		req, err := tef.Parse(sc.Bytes())
		if err != nil {
			return
		}
		got <- req
		script(c, req)
		for sc.Scan() { // until the client hangs up
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String(), got
}

func answer(req *tef.Message, id string, status string, extra ...tef.Field) []byte {
	m := tef.New(req.Command(), 0)
	m.Set(1, 0, id)
	m.Set(9, 0, status)
	for _, f := range extra {
		m.Set(f.ID, f.Seq, f.Value)
	}
	b, err := m.Encode()
	if err != nil {
		panic(err)
	}
	return b
}

func TestForeignIDIgnoredTCP(t *testing.T) {
	addr, got := fakeTCP(t, func(c net.Conn, req *tef.Message) {
		id := req.RequestID()
		c.Write(answer(req, "1", "0"))                     // another request's status
		c.Write([]byte("garbage line\r\n999-999 = 0\r\n")) // does not parse
		c.Write(answer(req, id, "0"))                      // the status
		c.Write(answer(req, "1", "99", tef.Field{ID: 30, Value: "OTHER"}))
		c.Write(answer(req, "0"+id, "0", tef.Field{ID: 30, Value: "MINE"}, tef.Field{ID: 729, Value: "1"}))
	})
	cfg := testConfig("tcp://" + addr)
	cfg.Capabilities = 28
	log, logs := newLogger(t)
	c := newClient(t, cfg, log)
	resp, err := c.Sale(ctxT(t, 5*time.Second), tef.Sale{Document: "D1", AmountCents: 2500, Credit: true, Installments: 2})
	if err != nil {
		t.Fatalf("Sale: %v", err)
	}
	if resp.Value(30, 0) != "MINE" {
		t.Fatalf("got %+v", resp.Fields)
	}
	if n := strings.Count(logs.String(), "another request: dropped"); n != 2 {
		t.Errorf("%d foreign answers logged, want 2", n)
	}
	req := <-got
	for _, f := range []struct {
		id   int
		want string
	}{{0, "CRT"}, {2, "D1"}, {3, "2500"}, {4, "0"}, {17, "0"}, {18, "2"}, {706, "28"}, {731, "1"},
		{735, "TOTEMD"}, {736, "1.0"}, {738, "CERT123"}} {
		if got := req.Value(f.id, 0); got != f.want {
			t.Errorf("request %03d-000 = %q, want %q", f.id, got, f.want)
		}
	}
	if id := req.RequestID(); len(id) == 0 || len(id) > 10 {
		t.Errorf("request id %q", id)
	}
}

func TestRequestIDsIncrease(t *testing.T) {
	var ids []string
	for range 3 {
		addr, got := fakeTCP(t, func(c net.Conn, req *tef.Message) {
			c.Write(answer(req, req.RequestID(), "0"))
		})
		c := newClient(t, testConfig("tcp://"+addr), nil)
		if err := c.Confirm(ctxT(t, 2*time.Second), fakeApproval()); err != nil {
			t.Fatal(err)
		}
		req := <-got
		if req.Value(10, 0) != "REDE" || req.Value(12, 0) != "42" || req.Value(27, 0) != "FIN" || req.Value(3, 0) != "100" {
			t.Fatalf("CNF fields: %+v", req.Fields)
		}
		ids = append(ids, req.RequestID())
	}
	for i := 1; i < len(ids); i++ {
		if len(ids[i]) > 10 || len(ids[i]) < len(ids[i-1]) || len(ids[i]) == len(ids[i-1]) && ids[i] <= ids[i-1] {
			t.Errorf("ids %v do not increase", ids)
		}
	}
}

func fakeApproval() *tef.Message {
	m := tef.New("CRT", 5)
	for _, f := range []tef.Field{{9, 0, "0"}, {10, 0, "REDE"}, {12, 0, "42"}, {27, 0, "FIN"}, {3, 0, "100"}} {
		m.Set(f.ID, f.Seq, f.Value)
	}
	return m
}

func TestNeedsConfirmation(t *testing.T) {
	m := fakeApproval()
	if tef.NeedsConfirmation(m) {
		t.Error("no 729, no lines: no confirmation")
	}
	m.Set(28, 0, "1")
	m.Set(29, 1, "line")
	if !tef.NeedsConfirmation(m) {
		t.Error("no 729, lines: confirmation")
	}
	m.Set(729, 0, "1")
	if tef.NeedsConfirmation(m) {
		t.Error("729 = 1")
	}
	m.Set(729, 0, "2")
	m.Set(9, 0, "51")
	if tef.NeedsConfirmation(m) || tef.Approved(m) {
		t.Error("declined")
	}
}

func TestConfig(t *testing.T) {
	if err := tef.DefaultConfig().Validate(); err != nil {
		t.Fatalf("default (off): %v", err)
	}
	for _, dev := range []string{"tcp://127.0.0.1:60906", "tcp://gp.local:1", "file:///var/lib/tef", "file://C:/PAYGO", "file:///C:/TEF_DIAL"} {
		cfg := tef.DefaultConfig()
		cfg.Device = dev
		if err := cfg.Validate(); err != nil {
			t.Errorf("%s: %v", dev, err)
		}
	}
	bad := tef.DefaultConfig()
	bad.Device = "com1"
	bad.AutomationName = ""
	bad.Capabilities = -1
	bad.MaxInstallments = 100
	bad.StatusTimeout = 0
	err := bad.Validate()
	var paths []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *config.FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("not a FieldError: %v", e)
		}
		paths = append(paths, fe.Path)
	}
	if want := "device automation_name capabilities max_installments status_timeout"; strings.Join(paths, " ") != want {
		t.Errorf("paths %v, want %s", paths, want)
	}
	for _, dev := range []string{"tcp://nohost", "tcp://h:0", "file://relative/x", "http://x:1"} {
		cfg := tef.DefaultConfig()
		cfg.Device = dev
		if cfg.Validate() == nil {
			t.Errorf("%s accepted", dev)
		}
	}
	if _, err := tef.NewClient(tef.DefaultConfig(), nil); err == nil {
		t.Error("NewClient without a device")
	}
}

func TestCancelConfirmedSale(t *testing.T) {
	bothTransports(t, func(t *testing.T, tr string) {
		e := setup(t, tr)
		ctx := ctxT(t, 8*time.Second)
		sale, err := e.c.Sale(ctx, tef.Sale{Document: "T-9", AmountCents: 2500, Credit: true})
		if err != nil || !tef.Approved(sale) {
			t.Fatalf("Sale: %v", err)
		}
		if err := e.c.Confirm(ctx, sale); err != nil {
			t.Fatal(err)
		}
		x := tef.Cancellation{Network: sale.Value(10, 0), NSU: sale.Value(12, 0), Timestamp: sale.Value(15, 0), AmountCents: 2500, Document: "T-9"}
		resp, err := e.c.Cancel(ctx, x)
		if err != nil {
			t.Fatalf("Cancel: %v", err)
		}
		if !tef.Approved(resp) || resp.Value(25, 0) != x.NSU || tef.NeedsConfirmation(resp) {
			t.Fatalf("CNC response: %+v", resp.Fields)
		}
		if st := ledgerState(t, e.sim, x.NSU); st != tefsim.StateCancelled {
			t.Fatalf("ledger state %s, want cancelled", st)
		}
		again, err := e.c.Cancel(ctx, x)
		if err != nil || tef.Approved(again) || again.Value(9, 0) != tefsim.CodeNotFound {
			t.Fatalf("second CNC: %v %+v, want refused %s", err, again, tefsim.CodeNotFound)
		}
	})
}

func TestCancelInvalid(t *testing.T) {
	e := setup(t, "tcp")
	ctx := ctxT(t, 5*time.Second)
	for _, x := range []tef.Cancellation{
		{NSU: "1", AmountCents: 0},
		{NSU: "", AmountCents: 100},
		{NSU: "1", AmountCents: 100, Timestamp: "12345"},
		{NSU: "1\r\n999-999 = 0", AmountCents: 100},
	} {
		if _, err := e.c.Cancel(ctx, x); err == nil {
			t.Errorf("Cancel(%+v): no error", x)
		}
	}
}

func TestLeftover(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		l       tefsim.Leftover
		want    string // 009-000 of the leftover; "" none
		pending bool
	}{
		{"approved", tefsim.Leftover{Document: "A1", AmountCents: 1000}, "0", true},
		{"aborted FF", tefsim.Leftover{Document: "A2", AmountCents: 1000, Aborted: true}, "FF", false},
		{"declined", tefsim.Leftover{Document: "A3", AmountCents: 1051}, "51", false},
		{"cut", tefsim.Leftover{Document: "A4", AmountCents: 1054}, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, "file")
			ctx := ctxT(t, 8*time.Second)
			if _, err := e.sim.LeftoverResponse(tc.l); err != nil {
				t.Fatal(err)
			}
			m, err := e.c.Leftover(ctx)
			if err != nil {
				t.Fatalf("Leftover: %v", err)
			}
			switch {
			case tc.want == "" && m != nil:
				t.Fatalf("a cut leftover returned %+v", m.Fields)
			case tc.want != "" && (m == nil || m.Value(9, 0) != tc.want || m.Value(2, 0) != tc.l.Document):
				t.Fatalf("leftover %+v, want 009-000 %s for %s", m, tc.want, tc.l.Document)
			}
			for _, p := range []string{filepath.Join(e.root, "resp", "IntPos.001"), filepath.Join(e.root, "resp", "IntPos.sts")} {
				if _, err := os.Stat(p); err == nil {
					t.Errorf("%s left behind", p)
				}
			}
			if again, err := e.c.Leftover(ctx); err != nil || again != nil {
				t.Fatalf("second Leftover: %v %v, want nothing", again, err)
			}
			if got := len(e.sim.Pending()) == 1; got != tc.pending {
				t.Fatalf("pending %+v", e.sim.Pending())
			}
			if tc.pending && m != nil {
				if err := e.c.Undo(ctx, m); err != nil {
					t.Fatal(err)
				}
				if len(e.sim.Pending()) != 0 {
					t.Fatalf("still pending after NCN: %+v", e.sim.Pending())
				}
			}
		})
	}
	t.Run("tcp", func(t *testing.T) {
		e := setup(t, "tcp")
		if m, err := e.c.Leftover(ctxT(t, time.Second)); m != nil || err != nil {
			t.Fatalf("tcp Leftover: %v %v", m, err)
		}
	})
}
