package payment_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/totemd/totemd/payment"
	"github.com/totemd/totemd/payment/paymenttest"
	"github.com/totemd/totemd/payment/tef/tefsim"
)

// Bugs found by the card-flow review of 2026-11-23: each test failed before its fix.

// requestedAt rewrites session id as a card sale of amount under ticket, sent to the manager
// when the kiosk stopped (the state a kill at the PIN pad leaves).
func (k *tefKiosk) requestedAt(id, ticket string, amount payment.Money) {
	k.rewrite(id, func(sess *payment.Session) {
		now := k.clock.Now()
		sess.State, sess.Ticket = payment.StatePaying, ticket
		sess.Attempts = []payment.Attempt{{N: 1, Method: payment.MethodCredit, State: payment.AttemptRequested,
			Amount: amount, CreatedAt: now, UpdatedAt: now, Card: &payment.CardData{}}}
	})
}

// A sale the manager confirmed by itself (729-000 = 1), answered after the kiosk had already
// restarted once and marked the attempt unknown, was "undone" with NCN and its customer told
// nothing was charged: the money was taken and no ticket printed. It is kept: the session,
// still open on that attempt, is paid and the ticket printed.
func TestBugSelfConfirmedLeftoverForUnknownAttempt(t *testing.T) {
	k := newTEFKiosk(t, "file")
	s := k.create(item2("semcnf")) // R$ 10,55: approved with 729-000 = 1
	k.restartWith(t, func() { k.requestedAt(s.ID, "S001", 1055) })
	k.waitAttempt(s.ID, 1, payment.AttemptUnknown)
	k.waitCardReady()
	var tx tefsim.Tx
	k.restartWith(t, func() {
		var err error
		if tx, err = k.sim.LeftoverResponse(tefsim.Leftover{Document: "S001", AmountCents: 1055}); err != nil {
			t.Fatal(err)
		}
	})
	got := k.waitState(s.ID, payment.StateFulfilled)
	if a := got.Attempt(1); a.State != payment.AttemptConfirmed || a.Card.NSU != tx.NSU || strings.Contains(a.Message, "Nada foi cobrado") {
		t.Errorf("attempt %s NSU %s %q; want confirmed with NSU %s", a.State, a.Card.NSU, a.Message, tx.NSU)
	}
	if st := k.ledger(t, tx.NSU); st != tefsim.StateConfirmed {
		t.Errorf("GP ledger: %s", st)
	}
	if n := len(k.printer.Printed()); n != 1 {
		t.Errorf("%d tickets printed, want 1", n)
	}
}

// The same late answer for a purchase the customer meanwhile paid with Pix: a second charge.
// Nothing is printed for it, the customer is not told "nothing was charged", and the operator
// is asked to cancel it at the manager (tef.cancel_needed, then close).
func TestSelfConfirmedLeftoverAfterPaidAnotherWay(t *testing.T) {
	k := newTEFKiosk(t, "file")
	s := k.create(item2("semcnf"))
	k.restartWith(t, func() { k.requestedAt(s.ID, "S001", 1055) })
	k.waitAttempt(s.ID, 1, payment.AttemptUnknown)
	k.waitCardReady()
	a := k.payPix(s.ID)
	if !k.pix.Pay(a.Pix.TxID, 1055) {
		t.Fatal("Pix payment not taken")
	}
	k.waitState(s.ID, payment.StateFulfilled)
	var tx tefsim.Tx
	k.restartWith(t, func() {
		var err error
		if tx, err = k.sim.LeftoverResponse(tefsim.Leftover{Document: "S001", AmountCents: 1055}); err != nil {
			t.Fatal(err)
		}
	})
	k.waitCardReady()
	got := k.waitFor(s.ID, "the card sale marked for cancellation", func(s *payment.Session) bool {
		return s.Attempt(1).Problem != nil && s.Attempt(1).Problem.Code == "tef.cancel_needed"
	})
	if a := got.Attempt(1); a.State != payment.AttemptConfirmed || got.State != payment.StateFulfilled ||
		strings.Contains(a.Message, "Nada foi cobrado") || !strings.Contains(a.Message, tx.NSU) {
		t.Errorf("after the late answer: %s, card attempt %q", describe(got), a.Message)
	}
	if n := len(k.printer.Printed()); n != 1 {
		t.Errorf("%d tickets printed, want 1 (the Pix one)", n)
	}
	pending, err := k.svc.PendingCards(context.Background())
	if err != nil || len(pending) != 1 || pending[0].SessionID != s.ID || strings.Join(pending[0].Actions, ",") != "close" || pending[0].Problem != "tef.cancel_needed" {
		t.Fatalf("PendingCards: %+v %v", pending, err)
	}
	closed, err := k.svc.ResolveCard(context.Background(), s.ID, 1, "close")
	if err != nil || closed.Attempt(1).Problem.Code != "tef.cancelled" {
		t.Fatalf("close: %v %+v", err, closed)
	}
	if pending, _ := k.svc.PendingCards(context.Background()); len(pending) != 0 {
		t.Errorf("still pending after close: %+v", pending)
	}
	if _, err := k.svc.ResolveCard(context.Background(), s.ID, 1, "close"); err == nil || !strings.Contains(err.Error(), "nenhuma") {
		t.Errorf("closing it twice: %v", err)
	}
}

