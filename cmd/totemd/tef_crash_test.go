package main

// Crash safety of card payments (docs/tef.md, "Crash safety, proven"): the real daemon is
// killed with SIGKILL at each point of the card flow, over TCP and over the file exchange, then
// started again on the same state dir. The TEF manager simulator and the printer run in this
// test process, so they outlive the daemon: the simulator's ledger and the printer's paper say
// what really happened. The daemon kills itself at a named point (TOTEMD_CRASH_AT, a binary
// built with -tags failpoint), or the test kills it while the sale is at the PIN pad.

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/totemd/totemd/payment"
	"github.com/totemd/totemd/payment/tef/tefsim"
	"github.com/totemd/totemd/printer/printertest"
	"github.com/totemd/totemd/printer/virtual"
	"github.com/totemd/totemd/ui/client"
)

// crashRun is one crash test: the simulator, the printer, and the daemon after the restart.
type crashRun struct {
	gp      *tefGP
	printer *printertest.Server
	d       *proc // the restarted daemon
}

// jobs returns the text of every job the printer printed, through both daemons.
func (r *crashRun) jobs(t *testing.T) []string {
	t.Helper()
	var out []string
	for i, j := range r.printer.Fake.Jobs() {
		res, err := virtual.Render(j, virtual.Options{Dots: 576})
		if err != nil {
			t.Fatalf("rendering printed job %d: %v", i, err)
		}
		out = append(out, res.Text)
	}
	return out
}

// requireSIGKILL requires that d died of SIGKILL.
func requireSIGKILL(t *testing.T, d *proc) {
	t.Helper()
	if ws, ok := d.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("totemd did not die of SIGKILL: %v\n%s", d.cmd.ProcessState, tail(d.out.String(), 40))
	}
}

// crtSent counts the CRTs the daemon's log (debug) shows sent to the TEF manager.
func crtSent(d *proc) int {
	n := 0
	for line := range strings.SplitSeq(d.out.String(), "\n") {
		if strings.Contains(line, `msg="tef: request sent"`) && strings.Contains(line, "command=CRT") {
			n++
		}
	}
	return n
}

// tefWaitFor polls cond until it holds, failing after waitTimeout.
func tefWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not %s within %s", what, waitTimeout)
		}
		time.Sleep(pollEvery) // polling interval of a deadline-bounded poll
	}
}

// waitAtPINPad waits until the sale d sent is with the simulator, at its PIN pad: over TCP its
// status came back through the proxy (the GP acknowledges before the PIN pad); over files the
// GP consumed the request the daemon wrote.
func waitAtPINPad(t *testing.T, gp *tefGP, d *proc) {
	t.Helper()
	if gp.transport == "tcp" {
		tefWaitFor(t, "the CRT acknowledged by the GP", func() bool { return gp.crtAnswers.Load() >= 1 })
		return
	}
	tefWaitFor(t, "the CRT written to REQ", func() bool { return crtSent(d) >= 1 })
	req := filepath.Join(gp.root, "req", tefsim.RequestFile)
	tefWaitFor(t, "the CRT consumed by the GP", func() bool { return !tefFileExists(req) })
}

// crashState is what a crashed session must be once the restarted daemon's recovery is done.
type crashState struct {
	what string
	ok   func(*payment.Session) bool
}

var (
	crashUnknown = crashState{"open, its attempt unknown (tef.unknown)", func(s *payment.Session) bool {
		a := s.Current()
		return s.State == payment.StateOpen && a.State == payment.AttemptUnknown && a.Problem != nil && a.Problem.Code == "tef.unknown"
	}}
	crashUndone = crashState{"open, its sale undone", func(s *payment.Session) bool {
		return s.State == payment.StateOpen && s.Current().State == payment.AttemptUndone
	}}
	crashFulfilled = crashState{"fulfilled, its sale confirmed", tefFulfilled}
	// crashKept: a sale the GP confirmed by itself (,55) stands; its ticket may be printing.
	crashKept = crashState{"paid or fulfilled, its sale confirmed", func(s *payment.Session) bool {
		return (s.State == payment.StatePaid || s.State == payment.StateFulfilled) && s.Current().State == payment.AttemptConfirmed
	}}
)

// crashConfirmed: the customer holds the ticket; the sale is confirmed, with one ticket.
func crashConfirmed(t *testing.T, r *crashRun, s *payment.Session) {
	t.Helper()
	if !tefFulfilled(s) || s.TicketPrints != 1 {
		t.Errorf("session %s, attempt %s, ticket_prints %d; want fulfilled, confirmed, printed once", s.State, s.Current().State, s.TicketPrints)
	}
	a := s.Current()
	if tx, ok := txByNSU(r.gp.Ledger(), a.Card.NSU); !ok || tx.State != tefsim.StateConfirmed {
		t.Errorf("ledger %s; want %s confirmed", ledgerStates(r.gp.Ledger()), a.Card.NSU)
	}
	if n := len(ticketJobs(r.jobs(t), s.Ticket, a.Card.NSU)); n != 1 {
		t.Errorf("ticket %s (NSU %s) printed %d times; want once:\n%s", s.Ticket, a.Card.NSU, n, strings.Join(r.jobs(t), "\n----\n"))
	}
}

