package payment_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/totemd/totemd/payment"
)

// payPix starts a Pix attempt and waits for its QR.
func (e *env) payPix(id string) *payment.Attempt {
	e.t.Helper()
	s := e.pay(id, payment.MethodPix)
	n := len(s.Attempts)
	if a := s.Attempt(n); a.State != payment.AttemptCreating || a.Pix == nil || a.Pix.TxID != payment.PixTxID(id, n) {
		e.t.Fatalf("new Pix attempt: %+v", a)
	}
	return e.waitAttempt(id, n, payment.AttemptActive).Attempt(n)
}

func TestPixHappyPath(t *testing.T) {
	e := newEnv(t)
	s := e.create(item("consulta", 2))
	a := e.payPix(s.ID)
	if a.Pix.BRCode == "" || a.Pix.Location == "" {
		t.Errorf("active attempt without a QR: %+v", a.Pix)
	}
	if want := a.CreatedAt.Add(e.cfg.PixExpiry); !a.Pix.ExpiresAt.Equal(want) {
		t.Errorf("expires at %v, want %v", a.Pix.ExpiresAt, want)
	}
	if got := e.pix.Amount(a.Pix.TxID); got != 30000 {
		t.Errorf("charge of %s, want R$ 300,00", got)
	}
	if !e.pix.Pay(a.Pix.TxID, 30000) {
		t.Fatal("the fake PSP refused the payment")
	}
	done := e.waitState(s.ID, payment.StateFulfilled)
	paid := done.Attempt(1)
	if paid.State != payment.AttemptConcluded || paid.Pix.E2EID == "" || paid.Pix.PaidCents != 30000 {
		t.Errorf("paid attempt: %+v %+v", paid, paid.Pix)
	}
	if done.PaidAt.IsZero() || done.Problem != nil {
		t.Errorf("fulfilled session: paid at %v, problem %+v", done.PaidAt, done.Problem)
	}
	evs := e.events(s.ID)
	e.stop() // every flow has returned: nothing more can print

	printed := e.printer.Printed()
	if len(printed) != 1 {
		t.Fatalf("%d tickets printed, want 1", len(printed))
	}
	tk := printed[0]
	if tk.Number != "A001" || tk.Number != done.Ticket || tk.SessionID != s.ID || tk.Total != 30000 ||
		tk.Method != payment.MethodPix || tk.Pix == nil || tk.Pix.E2EID != paid.Pix.E2EID || tk.Reprint || len(tk.Items) != 1 {
		t.Errorf("ticket: %+v (pix %+v)", tk, tk.Pix)
	}
	if n := e.spy.Calls("create", ""); n != 1 {
		t.Errorf("CreateCharge called %d times, want 1", n)
	}
	trail, versions := stateTrail(t, evs)
	want := []string{
		"session.created:open",
		"session.state:paying/creating",
		"pix.qr", // committed with the attempt becoming active, just before it
		"session.attempt:paying/active",
		"session.state:paid/concluded",
		"session.attempt:paid/concluded", // ticket_prints written before the print starts
		"session.state:fulfilled/concluded",
	}
	if !slices.Equal(trail, want) {
		t.Errorf("events:\n got %v\nwant %v", trail, want)
	}
	for i := 1; i < len(versions); i++ {
		if versions[i] <= versions[i-1] {
			t.Errorf("versions not strictly increasing: %v", versions)
		}
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].Seq <= evs[i-1].Seq {
			t.Errorf("event seqs out of order: %d then %d", evs[i-1].Seq, evs[i].Seq)
		}
	}
}

func TestPixWrongAmount(t *testing.T) {
	tests := []struct {
		name string
		paid payment.Money
	}{
		{"less", 14999},
		{"more", 15001},
		{"far less", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			s := e.create(item("consulta", 1))
			a := e.payPix(s.ID)
			e.pix.Pay(a.Pix.TxID, tt.paid)
			got := e.waitFor(s.ID, "the refund", func(s *payment.Session) bool {
				a := s.Attempt(1)
				return a.State.Final() && a.Pix.Refunded
			})
			f := got.Attempt(1)
			refundID := payment.PixRefundID(s.ID, 1)
			if f.State != payment.AttemptFailed || f.Problem == nil || f.Problem.Code != "pix.wrong_amount" || f.Pix.RefundID != refundID {
				t.Errorf("attempt: %s refund id %q", describe(got), f.Pix.RefundID)
			}
			if got.State != payment.StateOpen || got.Problem == nil || got.Problem.Code != "pix.wrong_amount" {
				t.Errorf("session: %s", describe(got))
			}
			// The customer pays again, correctly this time.
			a2 := e.payPix(s.ID)
			if a2.N != 2 || a2.Pix.TxID == a.Pix.TxID {
				t.Errorf("second attempt %d txid %s", a2.N, a2.Pix.TxID)
			}
			e.pix.Pay(a2.Pix.TxID, 15000)
			done := e.waitState(s.ID, payment.StateFulfilled)
			e.stop()
			if len(e.pix.Refunds) != 1 || e.pix.Refunds[refundID] != tt.paid {
				t.Errorf("refunds %v, want %s -> %d", e.pix.Refunds, refundID, tt.paid)
			}
			if n := e.spy.Calls("refund", ""); n != 1 {
				t.Errorf("Refund called %d times, want 1", n)
			}
			printed := e.printer.Printed()
			if len(printed) != 1 || printed[0].Pix.E2EID != done.Attempt(2).Pix.E2EID {
				t.Errorf("printed %+v", printed)
			}
			if !slices.Contains(notes(t, e.events(s.ID)), "pix.refunded") {
				t.Error("no pix.refunded note in the log")
			}
		})
	}
}