// The approval a crash left in RESP was deleted unread when removing a stale request file
// afterwards failed (a lock): the adapter dropped the message it had read with the error.
func TestBugLeftoverKeptWhenCleanupFails(t *testing.T) {
	k := newTEFKiosk(t, "file")
	s := k.create(item2("semcnf"))
	var tx tefsim.Tx
	k.restartWith(t, func() {
		k.requestedAt(s.ID, "S001", 1055)
		var err error
		if tx, err = k.sim.LeftoverResponse(tefsim.Leftover{Document: "S001", AmountCents: 1055}); err != nil {
			t.Fatal(err)
		}
		// A stale request file that cannot be removed (locked on Windows; here a non-empty
		// directory).
		if err := os.MkdirAll(filepath.Join(k.root, "req", "IntPos.tmp", "locked"), 0o755); err != nil {
			t.Fatal(err)
		}
	})
	got := k.waitState(s.ID, payment.StateFulfilled)
	if a := got.Attempt(1); a.State != payment.AttemptConfirmed || a.Card.NSU != tx.NSU {
		t.Errorf("attempt %s NSU %s; want confirmed with NSU %s", a.State, a.Card.NSU, tx.NSU)
	}
}

// A sale the manager confirmed by itself for another amount than the purchase's was marked
// confirmed while its session stayed paying for good, with no ticket and no way out. It is now
// left to an operator to cancel (tef.cancel_needed), the customer is told, and the session is
// open again; a restart changes nothing of it.
func TestBugSelfConfirmedOtherAmount(t *testing.T) {
	e := newEnv(t)
	e.hooks.set(func(h *cardHooks) {
		h.sale = func(ctx context.Context, c *paymenttest.Card, req payment.CardSale, p func(string)) (payment.CardResult, error) {
			res, err := c.Sale(ctx, req, p)
			res.Amount = req.Amount + 100 // the manager charged another amount
			res.Data.NeedsConfirm = false // and confirmed it by itself (729-000 = 1)
			return res, err
		}
	})
	s := e.create(item("consulta", 1))
	e.pay(s.ID, payment.MethodCredit)
	check := func(when string) {
		t.Helper()
		got := e.waitFor(s.ID, "the sale marked for cancellation", func(s *payment.Session) bool {
			return s.Attempt(1).Problem != nil && s.Attempt(1).Problem.Code == "tef.cancel_needed"
		})
		if got.State != payment.StateOpen || got.Attempt(1).State != payment.AttemptConfirmed ||
			got.Problem == nil || got.Problem.Code != "tef.cancel_needed" || !strings.Contains(got.Problem.Message, "estornado") {
			t.Errorf("%s: %s, problem %+v", when, describe(got), got.Problem)
		}
		if n := len(e.printer.Printed()); n != 0 {
			t.Errorf("%s: %d tickets printed for a sale of another amount", when, n)
		}
	}
	check("after the sale")
	e.waitNote(s.ID, "tef.cancel_needed")
	e.restart(nil)
	e.waitCardReady()
	check("after a restart")
}

