package main

// Card payments through the real daemon, end to end: a TEF manager simulator (tefsim) runs in
// this test process, on TCP or on the file exchange, and the daemon is pointed at it by its
// config (tef.device). Every simulator scenario (chosen by the amount's centavos) is driven
// through the daemon's API, over both transports; the simulator's ledger says what the GP made
// of it, the demo printer what the customer got. Helpers shared with tef_crash_test.go are
// here.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/totemd/totemd/payment"
	"github.com/totemd/totemd/payment/tef/tefsim"
	"github.com/totemd/totemd/ui/client"
)

// Prices of the TEF tests' catalog: the centavos choose the simulator's scenario.
const (
	centsApproved  = 10000 // approved after the PIN pad, confirmed by CNF
	centsDeclined  = 1051  // ,51 declined
	centsCancelled = 1052  // ,52 cancelled on the PIN pad
	centsNoStatus  = 1053  // ,53 the GP never answers
	centsLost      = 1054  // ,54 approved, the answer lost (pending at the GP)
	centsNoConfirm = 1055  // ,55 approved with 729-000 = 1 (no CNF)
	centsPartial   = 1056  // ,56 approved for a centavo less, with 729-000 = 1
	centsNext      = 12000 // the next customer (approved)
)

var tefPrices = []int64{centsApproved, centsDeclined, centsCancelled, centsNoStatus, centsLost, centsNoConfirm, centsPartial, centsNext}

// tefItem is one item of the TEF tests' catalog.
func tefItem(cents int64) []payment.Item {
	return []payment.Item{{SKU: fmt.Sprintf("P%d", cents), Name: "Teste cartao", UnitCents: payment.Money(cents), Qty: 1}}
}

// tefDaemonConfig writes the daemon config of the TEF tests: the catalog above, the TEF manager
// at dev (status within 2 s, a cut response file is a lost answer after 1 s), and, unless
// printerURI is "", that printer (else --demo simulates one).
func tefDaemonConfig(t *testing.T, stateDir, dev, printerURI string) string {
	t.Helper()
	var b strings.Builder
	methods := "[pix, credit, debit]"
	if printerURI != "" {
		methods = "[credit, debit]" // run without --demo: no PSP
	}
	fmt.Fprintf(&b, "payment:\n  methods: %s\n  session_timeout: 10m\ncatalog:\n", methods)
	for _, c := range tefPrices {
		fmt.Fprintf(&b, "  - sku: P%d\n    name: Teste %d\n    price_cents: %d\n    prefix: A\n", c, c, c)
	}
	fmt.Fprintf(&b, "tef:\n  device: %q\n  status_timeout: 2s\n  cut_response_timeout: 1s\n", dev)
	// A generous status timeout: a loaded machine must not take the printer for offline.
	fmt.Fprintf(&b, "printer:\n  device: %q\n  profile: generic-80\n  status_timeout: 5s\n", printerURI)
	return writeDaemonConfig(t, stateDir, b.String())
}

// tefGP is a TEF manager simulator in the test process: it outlives the daemon's SIGKILL, and
// its ledger says what became of every sale.
type tefGP struct {
	*tefsim.Sim
	logs      *syncBuffer
	transport string // tcp or file
	dev       string // tef.device for the daemon
	root      string // the file exchange's root; "" on tcp
	// crtAnswers counts the answers to CRT (status and response) the GP sent through the
	// proxy (tcp with a proxy only): the first one is the status, sent before the PIN pad.
	crtAnswers atomic.Int64
}

