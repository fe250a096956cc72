package payment_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/totemd/totemd/payment"
)

// TestRecoverPixCreating: the kiosk stopped while a charge was being created. At the next start
// the charge is created again with the same txid: the PSP never holds two charges.
func TestRecoverPixCreating(t *testing.T) {
	tests := []struct {
		name string
		// crash leaves attempt 1 "creating" in the journal and says whether the PSP has the charge.
		crash func(e *env, id string) (pspHasIt bool)
	}{
		{"the PSP created it but the answer was lost", func(e *env, id string) bool {
			e.spy.set(func(s *spyPix) { s.loseCreate = pspDown(time.Hour) }) // a long backoff: we stop first
			e.pay(id, payment.MethodPix)
			if txid := waitChan(e.t, e.spy.created, "the charge at the PSP"); txid != payment.PixTxID(id, 1) {
				e.t.Fatalf("created %s", txid)
			}
			e.restart(func() { e.spy.set(func(s *spyPix) { s.loseCreate = nil }) })
			return true
		}},
		{"the PSP never heard of it", func(e *env, id string) bool {
			e.restart(func() {
				e.rewrite(id, func(s *payment.Session) {
					now := e.clock.Now()
					s.State, s.Ticket = payment.StatePaying, "A001"
					s.Attempts = []payment.Attempt{{N: 1, Method: payment.MethodPix, State: payment.AttemptCreating,
						Amount: s.TotalCents, CreatedAt: now, UpdatedAt: now, Pix: &payment.PixData{TxID: payment.PixTxID(id, 1)}}}
				})
			})
			return false
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			s := e.create(item("consulta", 1))
			before := 0
			if tt.crash(e, s.ID) {
				before = 1
			}
			txid := payment.PixTxID(s.ID, 1)
			got := e.waitAttempt(s.ID, 1, payment.AttemptActive)
			if got.State != payment.StatePaying || got.Attempt(1).Pix.TxID != txid || got.Attempt(1).Pix.BRCode == "" {
				t.Fatalf("resumed: %s", describe(got))
			}
			if n := e.spy.Calls("create", txid); n != before+1 {
				t.Errorf("CreateCharge called %d times for %s, want %d", n, txid, before+1)
			}
			if n := e.spy.Calls("create", ""); n != before+1 {
				t.Errorf("CreateCharge called %d times in all: another txid was used", n)
			}
			e.pix.Pay(txid, 15000)
			e.waitState(s.ID, payment.StateFulfilled)
			e.stop()
			if len(e.pix.Creates) != 1 || len(e.printer.Printed()) != 1 {
				t.Errorf("creates %v, printed %d", e.pix.Creates, len(e.printer.Printed()))
			}
		})
	}
}

// TestRecoverCardApprovedUnconfirmed: approved, the ticket never printed, CNF never sent: the
// sale is undone at start and the customer may pay again.
func TestRecoverCardApprovedUnconfirmed(t *testing.T) {
	e := newEnv(t)
	e.gate.Block(true)
	s := e.create(item("consulta", 1))
	e.pay(s.ID, payment.MethodCredit)
	waitChan(t, e.gate.entered, "the ticket print")
	if got := e.get(s.ID); got.Attempt(1).State != payment.AttemptApproved || got.Attempt(1).Card.ConfirmSent {
		t.Fatalf("while printing: %s", describe(got))
	}
	e.restart(func() {
		e.gate.Block(false)
		if e.card.Count("pending") != 1 {
			t.Errorf("ledger at the crash: %v", e.card.Ledger)
		}
	})
	got := e.waitAttempt(s.ID, 1, payment.AttemptUndone)
	if got.State != payment.StateOpen || got.Problem == nil || got.Problem.Code != "tef.undone" {
		t.Errorf("after recovery: %s", describe(got))
	}
	if msg := got.Attempt(1).Message; !strings.Contains(msg, got.Attempt(1).Card.NSU) || !strings.Contains(msg, "R$ 150,00") {
		t.Errorf("message %q lacks NSU and amount", msg)
	}
	e.waitCardReady()
	e.pay(s.ID, payment.MethodDebit)
	e.waitState(s.ID, payment.StateFulfilled)
	e.stop()
	if e.card.Count("undone") != 1 || e.card.Count("confirmed") != 1 || len(e.card.Ledger) != 2 {
		t.Errorf("ledger %v: want the first sale undone, the second confirmed", e.card.Ledger)
	}
	if len(e.printer.Printed()) != 1 {
		t.Errorf("%d tickets printed", len(e.printer.Printed()))
	}
	if !slices.Contains(notes(t, e.events(s.ID)), "tef.recovered_undone") {
		t.Error("no tef.recovered_undone note")
	}
}

