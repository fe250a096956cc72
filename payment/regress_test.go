// Regression tests of bugs found in review (all fixed): each scenario once lost money or a
// ticket. The names keep the "Bug" prefix so they can be run alone: go test -run Bug ./payment/
package payment_test

import (
	"context"
	"testing"
	"time"

	"github.com/totemd/totemd/payment"
	"github.com/totemd/totemd/payment/paymenttest"
)

// Was bug 1 (flow.go:597, recover): a refund owed to the customer is forgotten at restart when its
// session has since reached a terminal state. Attempt 1 (Pix) was paid the wrong amount, the
// refund is failing at the PSP and retried in the background; the customer pays attempt 2 by
// card and the session is fulfilled. After a restart, recover() skips terminal sessions before
// looking at their attempts, so the refund of attempt 1 is never retried: the customer paid
// twice and never gets the first payment back. (The same skip stops the watch of any Pix
// charge still active on a terminal session: money landing on it after a restart is never seen.)
func TestBugOwedRefundLostWhenSessionFulfilled(t *testing.T) {
	e := newEnv(t)
	e.spy.set(func(s *spyPix) { s.failRefund = pspDown(20 * time.Millisecond) })
	s := e.create(item("consulta", 1))
	a := e.payPix(s.ID)
	e.pix.Pay(a.Pix.TxID, 14000) // wrong amount: refund owed
	e.waitAttempt(s.ID, 1, payment.AttemptFailed)
	e.waitNote(s.ID, "pix.refund_failed")
	e.pay(s.ID, payment.MethodCredit)
	e.waitState(s.ID, payment.StateFulfilled)

	e.restart(func() { e.spy.set(func(s *spyPix) { s.failRefund = nil }) })
	got := e.waitFor(s.ID, "the owed refund", func(s *payment.Session) bool { return s.Attempt(1).Pix.Refunded })
	e.stop()
	if id := payment.PixRefundID(s.ID, 1); e.pix.Refunds[id] != 14000 {
		t.Errorf("after restart: refunds %v, want %s -> 14000 (session %s)", e.pix.Refunds, id, describe(got))
	}
}

// Was bug 2 (flow.go:521-549): when CNF fails (the TEF manager does not answer), the attempt is
// still recorded "confirmed" and the session fulfilled, with a note promising the confirmation
// is "pendente para a próxima inicialização". Nothing at the next start can see it (the attempt
// is final, the session terminal, recover() skips it): CNF is never sent again and the manager
// undoes the unconfirmed sale - the kiosk printed a ticket and lost the payment.
// Expected: at the next start CNF is sent again (the sale ends confirmed in the manager).
func TestBugConfirmFailureNeverRetried(t *testing.T) {
	e := newEnv(t)
	e.hooks.set(func(h *cardHooks) {
		h.confirmErr = &payment.Error{Code: "tef.unavailable", Kind: payment.KindUnavailable, Message: "TEF não responde."}
	})
	s := e.create(item("consulta", 1))
	e.pay(s.ID, payment.MethodCredit)
	e.waitState(s.ID, payment.StateFulfilled) // after 3 failed CNFs (the code backs off 1 s + 2 s)
	if got := e.get(s.ID); got.Attempt(1).State == payment.AttemptConfirmed {
		t.Logf("attempt recorded %s although no CNF was acknowledged", got.Attempt(1).State)
	}
	resent := make(chan struct{}, 1)
	e.restart(func() {
		e.hooks.set(func(h *cardHooks) { h.confirmErr, h.confirmSig = nil, resent })
	})
	waitChan(t, resent, "CNF sent again after the restart")
	e.stop()
	if st := e.card.Ledger["000001"]; st != "confirmed" {
		t.Errorf("after restart the sale is %q at the TEF manager, want confirmed (CNF resent)", st)
	}
}