func TestPixExpiresByOurClock(t *testing.T) {
	tests := []struct {
		name    string
		advance time.Duration
	}{
		{"exactly at expiry", 5 * time.Minute},
		{"well past expiry", 7 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			s := e.create(item("consulta", 1))
			a := e.payPix(s.ID)
			e.clock.Advance(tt.advance - time.Second)
			if got := e.get(s.ID); got.State != payment.StatePaying {
				t.Fatalf("before expiry: %s", describe(got))
			}
			e.clock.Advance(time.Second)
			got := e.waitAttempt(s.ID, 1, payment.AttemptExpired)
			if got.State != payment.StateOpen || got.Attempt(1).Problem == nil || got.Attempt(1).Problem.Code != "pix.expired" {
				t.Errorf("after expiry: %s", describe(got))
			}
			if n := e.spy.Calls("cancel", a.Pix.TxID); n != 1 {
				t.Errorf("CancelCharge called %d times, want 1", n)
			}
			if e.pix.Pay(a.Pix.TxID, 15000) {
				t.Error("the expired charge can still be paid at the PSP")
			}
			// The customer may try again.
			if a2 := e.payPix(s.ID); a2.N != 2 {
				t.Errorf("new attempt %d", a2.N)
			}
		})
	}
}

func TestCancelActivePix(t *testing.T) {
	e := newEnv(t)
	s := e.create(item("consulta", 1))
	a := e.payPix(s.ID)
	got, err := e.svc.Cancel(context.Background(), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != payment.StateCancelled || got.Attempt(1).State != payment.AttemptRemoved {
		t.Errorf("cancelled: %s", describe(got))
	}
	if n := e.spy.Calls("cancel", a.Pix.TxID); n != 1 {
		t.Errorf("CancelCharge called %d times", n)
	}
	if e.pix.Pay(a.Pix.TxID, 15000) {
		t.Error("the charge of a cancelled session can be paid")
	}
	e.stop()
	e.restart(nil)
	if got := e.get(s.ID); got.State != payment.StateCancelled || got.Attempt(1).State != payment.AttemptRemoved {
		t.Errorf("after restart: %s", describe(got))
	}
	if len(e.printer.Printed()) != 0 || len(e.pix.Refunds) != 0 {
		t.Error("a cancelled session printed or refunded")
	}
}

// TestCancelAfterPSPConcluded: the money arrived; the customer presses cancel. Either the flow
// has not seen the payment yet (Cancel finds it at the PSP) or it has; both refuse the cancel
// and the customer gets the ticket.
func TestCancelAfterPSPConcluded(t *testing.T) {
	for _, flowSawIt := range []bool{false, true} {
		name := map[bool]string{false: "before the flow noticed", true: "after the flow noticed"}[flowSawIt]
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			s := e.create(item("consulta", 1))
			a := e.payPix(s.ID)
			release := make(chan struct{})
			if !flowSawIt {
				e.spy.set(func(s *spyPix) { s.hold = release })
				waitChan(t, e.spy.held, "the flow's next status check")
			}
			e.pix.Pay(a.Pix.TxID, 15000)
			if flowSawIt {
				e.waitState(s.ID, payment.StateFulfilled)
			}
			got, err := e.svc.Cancel(callerCtx(context.Background()), s.ID)
			if err == nil {
				t.Fatalf("cancel accepted after payment: %s", describe(got))
			}
			if code, kind := errCode(t, err); code != "session.already_paid" || kind != payment.KindConflict {
				t.Errorf("got %s %d, want session.already_paid", code, kind)
			}
			close(release)
			e.spy.set(func(s *spyPix) { s.hold = nil })
			e.waitState(s.ID, payment.StateFulfilled)
			trail, _ := stateTrail(t, e.events(s.ID))
			for _, step := range trail {
				if strings.Contains(step, "cancelled") {
					t.Errorf("the session passed through cancelled: %v", trail)
				}
			}
			e.stop()
			if len(e.printer.Printed()) != 1 || len(e.pix.Refunds) != 0 {
				t.Errorf("printed %d, refunds %v", len(e.printer.Printed()), e.pix.Refunds)
			}
		})
	}
}