// pendingGP is a manager that holds at most one pending transaction, matches CNF/NCN on
// network + NSU + finalização, refuses sales while one is pending, and gives its second sale
// the first one's NSU (six-digit NSUs wrap) and loses its answer.
type pendingGP struct {
	mu      sync.Mutex
	sales   int
	pending *payment.CardResult
	log     []string
}

func (g *pendingGP) Ready(context.Context) error                             { return nil }
func (g *pendingGP) Leftovers(context.Context) ([]payment.CardResult, error) { return nil, nil }

func (g *pendingGP) Sale(_ context.Context, req payment.CardSale, _ func(string)) (payment.CardResult, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.pending != nil {
		p := *g.pending
		g.log = append(g.log, "CRT refused: pending "+p.Data.NSU+" "+p.Data.Ref["027"])
		return payment.CardResult{Pending: true, Amount: p.Amount, Code: "60", Data: p.Data}, nil
	}
	g.sales++
	nsu, fin := "000001", fmt.Sprintf("FIN-%d", g.sales)
	if g.sales >= 3 {
		nsu = "000002"
	}
	res := payment.CardResult{Approved: true, Amount: req.Amount, Code: "0", Document: req.Document, Data: payment.CardData{
		Network: "REDE", NSU: nsu, NeedsConfirm: true, CustomerReceipt: []string{"x"},
		Ref: map[string]string{"027": fin, "003": fmt.Sprint(int64(req.Amount))}}}
	g.pending = &res
	g.log = append(g.log, "CRT approved "+nsu+" "+fin)
	if g.sales == 2 {
		return payment.CardResult{}, fmt.Errorf("%w: connection dropped", payment.ErrCardOutcomeUnknown)
	}
	return res, nil
}

func (g *pendingGP) decide(cmd string, res payment.CardResult) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	p := g.pending
	if p != nil && p.Data.Network == res.Data.Network && p.Data.NSU == res.Data.NSU && p.Data.Ref["027"] == res.Data.Ref["027"] {
		g.pending = nil
		g.log = append(g.log, cmd+" "+res.Data.NSU+" "+res.Data.Ref["027"]+": applied")
		return nil
	}
	g.log = append(g.log, cmd+" "+res.Data.NSU+" "+res.Data.Ref["027"]+": no such pending transaction")
	return nil
}

func (g *pendingGP) Confirm(_ context.Context, r payment.CardResult) error { return g.decide("CNF", r) }
func (g *pendingGP) Undo(_ context.Context, r payment.CardResult) error    { return g.decide("NCN", r) }

// A pending refusal was matched to the journal by network + NSU only: an NSU seen before
// picked an old confirmed sale, CNF went out with its old finalização, the real pending sale
// was never undone and card sales stayed blocked.
func TestBugPendingMatchedByNSUOnly(t *testing.T) {
	gp := &pendingGP{}
	e := newEnv(t, func(e *env) { e.term = gp })
	first := e.create(item("consulta", 1))
	e.pay(first.ID, payment.MethodCredit)
	e.waitState(first.ID, payment.StateFulfilled) // NSU 000001 FIN-1, confirmed

	lost := e.create(item("exame", 1))
	e.pay(lost.ID, payment.MethodCredit)
	e.waitAttempt(lost.ID, 1, payment.AttemptUnknown) // NSU 000001 FIN-2 pending, answer lost

	next := e.create(item("exame", 1))
	e.pay(next.ID, payment.MethodDebit)
	got := e.waitFor(next.ID, "settled", func(s *payment.Session) bool { return s.Attempt(1).State.Final() })
	gp.mu.Lock()
	log, stillPending := strings.Join(gp.log, "\n"), gp.pending != nil
	gp.mu.Unlock()
	la := e.get(lost.ID).Attempt(1)
	if stillPending || got.State != payment.StateFulfilled || la.State != payment.AttemptUndone || la.Card.Ref["027"] != "FIN-2" {
		t.Fatalf("next sale %s, lost attempt %s %+v; GP:\n%s", describe(got), la.State, la.Card, log)
	}
}