// startTEFGP starts a simulator on transport (tcp or file) with that PIN pad time. With proxy
// (tcp only), the daemon reaches it through a proxy of this process that sees the CRT's status
// go by: the sale is then at the PIN pad.
func startTEFGP(t *testing.T, transport string, pinpad time.Duration, proxy bool) *tefGP {
	t.Helper()
	logs := &syncBuffer{}
	sim, err := tefsim.New(tefsim.Options{
		PINPadDelay: pinpad,
		StatusDelay: 10 * time.Millisecond,
		Dir:         t.TempDir(),
		Logger:      slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	g := &tefGP{Sim: sim, logs: logs, transport: transport}
	t.Cleanup(func() {
		sim.Close()
		if t.Failed() {
			b, _ := json.MarshalIndent(sim.Ledger(), "", "  ")
			t.Logf("simulator (%s) ledger:\n%s\nsimulator log:\n%s", transport, b, tail(logs.String(), 60))
		}
	})
	switch transport {
	case "tcp":
		addr, err := sim.ListenTCP("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if proxy {
			addr = g.proxy(t, addr)
		}
		g.dev = "tcp://" + addr
	case "file":
		g.root = t.TempDir()
		if err := sim.ServeFiles(filepath.Join(g.root, "req"), filepath.Join(g.root, "resp")); err != nil {
			t.Fatal(err)
		}
		g.dev = "file://" + g.root
	default:
		t.Fatalf("transport %q", transport)
	}
	return g
}

// proxy forwards a loopback port to the simulator at target, byte for byte, counting the CRT
// answers coming back. A connection closed on one side is closed on the other.
func (g *tefGP) proxy(t *testing.T, target string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	track := func(c net.Conn, on bool) {
		mu.Lock()
		defer mu.Unlock()
		if on {
			conns[c] = true
		} else {
			delete(conns, c)
		}
	}
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			track(c, true)
			track(s, true)
			closeBoth := func() {
				c.Close()
				s.Close()
				track(c, false)
				track(s, false)
			}
			wg.Go(func() {
				defer closeBoth()
				_, _ = io.Copy(s, c)
			})
			wg.Go(func() {
				defer closeBoth()
				var seen []byte
				counted := 0
				buf := make([]byte, 4096)
				for {
					n, err := s.Read(buf)
					if n > 0 {
						seen = append(seen, buf[:n]...)
						if k := bytes.Count(seen, []byte("000-000 = CRT")); k > counted {
							g.crtAnswers.Add(int64(k - counted))
							counted = k
						}
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// waitLedger polls the simulator's ledger until cond holds.
func (g *tefGP) waitLedger(t *testing.T, what string, cond func([]tefsim.Tx) bool) []tefsim.Tx {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		l := g.Ledger()
		if cond(l) {
			return l
		}
		if time.Now().After(deadline) {
			b, _ := json.MarshalIndent(l, "", "  ")
			t.Fatalf("simulator ledger: not %s within %s:\n%s", what, waitTimeout, b)
		}
		time.Sleep(pollEvery) // polling interval of a deadline-bounded poll
	}
}

// txByNSU returns the ledger's transaction with that NSU.
func txByNSU(l []tefsim.Tx, nsu string) (tefsim.Tx, bool) {
	for _, tx := range l {
		if tx.NSU == nsu {
			return tx, true
		}
	}
	return tefsim.Tx{}, false
}

// ledgerStates is "NSU:state" of every transaction, for messages.
func ledgerStates(l []tefsim.Tx) string {
	var out []string
	for _, tx := range l {
		out = append(out, fmt.Sprintf("%s(%s,%d):%s", tx.NSU, tx.Document, tx.AmountCents, tx.State))
	}
	return "[" + strings.Join(out, " ") + "]"
}

// sentToGP reports whether the simulator's log shows a command of that kind (CNF, NCN).
func (g *tefGP) sentToGP(cmd string) bool {
	return strings.Contains(g.logs.String(), "command="+cmd)
}

// waitCardReady polls GET /api/v1/tef/pending until start-up recovery of card transactions
// is done (until then card sales are refused with tef.recovering).
func waitCardReady(t *testing.T, c *client.Client) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		_, recovered, err := c.TEFPending(ctxT(t))
		if err != nil {
			t.Fatalf("GET /api/v1/tef/pending: %v", err)
		}
		if recovered {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("card recovery not done within %s", waitTimeout)
		}
		time.Sleep(pollEvery) // polling interval of a deadline-bounded poll
	}
}

// tefCardSale opens a session for one item of that price and pays it by card; it returns the
// session as Pay answered (the attempt requested).
func tefCardSale(t *testing.T, c *client.Client, cents int64, m payment.Method) *payment.Session {
	t.Helper()
	s, err := c.CreateSession(ctxT(t), tefItem(cents))
	if err != nil {
		t.Fatalf("create a session of %d centavos: %v", cents, err)
	}
	id := s.ID
	s, err = tefPay(t, c, id, m)
	if err != nil {
		t.Fatalf("pay %s by %s: %v", id, m, err)
	}
	if a := s.Current(); a == nil || a.Method != m || a.State != payment.AttemptRequested {
		t.Fatalf("card attempt after Pay: %+v", a)
	}
	return s
}

// tefPay pays session id by card. A refusal because the printer's first status is not read
// yet (a daemon just started, on a loaded machine) is asked again: nothing was charged.
func tefPay(t *testing.T, c *client.Client, id string, m payment.Method) (*payment.Session, error) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		s, err := c.Pay(ctxT(t), id, payment.PayRequest{Method: m})
		var ae *client.Error
		if !errors.As(err, &ae) || ae.Code != "printer.offline" || time.Now().After(deadline) {
			return s, err
		}
		time.Sleep(pollEvery) // polling interval of a deadline-bounded poll
	}
}

// tefSettled: the session waits on no card attempt any more.
func tefSettled(s *payment.Session) bool { return s.State != payment.StatePaying }

// tefFulfilled: paid by its last attempt, confirmed with the manager, ticket out.
func tefFulfilled(s *payment.Session) bool {
	a := s.Current()
	return s.State == payment.StateFulfilled && a != nil && a.State == payment.AttemptConfirmed
}

// noTEFPending requires that neither the API nor `totemd tef pending` (through the running
// daemon) lists a card attempt left unsettled.
func noTEFPending(t *testing.T, d *proc) {
	t.Helper()
	p, recovered, err := d.c.TEFPending(ctxT(t))
	if err != nil || !recovered || len(p) != 0 {
		t.Errorf("GET /api/v1/tef/pending: recovered %v, %+v, %v; want nothing pending", recovered, p, err)
	}
	out, errOut, code := runCLI(t, "tef", "pending", "--json", "--state-dir", d.dir)
	var listed []payment.PendingCard
	if code != 0 || json.Unmarshal([]byte(out), &listed) != nil || len(listed) != 0 {
		t.Errorf("totemd tef pending --json: exit %d, want an empty list\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

// demoJobs returns the text of every job the daemon's demo printer printed.
func demoJobs(t *testing.T, d *proc) []string {
	t.Helper()
	code, body := d.request("GET", "/api/v1/demo/printer/jobs", "", d.bearer())
	var n struct {
		Count int `json:"count"`
	}
	if code != 200 || json.Unmarshal(body, &n) != nil {
		t.Fatalf("GET /api/v1/demo/printer/jobs = %d %s", code, body)
	}
	var out []string
	for i := range n.Count {
		code, body := d.request("GET", fmt.Sprintf("/api/v1/demo/printer/jobs/%d.txt", i), "", d.bearer())
		if code != 200 {
			t.Fatalf("GET /api/v1/demo/printer/jobs/%d.txt = %d %s", i, code, body)
		}
		out = append(out, string(body))
	}
	return out
}

// ticketJobs returns the jobs that are the ticket of s paid by transaction nsu: its ticket
// number and the customer's receipt (NSU) on one job.
func ticketJobs(jobs []string, ticket, nsu string) []string {
	var out []string
	for _, j := range jobs {
		if strings.Contains(j, ticket) && strings.Contains(j, "NSU: "+nsu) {
			out = append(out, j)
		}
	}
	return out
}

// undoneMessage checks the customer's message of a sale undone (NCN): network, NSU, amount,
// nothing charged.
func undoneMessage(t *testing.T, who string, a *payment.Attempt, nsu string) {
	t.Helper()
	if a.State != payment.AttemptUndone || a.Card == nil || a.Card.NSU != nsu || a.Problem == nil || a.Problem.Code != "tef.undone" {
		t.Errorf("%s: attempt %s, card %+v, problem %+v; want undone (tef.undone) with NSU %s", who, a.State, a.Card, a.Problem, nsu)
		return
	}
	for _, w := range []string{"Transação cancelada: rede REDE, NSU " + nsu, "valor " + a.Amount.String(), "Nada foi cobrado."} {
		if !strings.Contains(a.Message, w) {
			t.Errorf("%s: the customer's message %q lacks %q", who, a.Message, w)
		}
	}
}

// tefEnv is one daemon in demo mode (PSP and printer simulated in it) and its TEF manager
// simulator in this process.
type tefEnv struct {
	d  *proc
	gp *tefGP
}

// TestTEFDaemonScenarios runs every simulator scenario through the daemon, over TCP and the
// file exchange, each with its own daemon and simulator.
func TestTEFDaemonScenarios(t *testing.T) {
	t.Parallel()
	approved := func(m payment.Method, kind string) func(t *testing.T, e *tefEnv, s *payment.Session) {
		return func(t *testing.T, e *tefEnv, s *payment.Session) {
			s = waitSession(t, e.d.c, s.ID, "fulfilled by card", tefFulfilled)
			a := s.Current()
			if a.Method != m || a.Card == nil || a.Card.NSU == "" || !a.Card.NeedsConfirm || !a.Card.ConfirmSent || a.Card.Network != "REDE" {
				t.Fatalf("confirmed attempt: %+v card %+v", a, a.Card)
			}
			if s.TicketPrints != 1 || s.Problem != nil {
				t.Errorf("session: ticket_prints %d problem %+v; want 1 print, no problem", s.TicketPrints, s.Problem)
			}
			l := e.gp.waitLedger(t, "one confirmed sale", func(l []tefsim.Tx) bool {
				return len(l) == 1 && l[0].State == tefsim.StateConfirmed
			})
			if tx := l[0]; tx.NSU != a.Card.NSU || tx.AmountCents != centsApproved || tx.Document != s.Ticket {
				t.Errorf("ledger %+v; want NSU %s, %d centavos, document %s", tx, a.Card.NSU, centsApproved, s.Ticket)
			}
			jobs := demoJobs(t, e.d)
			if len(jobs) != 1 || len(ticketJobs(jobs, s.Ticket, a.Card.NSU)) != 1 || !strings.Contains(jobs[0], kind) {
				t.Errorf("printed %d jobs; want one ticket %s with the %s receipt of NSU %s:\n%s", len(jobs), s.Ticket, kind, a.Card.NSU, strings.Join(jobs, "\n----\n"))
			}
			if e.gp.sentToGP("NCN") {
				t.Error("an NCN was sent for a sale that printed")
			}
		}
	}
	refused := func(code, msg string) func(t *testing.T, e *tefEnv, s *payment.Session) {
		return func(t *testing.T, e *tefEnv, s *payment.Session) {
			s = waitSession(t, e.d.c, s.ID, "open again", tefSettled)
			a := s.Current()
			if s.State != payment.StateOpen || a.State != payment.AttemptDeclined || a.Problem == nil || a.Problem.Code != code ||
				a.Message != msg || s.Problem == nil || s.Problem.Message != msg {
				t.Errorf("session %s problem %+v, attempt %s %q problem %+v; want open, declined (%s) with %q",
					s.State, s.Problem, a.State, a.Message, a.Problem, code, msg)
			}
			if l := e.gp.Ledger(); len(l) != 0 {
				t.Errorf("ledger %s; want nothing", ledgerStates(l))
			}
			if e.gp.sentToGP("CNF") || e.gp.sentToGP("NCN") {
				t.Error("a CNF or NCN was sent for a sale that was not approved")
			}
			if jobs := demoJobs(t, e.d); len(jobs) != 0 || s.TicketPrints != 0 {
				t.Errorf("%d jobs printed, ticket_prints %d; want none", len(jobs), s.TicketPrints)
			}
		}
	}
	cases := []struct {
		name   string
		cents  int64
		method payment.Method
		pinpad time.Duration
		before func(t *testing.T, e *tefEnv) // after Pay returned
		check  func(t *testing.T, e *tefEnv, s *payment.Session)
	}{
		{name: "approved credit", cents: centsApproved, method: payment.MethodCredit, check: approved(payment.MethodCredit, "CREDITO A VISTA")},
		{name: "approved debit", cents: centsApproved, method: payment.MethodDebit, check: approved(payment.MethodDebit, "DEBITO A VISTA")},
		{name: "declined ,51", cents: centsDeclined, method: payment.MethodCredit,
			check: refused("tef.declined", "NAO AUTORIZADA. CONSULTE O EMISSOR")},
		{name: "cancelled ,52", cents: centsCancelled, method: payment.MethodDebit,
			check: refused("tef.declined", "OPERACAO CANCELADA PELO CLIENTE")},
		{name: "no status ,53", cents: centsNoStatus, method: payment.MethodCredit, check: func(t *testing.T, e *tefEnv, s *payment.Session) {
			s = waitSession(t, e.d.c, s.ID, "open again", tefSettled)
			a := s.Current()
			if s.State != payment.StateOpen || a.State != payment.AttemptAborted || a.Problem == nil || a.Problem.Code != "tef.unavailable" ||
				!strings.Contains(a.Message, "TEF não responde") {
				t.Errorf("session %s, attempt %s %+v; want open, aborted with tef.unavailable", s.State, a.State, a.Problem)
			}
			// The GP is taken for down until it answers again: card methods are off.
			s2, err := e.d.c.CreateSession(ctxT(t), tefItem(centsApproved))
			if err != nil {
				t.Fatal(err)
			}
			var ae *client.Error
			if _, err := e.d.c.Pay(ctxT(t), s2.ID, payment.PayRequest{Method: payment.MethodDebit}); !errors.As(err, &ae) || ae.Code != "tef.unavailable" {
				t.Errorf("a card payment while the GP does not answer: %v; want tef.unavailable", err)
			}
			code, body := e.d.request("GET", "/healthz", "", nil)
			var hz struct {
				Critical int `json:"critical_conditions"`
			}
			if code != 200 || json.Unmarshal(body, &hz) != nil || hz.Critical < 1 {
				t.Errorf("GET /healthz = %d %s; want the critical condition tef.unavailable", code, body)
			}
			if l := e.gp.Ledger(); len(l) != 0 {
				t.Errorf("ledger %s; want nothing", ledgerStates(l))
			}
		}},
		{name: "lost approval ,54", cents: centsLost, method: payment.MethodCredit, check: func(t *testing.T, e *tefEnv, s *payment.Session) {
			s = waitSession(t, e.d.c, s.ID, "open again", tefSettled)
			a := s.Current()
			if s.State != payment.StateOpen || a.State != payment.AttemptUnknown || a.Problem == nil || a.Problem.Code != "tef.unknown" ||
				!strings.Contains(a.Message, "Não recebemos a resposta do TEF") {
				t.Fatalf("session %s, attempt %s %q %+v; want open, unknown (tef.unknown)", s.State, a.State, a.Message, a.Problem)
			}
			lost := e.gp.waitLedger(t, "the lost sale pending", func(l []tefsim.Tx) bool {
				return len(l) == 1 && l[0].State == tefsim.StatePending
			})[0]
			if lost.Document != s.Ticket || lost.AmountCents != centsLost {
				t.Errorf("pending transaction %+v; want document %s, %d centavos", lost, s.Ticket, centsLost)
			}
			p, _, err := e.d.c.TEFPending(ctxT(t))
			if err != nil || len(p) != 1 || p[0].SessionID != s.ID || p[0].State != payment.AttemptUnknown {
				t.Errorf("tef pending: %+v %v; want the unknown attempt of %s", p, err, s.ID)
			}
			// The next customer's sale: the GP refuses it for the pending transaction, which the
			// daemon undoes (NCN) and records on the unknown attempt, then sells.
			next := tefCardSale(t, e.d.c, centsNext, payment.MethodCredit)
			next = waitSession(t, e.d.c, next.ID, "fulfilled by card", tefFulfilled)
			s = waitSession(t, e.d.c, s.ID, "its lost sale undone", func(s *payment.Session) bool {
				return s.Current().State != payment.AttemptUnknown
			})
			if s.State != payment.StateOpen {
				t.Errorf("session of the lost sale: %s, want open", s.State)
			}
			undoneMessage(t, "the lost sale", s.Current(), lost.NSU)
			l := e.gp.Ledger()
			if tx, _ := txByNSU(l, lost.NSU); tx.State != tefsim.StateUndone || len(l) != 2 {
				t.Errorf("ledger %s; want %s undone and the next sale confirmed", ledgerStates(l), lost.NSU)
			}
			if tx, _ := txByNSU(l, next.Current().Card.NSU); tx.State != tefsim.StateConfirmed || tx.Document != next.Ticket {
				t.Errorf("ledger %s; want the next sale %s confirmed", ledgerStates(l), next.Current().Card.NSU)
			}
			jobs := demoJobs(t, e.d)
			if len(jobs) != 1 || len(ticketJobs(jobs, next.Ticket, next.Current().Card.NSU)) != 1 {
				t.Errorf("printed %d jobs; want the next customer's ticket only:\n%s", len(jobs), strings.Join(jobs, "\n----\n"))
			}
		}},
		{name: "no confirmation ,55", cents: centsNoConfirm, method: payment.MethodDebit, check: func(t *testing.T, e *tefEnv, s *payment.Session) {
			s = waitSession(t, e.d.c, s.ID, "fulfilled by card", tefFulfilled)
			a := s.Current()
			if a.Card == nil || a.Card.NeedsConfirm || a.Card.NSU == "" {
				t.Fatalf("attempt card %+v; want an NSU and needs_confirm false", a.Card)
			}
			l := e.gp.Ledger()
			if len(l) != 1 || l[0].State != tefsim.StateConfirmed || l[0].NSU != a.Card.NSU {
				t.Errorf("ledger %s; want %s confirmed", ledgerStates(l), a.Card.NSU)
			}
			if e.gp.sentToGP("CNF") || e.gp.sentToGP("NCN") {
				t.Errorf("a CNF or NCN was sent for a sale that needs none:\n%s", e.gp.logs.String())
			}
			jobs := demoJobs(t, e.d)
			if len(jobs) != 1 || len(ticketJobs(jobs, s.Ticket, a.Card.NSU)) != 1 || s.TicketPrints != 1 {
				t.Errorf("printed %d jobs, ticket_prints %d; want the ticket once", len(jobs), s.TicketPrints)
			}
		}},
		{name: "partial approval ,56", cents: centsPartial, method: payment.MethodCredit, check: func(t *testing.T, e *tefEnv, s *payment.Session) {
			// The GP charged another amount and confirmed it by itself: no ticket, the customer
			// is told the money goes back, and the operator cancels it at the GP, then closes it.
			s = waitSession(t, e.d.c, s.ID, "open again", tefSettled)
			a := s.Current()
			if s.State != payment.StateOpen || a.State != payment.AttemptConfirmed || a.Problem == nil || a.Problem.Code != "tef.cancel_needed" ||
				!strings.Contains(a.Message, "R$ 10,55") || !strings.Contains(a.Message, a.Card.NSU) || strings.Contains(a.Message, "Nada foi cobrado") {
				t.Fatalf("session %s, attempt %s %q; want open, confirmed with tef.cancel_needed", s.State, a.State, a.Message)
			}
			l := e.gp.Ledger()
			if len(l) != 1 || l[0].State != tefsim.StateConfirmed || l[0].AmountCents != centsPartial-1 {
				t.Errorf("ledger %s; want one sale of %d confirmed", ledgerStates(l), centsPartial-1)
			}
			if e.gp.sentToGP("CNF") || e.gp.sentToGP("NCN") {
				t.Errorf("a CNF or NCN was sent for a sale that needs none:\n%s", e.gp.logs.String())
			}
			if jobs := demoJobs(t, e.d); len(jobs) != 0 {
				t.Errorf("%d jobs printed for a sale of another amount", len(jobs))
			}
			out, errOut, code := runCLI(t, "tef", "pending", "--state-dir", e.d.dir)
			if code != 0 || !strings.Contains(out, "confirmed (tef.cancel_needed)") || !strings.Contains(out, s.ID+"/1") {
				t.Errorf("totemd tef pending: exit %d\n%s%s", code, out, errOut)
			}
			closed, err := e.d.c.TEFResolve(ctxT(t), s.ID, 1, "close")
			if err != nil || closed.Current().Problem == nil || closed.Current().Problem.Code != "tef.cancelled" {
				t.Errorf("closing it: %v %+v", err, closed)
			}
		}},
		{name: "printer out of paper", cents: centsApproved, method: payment.MethodCredit, pinpad: time.Second,
			// The paper runs out while the customer is at the PIN pad: the approval cannot be
			// printed, so it is undone.
			before: func(t *testing.T, e *tefEnv) {
				if err := e.d.c.DemoPaperOut(ctxT(t), true); err != nil {
					t.Fatal(err)
				}
			},
			check: func(t *testing.T, e *tefEnv, s *payment.Session) {
				s = waitSession(t, e.d.c, s.ID, "open again", tefSettled)
				l := e.gp.waitLedger(t, "one sale undone", func(l []tefsim.Tx) bool {
					return len(l) == 1 && l[0].State != tefsim.StatePending
				})
				if s.State != payment.StateOpen || l[0].State != tefsim.StateUndone {
					t.Fatalf("session %s, ledger %s; want open, the sale undone", s.State, ledgerStates(l))
				}
				a := s.Current()
				undoneMessage(t, "paper out", a, l[0].NSU)
				if !strings.Contains(a.Message, "não foi possível imprimir o ticket") || s.Problem == nil || s.Problem.Message != a.Message {
					t.Errorf("message %q, session problem %+v; want the print failure told", a.Message, s.Problem)
				}
				if e.gp.sentToGP("CNF") {
					t.Error("a CNF was sent for a sale whose ticket did not print")
				}
				if jobs := demoJobs(t, e.d); len(jobs) != 0 {
					t.Errorf("%d jobs printed with no paper", len(jobs))
				}
			}},
	}
	for _, transport := range []string{"tcp", "file"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					gp := startTEFGP(t, transport, max(tc.pinpad, 100*time.Millisecond), false)
					dir := filepath.Join(t.TempDir(), "state")
					d := startDaemon(t, dir, "--demo", "--config", tefDaemonConfig(t, dir, gp.dev, ""))
					e := &tefEnv{d: d, gp: gp}
					waitCardReady(t, d.c)
					s := tefCardSale(t, d.c, tc.cents, tc.method)
					if tc.before != nil {
						tc.before(t, e)
					}
					tc.check(t, e, s)
					if p := gp.Pending(); len(p) != 0 {
						t.Errorf("left pending at the GP: %s", ledgerStates(p))
					}
					noTEFPending(t, d)
				})
			}
		})
	}
}