func TestLatePayment(t *testing.T) {
	tests := []struct {
		policy string
		want   payment.State
	}{
		{"refund", payment.StateRefunded},
		{"fulfil", payment.StateFulfilled},
	}
	for _, tt := range tests {
		t.Run(tt.policy, func(t *testing.T) {
			e := newEnv(t, func(e *env) {
				e.cfg.LatePayment = tt.policy
				e.pix.Fail["cancel"] = pspDown(0)
			})
			s := e.create(item("consulta", 1))
			a := e.payPix(s.ID)
			got, err := e.svc.Cancel(context.Background(), s.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != payment.StateCancelled || got.Attempt(1).State != payment.AttemptActive {
				t.Fatalf("cancel with the PSP failing: %s (the charge must stay watched)", describe(got))
			}
			if !e.pix.Pay(a.Pix.TxID, 15000) {
				t.Fatal("the fake PSP refused the late payment")
			}
			done := e.waitState(s.ID, tt.want)
			if done.Attempt(1).State != payment.AttemptConcluded || done.PaidAt.IsZero() {
				t.Errorf("ended: %s", describe(done))
			}
			trail, _ := stateTrail(t, e.events(s.ID))
			if !slices.Contains(trail, "session.state:paid_late/concluded") {
				t.Errorf("never paid_late: %v", trail)
			}
			e.stop()
			refundID := payment.PixRefundID(s.ID, 1)
			printed := e.printer.Printed()
			switch tt.policy {
			case "refund":
				if len(e.pix.Refunds) != 1 || e.pix.Refunds[refundID] != 15000 || e.spy.Calls("refund", "") != 1 {
					t.Errorf("refunds %v (%d calls), want %s once", e.pix.Refunds, e.spy.Calls("refund", ""), refundID)
				}
				if !done.Attempt(1).Pix.Refunded || len(printed) != 0 {
					t.Errorf("refunded %v, printed %d", done.Attempt(1).Pix.Refunded, len(printed))
				}
			case "fulfil":
				if len(e.pix.Refunds) != 0 {
					t.Errorf("refunds %v under the fulfil policy", e.pix.Refunds)
				}
				if len(printed) != 1 || printed[0].Pix == nil || printed[0].Pix.E2EID != done.Attempt(1).Pix.E2EID || printed[0].Number != done.Ticket {
					t.Errorf("printed %+v", printed)
				}
			}
		})
	}
}

func TestPixCreateFails(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		code    string
		retried bool
	}{
		{"PSP unavailable", pspDown(10 * time.Millisecond), "pix.psp_unavailable", true},
		{"not a payment.Error", retryAfterErr(10 * time.Millisecond), "pix.psp_unavailable", true},
		{"request refused", &payment.Error{Code: "pix.invalid_request", Kind: payment.KindInvalid, Message: "Cobrança recusada."}, "pix.invalid_request", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(e *env) { e.pix.Fail["create"] = tt.err })
			s := e.create(item("consulta", 1))
			e.pay(s.ID, payment.MethodPix)
			got := e.waitAttempt(s.ID, 1, payment.AttemptFailed)
			if got.State != payment.StateOpen || got.Attempt(1).Problem == nil || got.Attempt(1).Problem.Code != tt.code ||
				got.Problem == nil || got.Problem.Code != tt.code {
				t.Errorf("after the failure: %s", describe(got))
			}
			txid := payment.PixTxID(s.ID, 1)
			// The last CreateCharge happened before the failure was committed, which we observed.
			creates := e.pix.Creates[txid]
			if tt.retried && creates < 2 {
				t.Errorf("CreateCharge tried %d times, want retries", creates)
			}
			if !tt.retried && creates != 1 {
				t.Errorf("CreateCharge tried %d times for a refused request, want 1", creates)
			}
			if len(e.pix.Creates) != 1 {
				t.Errorf("CreateCharge used txids %v, want only %s", e.pix.Creates, txid)
			}
		})
	}
}