// crashUndoneFinal: the customer got nothing; the sale is undone and they are told so.
func crashUndoneFinal(t *testing.T, r *crashRun, s *payment.Session) {
	t.Helper()
	l := r.gp.Ledger()
	var nsu string
	for _, tx := range l {
		if tx.Document == s.Ticket {
			nsu = tx.NSU
		}
	}
	if nsu == "" {
		t.Fatalf("ledger %s: no sale of ticket %s", ledgerStates(l), s.Ticket)
	}
	if s.State != payment.StateOpen {
		t.Errorf("session %s; want open", s.State)
	}
	undoneMessage(t, "the crashed sale", s.Current(), nsu)
	if tx, _ := txByNSU(l, nsu); tx.State != tefsim.StateUndone {
		t.Errorf("ledger %s; want %s undone", ledgerStates(l), nsu)
	}
	if n := len(ticketJobs(r.jobs(t), s.Ticket, nsu)); n != 0 || s.TicketPrints != 0 {
		t.Errorf("ticket %s printed %d times (ticket_prints %d) for a sale undone", s.Ticket, n, s.TicketPrints)
	}
}

// crashNotCharged: nothing reached the GP; the next sale shows nothing was pending.
func crashNotCharged(t *testing.T, r *crashRun, s *payment.Session) {
	t.Helper()
	a := s.Current()
	if s.State != payment.StateOpen || a.State != payment.AttemptAborted || a.Problem == nil || a.Problem.Code != "tef.not_charged" {
		t.Errorf("session %s, attempt %s %+v; want open, aborted (tef.not_charged)", s.State, a.State, a.Problem)
	}
	for _, tx := range r.gp.Ledger() {
		if tx.Document == s.Ticket {
			t.Errorf("ledger has a sale of ticket %s, whose CRT was never sent: %+v", s.Ticket, tx)
		}
	}
}

// tefCrashCase is one crash: where the daemon dies, and what must come of the sale.
type tefCrashCase struct {
	name    string
	cents   int64    // the sale's amount: centsApproved when 0
	crashAt string   // TOTEMD_CRASH_AT; "" = the test kills the daemon while the sale is at the PIN pad
	atCrash []string // the ledger's states once the daemon is dead (and the GP done with the sale)
	// restarted is what the crashed session is once the restarted daemon's recovery is done,
	// before anyone else pays; tcp, when it differs over TCP.
	restarted, tcp crashState
	final          func(t *testing.T, r *crashRun, s *payment.Session) // after the next customer's sale
}

// tefCrashCases is the crash table of docs/tef.md, and a crash before the CRT.
var tefCrashCases = []tefCrashCase{
	{name: "CRT sent (PIN pad)", atCrash: []string{tefsim.StatePending},
		// Files: the answer left in RESP is read at start and undone. TCP: the answer is lost
		// with the connection; the next sale's refusal names the pending transaction.
		restarted: crashUndone, tcp: crashUnknown, final: crashUndoneFinal},
	{name: "before the CRT", crashAt: "card.sale", restarted: crashUnknown, final: crashNotCharged},
	{name: "approval written", crashAt: "card.approved", atCrash: []string{tefsim.StatePending},
		restarted: crashUndone, final: crashUndoneFinal},
	{name: "ticket printed", crashAt: "card.printed", atCrash: []string{tefsim.StatePending},
		restarted: crashFulfilled, final: crashConfirmed},
	{name: "CNF written as sent", crashAt: "card.confirm_sent", atCrash: []string{tefsim.StatePending},
		restarted: crashFulfilled, final: crashConfirmed},
	{name: "CNF acknowledged", crashAt: "card.confirmed", atCrash: []string{tefsim.StateConfirmed},
		restarted: crashFulfilled, final: crashConfirmed},
	// 729-000 = 1 (,55): the GP confirmed the sale by itself; it stands, its ticket prints.
	{name: "approval written ,55", cents: centsNoConfirm, crashAt: "card.approved", atCrash: []string{tefsim.StateConfirmed},
		restarted: crashKept, final: crashConfirmed},
}