// TestRecoverCardConfirmSent: the ticket printed and CNF may have left before the stop: the
// sale stands, CNF is sent again and the session ends fulfilled.
func TestRecoverCardConfirmSent(t *testing.T) {
	e := newEnv(t)
	s := e.create(item("consulta", 1))
	e.restart(func() {
		res, err := e.card.Sale(context.Background(), payment.CardSale{Amount: 15000, Document: "A001", Method: payment.MethodCredit}, nil)
		if err != nil || !res.Approved {
			t.Fatalf("fake sale: %+v %v", res, err)
		}
		e.rewrite(s.ID, func(sess *payment.Session) {
			now := e.clock.Now()
			card := res.Data
			card.ConfirmSent = true
			sess.State, sess.Ticket = payment.StatePaying, "A001"
			sess.Attempts = []payment.Attempt{{N: 1, Method: payment.MethodCredit, State: payment.AttemptApproved,
				Amount: 15000, CreatedAt: now, UpdatedAt: now, Card: &card}}
		})
	})
	got := e.waitState(s.ID, payment.StateFulfilled)
	if a := got.Attempt(1); a.State != payment.AttemptConfirmed || got.PaidAt.IsZero() {
		t.Errorf("after recovery: %s", describe(got))
	}
	e.stop()
	if e.card.Count("confirmed") != 1 || len(e.card.Ledger) != 1 {
		t.Errorf("ledger %v", e.card.Ledger)
	}
	if !slices.Contains(notes(t, e.events(s.ID)), "tef.recovered_confirmed") {
		t.Error("no tef.recovered_confirmed note")
	}
}

// TestRecoverCardRequested: the kiosk stopped while the PIN pad had the sale.
func TestRecoverCardRequested(t *testing.T) {
	e := newEnv(t, func(e *env) { e.card.Block = make(chan struct{}) })
	s := e.create(item("consulta", 1))
	e.pay(s.ID, payment.MethodCredit)
	e.waitFor(s.ID, "the PIN pad", func(s *payment.Session) bool { return strings.HasPrefix(s.Current().Message, "INSIRA") })
	e.restart(func() { e.card.Block = nil })
	got := e.waitAttempt(s.ID, 1, payment.AttemptUnknown)
	if got.State != payment.StateOpen || got.Problem == nil || got.Problem.Code != "tef.unknown" ||
		strings.Contains(got.Problem.Message, "Nenhum valor foi cobrado") {
		t.Errorf("after recovery: %s, problem %+v", describe(got), got.Problem)
	}
	e.waitNote(s.ID, "tef.recovered_unknown")
	// The next sale the manager takes shows nothing was pending: the attempt is closed.
	e.waitCardReady()
	e.pay(s.ID, payment.MethodDebit)
	e.waitState(s.ID, payment.StateFulfilled)
	got = e.get(s.ID)
	if a := got.Attempt(1); a.State != payment.AttemptAborted || a.Problem == nil || a.Problem.Code != "tef.not_charged" {
		t.Errorf("attempt 1 after a later sale: %+v", a)
	}
}