func TestCard(t *testing.T) {
	errJam := payment.Errf(payment.KindUnavailable, "printer.paper_jam", "Papel enroscado.")
	tests := []struct {
		name         string
		sku          string
		method       payment.Method
		installments int
		printFail    error
		wantState    payment.State
		wantAttempt  payment.AttemptState
		wantCode     string
		wantMsg      []string
		wantLedger   string // state of the sale in the terminal's ledger; "" no sale
		wantPrinted  int
	}{
		{name: "approved credit", sku: "consulta", method: payment.MethodCredit, installments: 3,
			wantState: payment.StateFulfilled, wantAttempt: payment.AttemptConfirmed, wantMsg: []string{"Retire seu ticket"},
			wantLedger: "confirmed", wantPrinted: 1},
		{name: "approved debit", sku: "exame", method: payment.MethodDebit,
			wantState: payment.StateFulfilled, wantAttempt: payment.AttemptConfirmed, wantLedger: "confirmed", wantPrinted: 1},
		{name: "declined ,51", sku: "recusa", method: payment.MethodCredit,
			wantState: payment.StateOpen, wantAttempt: payment.AttemptDeclined, wantCode: "tef.declined",
			wantMsg: []string{"TRANSACAO NEGADA PELO EMISSOR"}},
		{name: "cancelled on the PIN pad ,52", sku: "cancela", method: payment.MethodDebit,
			wantState: payment.StateOpen, wantAttempt: payment.AttemptDeclined, wantCode: "tef.declined",
			wantMsg: []string{"OPERACAO CANCELADA"}},
		{name: "no answer ,53", sku: "mudo", method: payment.MethodCredit,
			wantState: payment.StateOpen, wantAttempt: payment.AttemptAborted, wantCode: "tef.unavailable"},
		{name: "ticket does not print", sku: "consulta", method: payment.MethodCredit, printFail: errJam,
			wantState: payment.StateOpen, wantAttempt: payment.AttemptUndone, wantCode: "tef.undone",
			wantMsg: []string{"REDE", "000001", "R$ 150,00", "Papel enroscado"}, wantLedger: "undone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.printer.FailNext(tt.printFail)
			s := e.create(item(tt.sku, 1))
			p, err := e.svc.Pay(context.Background(), s.ID, payment.PayRequest{Method: tt.method, Installments: tt.installments})
			if err != nil {
				t.Fatal(err)
			}
			if a := p.Current(); a.State != payment.AttemptRequested || a.Card == nil || a.Card.Installments != tt.installments {
				t.Fatalf("new card attempt: %+v", a)
			}
			got := e.waitFor(s.ID, string(tt.wantAttempt), func(s *payment.Session) bool { return s.Attempt(1).State.Final() })
			a := got.Attempt(1)
			if got.State != tt.wantState || a.State != tt.wantAttempt {
				t.Errorf("ended %s; want %s with attempt %s", describe(got), tt.wantState, tt.wantAttempt)
			}
			if tt.wantCode == "" && (a.Problem != nil || got.Problem != nil) {
				t.Errorf("problem %+v / %+v on a success", a.Problem, got.Problem)
			}
			if tt.wantCode != "" && (a.Problem == nil || a.Problem.Code != tt.wantCode || got.Problem == nil || got.Problem.Code != tt.wantCode) {
				t.Errorf("problem %+v / %+v, want %s", a.Problem, got.Problem, tt.wantCode)
			}
			for _, m := range tt.wantMsg {
				if !strings.Contains(a.Message, m) {
					t.Errorf("message %q does not contain %q", a.Message, m)
				}
			}
			e.stop()
			if tt.wantLedger == "" && len(e.card.Ledger) != 0 {
				t.Errorf("ledger %v, want no sale", e.card.Ledger)
			}
			if tt.wantLedger != "" && (len(e.card.Ledger) != 1 || e.card.Count(tt.wantLedger) != 1) {
				t.Errorf("ledger %v, want one sale %s", e.card.Ledger, tt.wantLedger)
			}
			printed := e.printer.Printed()
			if len(printed) != tt.wantPrinted {
				t.Fatalf("%d tickets printed, want %d", len(printed), tt.wantPrinted)
			}
			if tt.wantPrinted == 1 {
				tk := printed[0]
				c := tk.Card
				if tk.Number != got.Ticket || tk.Method != tt.method || c == nil || c.NSU != a.Card.NSU || c.AuthCode == "" ||
					c.MaskedPAN != "************1234" || len(c.CustomerReceipt) == 0 || tk.Total != got.TotalCents {
					t.Errorf("ticket %+v card %+v", tk, c)
				}
				if !a.Card.ConfirmSent || a.Card.Installments != tt.installments || got.PaidAt.IsZero() {
					t.Errorf("attempt card %+v, paid at %v", a.Card, got.PaidAt)
				}
			}
		})
	}
}