// TestTEFDaemonCrash kills the daemon at every point of a card sale, over both transports, and
// checks what the restarted daemon makes of it (the crash table of docs/tef.md), then sells to
// the next customer, and checks the simulator's ledger against the sessions and the paper.
func TestTEFDaemonCrash(t *testing.T) {
	t.Parallel()
	for _, transport := range []string{"tcp", "file"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			for _, tc := range tefCrashCases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					runTEFCrash(t, transport, tc)
				})
			}
		})
	}
}

// runTEFCrash runs one crash over transport: a sale, the daemon's death, the restart on the
// same state dir and GP, the next customer, then the ledger's checks.
func runTEFCrash(t *testing.T, transport string, tc tefCrashCase) {
	pinpad := 300 * time.Millisecond
	if tc.crashAt == "" {
		pinpad = 2 * time.Second // the kill lands while the customer is at the PIN pad
	}
	gp := startTEFGP(t, transport, pinpad, transport == "tcp" && tc.crashAt == "")
	prn, err := printertest.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prn.Close() })
	r := &crashRun{gp: gp, printer: prn}
	dir := filepath.Join(t.TempDir(), "state")
	cfg := tefDaemonConfig(t, dir, gp.dev, prn.URI())

	var env []string
	if tc.crashAt != "" {
		env = []string{"TOTEMD_CRASH_AT=" + tc.crashAt}
	}
	d1 := startDaemonEnv(t, dir, env, "--config", cfg)
	waitCardReady(t, d1.c)
	cents := cmp.Or(tc.cents, centsApproved)
	s, err := d1.c.CreateSession(ctxT(t), tefItem(cents))
	if err != nil {
		t.Fatal(err)
	}
	// The attempt is written before Pay answers and the flow starts: a daemon killing itself
	// at its first point (card.sale) may die before the answer leaves.
	var apiErr *client.Error
	if paid, err := tefPay(t, d1.c, s.ID, payment.MethodCredit); err != nil && (tc.crashAt == "" || errors.As(err, &apiErr)) {
		t.Fatalf("pay %s: %v", s.ID, err)
	} else if err != nil {
		t.Logf("pay %s: %v (the daemon died at %s before answering)", s.ID, err, tc.crashAt)
	} else if a := paid.Current(); a == nil || a.State != payment.AttemptRequested {
		t.Fatalf("card attempt after Pay: %+v", a)
	}
	if tc.crashAt == "" {
		waitAtPINPad(t, gp, d1)
		d1.kill()
		if l := gp.Ledger(); len(l) != 0 {
			t.Fatalf("the GP decided the sale before the kill landed (PIN pad time too short for this machine?): %s", ledgerStates(l))
		}
	} else {
		select {
		case <-d1.done:
		case <-time.After(waitTimeout):
			t.Fatalf("totemd did not kill itself at %s within %s", tc.crashAt, waitTimeout)
		}
		if !strings.Contains(d1.out.String(), `msg="failpoint: SIGKILL" point=`+tc.crashAt) {
			t.Fatalf("totemd died, but not at the failpoint %s:\n%s", tc.crashAt, tail(d1.out.String(), 40))
		}
	}
	requireSIGKILL(t, d1)
	if tc.crashAt == "card.sale" && crtSent(d1) != 0 {
		t.Fatalf("killed before the CRT, but the log shows it sent")
	}
	// The GP finishes what it was doing: the customer at the PIN pad goes on and approves.
	l := gp.waitLedger(t, fmt.Sprintf("%q", tc.atCrash), func(l []tefsim.Tx) bool {
		var st []string
		for _, tx := range l {
			st = append(st, tx.State)
		}
		return strings.Join(st, ",") == strings.Join(tc.atCrash, ",")
	})
	if tc.crashAt == "" && transport == "file" {
		resp := filepath.Join(gp.root, "resp", tefsim.ResponseFile)
		tefWaitFor(t, "the approval left in RESP", func() bool { return tefFileExists(resp) })
	}

	// The restart, on the same state dir and GP, without the failpoint.
	d := startDaemonEnv(t, dir, nil, "--config", cfg)
	r.d = d
	waitCardReady(t, d.c) // start-up recovery is done: card sales may start
	want := tc.restarted
	if transport == "tcp" && tc.tcp.ok != nil {
		want = tc.tcp
	}
	if s, err = d.c.Session(ctxT(t), s.ID); err != nil || s.Current() == nil || !want.ok(s) {
		b, _ := json.MarshalIndent(s, "", "  ")
		t.Fatalf("after the restart's recovery, session is not %s (%v):\n%s", want.what, err, b)
	}
	if len(l) == 1 && (l[0].Document != s.Ticket || l[0].AmountCents != cents) {
		t.Fatalf("ledger %+v; want the sale of ticket %s", l[0], s.Ticket)
	}

	// The next customer.
	next := tefCardSale(t, d.c, centsNext, payment.MethodCredit)
	next = waitSession(t, d.c, next.ID, "fulfilled by card", tefFulfilled)
	crashConfirmed(t, r, next)
	s = waitSession(t, d.c, s.ID, "settled", func(s *payment.Session) bool {
		return s.State != payment.StatePaying && s.State != payment.StatePaid && s.Current().State != payment.AttemptUnknown
	})
	tc.final(t, r, s)
	checkTEFLedger(t, r)
	noTEFPending(t, d)
}