// Was bug 3 (flow.go:454-456, cardFlow): when the terminal answers an approval while the Service is
// stopping, the result is dropped without being written: the attempt stays "requested" and at
// the next start is recorded "aborted" with "Pagamento com cartão interrompido. Nenhum valor foi
// cobrado." although the card was approved, and no NCN is ever sent for that NSU. The spec
// (specs/tef: "Approved: write the response durably BEFORE printing") wants every approval
// written, then undone (NCN) when no ticket was printed.
func TestBugApprovalDroppedAtShutdown(t *testing.T) {
	e := newEnv(t)
	answered, entered := make(chan struct{}, 1), make(chan struct{}, 1)
	e.hooks.set(func(h *cardHooks) {
		h.sale = func(ctx context.Context, c *paymenttest.Card, req payment.CardSale, progress func(string)) (payment.CardResult, error) {
			entered <- struct{}{}
			<-ctx.Done() // the kiosk is stopping; the manager answers anyway
			res, err := c.Sale(context.Background(), req, nil)
			answered <- struct{}{}
			return res, err
		}
	})
	s := e.create(item("consulta", 1))
	e.pay(s.ID, payment.MethodCredit)
	waitChan(t, entered, "the sale at the manager")
	e.restart(func() {
		waitChan(t, answered, "the approval")
		e.hooks.set(func(h *cardHooks) { h.sale = nil })
	})
	got := e.waitFor(s.ID, "the attempt settled", func(s *payment.Session) bool { return s.Attempt(1).State.Final() })
	e.stop()
	if st := e.card.Ledger["000001"]; st != "undone" {
		t.Errorf("approved sale is %q at the manager after restart, want undone (NCN); session %s, message %q",
			st, describe(got), got.Attempt(1).Message)
	}
}

// Was bug 4 (flow.go:485-489, cardFlow): CardResult.Amount, "the amount actually charged", is never
// compared with the attempt's amount. A manager that approves another amount (partial approval,
// a wrong amount typed at an attended PIN pad) gets the sale confirmed and the ticket printed.
// Expected: an approval for another amount is undone (NCN) and the session goes back to open.
func TestBugCardAmountNotChecked(t *testing.T) {
	for _, delta := range []payment.Money{+1000, -1000} {
		t.Run((delta).String(), func(t *testing.T) {
			e := newEnv(t)
			e.hooks.set(func(h *cardHooks) {
				h.sale = func(ctx context.Context, c *paymenttest.Card, req payment.CardSale, progress func(string)) (payment.CardResult, error) {
					res, err := c.Sale(ctx, req, progress)
					res.Amount += delta
					return res, err
				}
			})
			s := e.create(item("consulta", 1))
			e.pay(s.ID, payment.MethodCredit)
			got := e.waitFor(s.ID, "the sale settled", func(s *payment.Session) bool { return s.Attempt(1).State.Final() })
			e.stop()
			if got.State == payment.StateFulfilled || e.card.Ledger["000001"] == "confirmed" {
				t.Errorf("charged %s for a R$ 150,00 purchase and confirmed: %s, ledger %v, %d tickets",
					payment.Money(15000)+delta, describe(got), e.card.Ledger, len(e.printer.Printed()))
			}
		})
	}
}

// Was bug 5 (flow.go:500 with ticketOf, flow.go:545): a card ticket is printed before
// Session.PaidAt is set, so Ticket.PaidAt is the zero time on every card ticket (the Pix ticket
// carries the payment time).
func TestBugCardTicketWithoutPaymentTime(t *testing.T) {
	e := newEnv(t)
	s := e.create(item("consulta", 1))
	e.pay(s.ID, payment.MethodDebit)
	e.waitState(s.ID, payment.StateFulfilled)
	e.stop()
	printed := e.printer.Printed()
	if len(printed) != 1 {
		t.Fatalf("%d tickets printed", len(printed))
	}
	if printed[0].PaidAt.IsZero() {
		t.Errorf("card ticket PaidAt = %v, want the approval time", printed[0].PaidAt)
	}
}