// TestCardThenPix: a declined card, then Pix on the same session.
func TestCardThenPix(t *testing.T) {
	e := newEnv(t)
	s := e.create(item("recusa", 1))
	e.pay(s.ID, payment.MethodCredit)
	e.waitAttempt(s.ID, 1, payment.AttemptDeclined)
	a := e.payPix(s.ID)
	if a.N != 2 || a.Pix.TxID != payment.PixTxID(s.ID, 2) {
		t.Errorf("Pix after a decline: %+v", a)
	}
	e.pix.Pay(a.Pix.TxID, 1051)
	done := e.waitState(s.ID, payment.StateFulfilled)
	if pa := done.PaidAttempt(); pa == nil || pa.N != 2 {
		t.Errorf("paid attempt %+v", pa)
	}
}

// TestCancelWhileCreating: the customer cancels while the charge is being created; the charge
// created afterwards is removed at the PSP and can never be paid.
func TestCancelWhileCreating(t *testing.T) {
	e := newEnv(t)
	e.spy.set(func(s *spyPix) { s.loseCreate = pspDown(time.Hour) }) // first answer lost; retry when woken
	s := e.create(item("consulta", 1))
	e.pay(s.ID, payment.MethodPix)
	txid := waitChan(t, e.spy.created, "the charge at the PSP")
	e.spy.set(func(s *spyPix) { s.loseCreate = nil })
	got, err := e.svc.Cancel(context.Background(), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != payment.StateCancelled || got.Attempt(1).State != payment.AttemptCreating {
		t.Fatalf("cancelled while creating: %s", describe(got))
	}
	got = e.waitAttempt(s.ID, 1, payment.AttemptRemoved)
	if got.State != payment.StateCancelled {
		t.Errorf("after the charge was removed: %s", describe(got))
	}
	if e.pix.Pay(txid, 15000) {
		t.Error("the charge of a cancelled session can be paid")
	}
}

// TestLateWatchEnds: an abandoned charge the PSP would not remove is watched until LateWatch
// past its expiry, then given up.
func TestLateWatchEnds(t *testing.T) {
	e := newEnv(t, func(e *env) {
		e.cfg.LateWatch = time.Minute
		e.pix.Fail["cancel"] = pspDown(0)
	})
	s := e.create(item("consulta", 1))
	a := e.payPix(s.ID)
	if _, err := e.svc.Cancel(context.Background(), s.ID); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(e.cfg.PixExpiry + e.cfg.LateWatch - time.Second)
	if got := e.get(s.ID); got.Attempt(1).State != payment.AttemptActive {
		t.Fatalf("gave up too early: %s", describe(got))
	}
	e.clock.Advance(2 * time.Second)
	got := e.waitAttempt(s.ID, 1, payment.AttemptExpired)
	if got.State != payment.StateCancelled {
		t.Errorf("after the late watch: %s", describe(got))
	}
	if e.spy.Calls("cancel", a.Pix.TxID) < 2 {
		t.Errorf("CancelCharge tried %d times: the flow should keep trying", e.spy.Calls("cancel", a.Pix.TxID))
	}
}

// TestCancelRacesPayment: the customer pays and presses cancel at the same moment. Whatever
// wins, money taken ends in a ticket (or a refund) and a cancelled purchase charges nothing.
func TestCancelRacesPayment(t *testing.T) {
	e := newEnv(t)
	for i := range 15 {
		s := e.create(item("consulta", 1))
		a := e.payPix(s.ID)
		var paid bool
		var cerr error
		done := make(chan struct{})
		go func() {
			defer close(done)
			paid = e.pix.Pay(a.Pix.TxID, 15000)
		}()
		_, cerr = e.svc.Cancel(context.Background(), s.ID)
		<-done
		end := e.waitFor(s.ID, "the end", func(s *payment.Session) bool {
			return s.State.Terminal() || (s.State == payment.StateCancelled && s.Attempt(1).State.Final())
		})
		switch {
		case paid && end.State != payment.StateFulfilled && end.State != payment.StateRefunded:
			t.Errorf("round %d: paid, cancel %v, yet %s", i, cerr, describe(end))
		case !paid && (end.State != payment.StateCancelled || cerr != nil):
			t.Errorf("round %d: not paid, cancel %v, yet %s", i, cerr, describe(end))
		case paid && cerr == nil && end.State == payment.StateFulfilled:
			t.Errorf("round %d: cancel accepted but the session was fulfilled", i)
		}
	}
}