// checkTEFLedger checks the simulator's ledger against the daemon's sessions and the printer's
// paper: nothing pending; no ticket with two confirmed sales; every confirmed sale belongs to a
// session fulfilled by it whose ticket came out of the printer; every sale undone is an attempt
// undone, whose customer was told; every attempt confirmed is a sale confirmed.
func checkTEFLedger(t *testing.T, r *crashRun) {
	t.Helper()
	l := r.gp.Ledger()
	sessions := allSessions(t, r.d.c)
	jobs := r.jobs(t)
	byTicket := map[string]*payment.Session{}
	for _, s := range sessions {
		if s.Ticket != "" {
			byTicket[s.Ticket] = s
		}
	}
	attemptOf := func(s *payment.Session, nsu string) *payment.Attempt {
		for i := range s.Attempts {
			if a := &s.Attempts[i]; a.Card != nil && a.Card.NSU == nsu {
				return a
			}
		}
		return nil
	}
	confirmedFor := map[string]int{}
	for _, tx := range l {
		s := byTicket[tx.Document]
		switch tx.State {
		case tefsim.StatePending:
			t.Errorf("transaction %s (ticket %s) left pending at the GP", tx.NSU, tx.Document)
		case tefsim.StateConfirmed:
			if confirmedFor[tx.Document]++; confirmedFor[tx.Document] > 1 {
				t.Errorf("ticket %s has %d confirmed sales: %s", tx.Document, confirmedFor[tx.Document], ledgerStates(l))
			}
			if s == nil {
				t.Errorf("confirmed sale %s of ticket %s: no such session", tx.NSU, tx.Document)
				continue
			}
			a := attemptOf(s, tx.NSU)
			switch {
			case a == nil || a.State != payment.AttemptConfirmed:
				t.Errorf("confirmed sale %s: session %s has no confirmed attempt with it: %+v", tx.NSU, s.ID, a)
			case s.State != payment.StateFulfilled || s.TicketPrints < 1:
				t.Errorf("confirmed sale %s: session %s is %s with ticket_prints %d; want fulfilled, printed", tx.NSU, s.ID, s.State, s.TicketPrints)
			case len(ticketJobs(jobs, s.Ticket, tx.NSU)) == 0:
				t.Errorf("confirmed sale %s: the ticket %s never came out of the printer (a customer charged without a ticket):\n%s",
					tx.NSU, s.Ticket, strings.Join(jobs, "\n----\n"))
			}
		case tefsim.StateUndone:
			if s == nil {
				t.Errorf("undone sale %s of ticket %s: no such session", tx.NSU, tx.Document)
				continue
			}
			if a := attemptOf(s, tx.NSU); a == nil || a.State != payment.AttemptUndone {
				t.Errorf("undone sale %s: session %s has no undone attempt with it: %+v", tx.NSU, s.ID, a)
			}
		default:
			t.Errorf("transaction %s: state %s", tx.NSU, tx.State)
		}
	}
	for _, s := range sessions {
		for i := range s.Attempts {
			a := &s.Attempts[i]
			if a.Card == nil {
				continue
			}
			tx, ok := txByNSU(l, a.Card.NSU)
			switch a.State {
			case payment.AttemptConfirmed:
				if !ok || tx.State != tefsim.StateConfirmed {
					t.Errorf("session %s attempt %d confirmed, the GP has %+v", s.ID, a.N, tx)
				}
			case payment.AttemptUndone:
				if !ok || tx.State != tefsim.StateUndone {
					t.Errorf("session %s attempt %d undone, the GP has %+v", s.ID, a.N, tx)
				}
				if s.Current().N == a.N && s.State != payment.StateOpen {
					t.Errorf("session %s: its last attempt was undone, but it is %s", s.ID, s.State)
				}
				undoneMessage(t, "session "+s.ID, a, a.Card.NSU)
			case payment.AttemptRequested, payment.AttemptApproved, payment.AttemptUnknown:
				t.Errorf("session %s attempt %d left %s", s.ID, a.N, a.State)
			}
		}
	}
	if t.Failed() {
		b, _ := json.MarshalIndent(sessions, "", "  ")
		t.Logf("sessions:\n%s", b)
	}
}

// tefFileExists reports whether path exists.
func tefFileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