// TestRecoverPaidUnprinted: the money is in, the ticket had not printed when the kiosk stopped:
// it prints at the next start.
func TestRecoverPaidUnprinted(t *testing.T) {
	errJam := payment.Errf(payment.KindUnavailable, "printer.paper_jam", "Papel enroscado.")
	for _, policy := range []string{"paid", "paid_late fulfil"} {
		t.Run(policy, func(t *testing.T) {
			e := newEnv(t, func(e *env) {
				if policy != "paid" {
					e.cfg.LatePayment = "fulfil"
					e.pix.Fail["cancel"] = pspDown(0)
				}
			})
			s := e.create(item("consulta", 1))
			a := e.payPix(s.ID)
			if policy != "paid" {
				if _, err := e.svc.Cancel(context.Background(), s.ID); err != nil {
					t.Fatal(err)
				}
			}
			e.printer.FailNext(errJam)
			e.pix.Pay(a.Pix.TxID, 15000)
			got := e.waitFor(s.ID, "the print failure", func(s *payment.Session) bool {
				return s.Problem != nil && s.Problem.Code == "printer.paper_jam"
			})
			if got.State != payment.StatePaid && got.State != payment.StatePaidLate {
				t.Fatalf("with the printer jammed: %s", describe(got))
			}
			if !strings.Contains(got.Problem.Message, "Pagamento recebido") {
				t.Errorf("problem message %q", got.Problem.Message)
			}
			e.restart(func() {
				e.printer.FailNext(nil)
				delete(e.pix.Fail, "cancel")
			})
			done := e.waitState(s.ID, payment.StateFulfilled)
			if done.Problem != nil {
				t.Errorf("problem left on a fulfilled session: %+v", done.Problem)
			}
			e.stop()
			printed := e.printer.Printed()
			if len(printed) != 1 || printed[0].Number != done.Ticket || printed[0].Pix == nil || printed[0].Pix.E2EID == "" {
				t.Errorf("printed %+v", printed)
			}
			// A print had started before (it jammed: part of a ticket may be out), so the one
			// that prints is marked as a second copy, never a second unmarked original.
			if len(printed) == 1 && !printed[0].Reprint {
				t.Errorf("the ticket printed after a failed print is not marked 2ª via (ticket_prints %d)", done.TicketPrints)
			}
			if len(e.pix.Refunds) != 0 {
				t.Errorf("refunds %v", e.pix.Refunds)
			}
		})
	}
}

// TestRecoverOwedRefund: a wrong amount was being refunded while the PSP refused refunds; the
// kiosk restarts; the refund is made, once.
func TestRecoverOwedRefund(t *testing.T) {
	e := newEnv(t)
	e.spy.set(func(s *spyPix) { s.failRefund = pspDown(20 * time.Millisecond) })
	s := e.create(item("consulta", 1))
	a := e.payPix(s.ID)
	e.pix.Pay(a.Pix.TxID, 100)
	got := e.waitFor(s.ID, "the refund intent", func(s *payment.Session) bool {
		return s.Attempt(1).State == payment.AttemptFailed && s.Attempt(1).Pix.RefundID != ""
	})
	if got.State != payment.StateOpen || got.Attempt(1).Pix.Refunded {
		t.Fatalf("refund failing: %s", describe(got))
	}
	e.waitNote(s.ID, "pix.refund_failed")
	e.restart(func() {
		if len(e.pix.Refunds) != 0 {
			t.Errorf("refunded while the PSP refused: %v", e.pix.Refunds)
		}
		e.spy.set(func(s *spyPix) { s.failRefund = nil })
	})
	e.waitFor(s.ID, "the refund", func(s *payment.Session) bool { return s.Attempt(1).Pix.Refunded })
	e.stop()
	if id := payment.PixRefundID(s.ID, 1); len(e.pix.Refunds) != 1 || e.pix.Refunds[id] != 100 {
		t.Errorf("refunds %v", e.pix.Refunds)
	}
	if !slices.Contains(notes(t, e.events(s.ID)), "pix.refunded") {
		t.Error("no pix.refunded note")
	}
}
