package payment_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/totemd/totemd/payment"
	"github.com/totemd/totemd/payment/tef"
	"github.com/totemd/totemd/payment/tef/tefsim"
)

// The card flow against the TEF manager simulator, through the production client and
// adapter: real TEF Dial bytes on loopback TCP or in a folder.

var tefCatalog = append(slices.Clone(testCatalog),
	payment.Product{SKU: "perde", Name: "Teste aprovação perdida", PriceCents: 1054, Prefix: "P"},
	payment.Product{SKU: "semcnf", Name: "Teste sem confirmação", PriceCents: 1055, Prefix: "S"},
	payment.Product{SKU: "parcial", Name: "Teste aprovação parcial", PriceCents: 1056, Prefix: "Q"},
)

type tefKiosk struct {
	*env
	sim  *tefsim.Sim
	term *payment.TEFCard
	cfg  tef.Config
	root string
}

// newTEFKiosk starts tefsim on transport and a kiosk whose card terminal is a TEFCard on it.
func newTEFKiosk(t *testing.T, transport string, mod ...func(e *env)) *tefKiosk {
	t.Helper()
	sim, err := tefsim.New(tefsim.Options{PINPadDelay: 20 * time.Millisecond, StatusDelay: 5 * time.Millisecond,
		Dir: t.TempDir(), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	k := &tefKiosk{sim: sim}
	cfg := tef.DefaultConfig()
	cfg.StatusTimeout = 700 * time.Millisecond
	cfg.CutResponseTimeout = 500 * time.Millisecond
	switch transport {
	case "tcp":
		addr, err := sim.ListenTCP("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		cfg.Device = "tcp://" + addr
	case "file":
		k.root = t.TempDir()
		if err := sim.ServeFiles(filepath.Join(k.root, "req"), filepath.Join(k.root, "resp")); err != nil {
			t.Fatal(err)
		}
		cfg.Device = "file://" + k.root
		cfg.StatusTimeout = 2 * time.Second // both sides poll 4 times a second
	}
	k.cfg = cfg
	k.term = k.newTerm(t)
	k.env = newEnv(t, append([]func(e *env){func(e *env) {
		e.catalog = tefCatalog
		e.term = k.term
	}}, mod...)...)
	return k
}

func (k *tefKiosk) newTerm(t *testing.T) *payment.TEFCard {
	t.Helper()
	c, err := tef.NewClient(k.cfg, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return payment.NewTEFCard(c, quiet())
}

// restartWith restarts the kiosk with a new client (as a new process would have).
func (k *tefKiosk) restartWith(t *testing.T, between func()) {
	t.Helper()
	k.restart(func() {
		if between != nil {
			between()
		}
		k.term = k.newTerm(t)
		k.env.term = k.term
	})
}

func (k *tefKiosk) sale(t *testing.T, sku string, m payment.Method) *payment.Session {
	t.Helper()
	k.waitCardReady()
	s := k.create(item2(sku))
	k.pay(s.ID, m)
	return k.waitFor(s.ID, "the card attempt settled", func(s *payment.Session) bool {
		a := s.Attempt(1)
		return a.State.Final() || a.State == payment.AttemptUnknown
	})
}

func item2(sku string) payment.Item {
	p, ok := tefCatalog.Find(sku)
	if !ok {
		panic("no sku " + sku)
	}
	return payment.Item{SKU: sku, UnitCents: p.PriceCents, Qty: 1}
}

func (k *tefKiosk) ledger(t *testing.T, nsu string) string {
	t.Helper()
	for _, tx := range k.sim.Ledger() {
		if tx.NSU == nsu {
			return tx.State
		}
	}
	return ""
}

func TestTEFScenarios(t *testing.T) {
	errJam := payment.Errf(payment.KindUnavailable, "printer.paper_jam", "Papel enroscado.")
	tests := []struct {
		name        string
		sku         string
		method      payment.Method
		printFail   error
		wantState   payment.State
		wantAttempt payment.AttemptState
		wantCode    string
		wantLedger  string // the sale's state at the manager; "" none recorded
		wantMsg     []string
	}{
		{name: "approved credit", sku: "consulta", method: payment.MethodCredit,
			wantState: payment.StateFulfilled, wantAttempt: payment.AttemptConfirmed, wantLedger: tefsim.StateConfirmed},
		{name: "approved debit", sku: "exame", method: payment.MethodDebit,
			wantState: payment.StateFulfilled, wantAttempt: payment.AttemptConfirmed, wantLedger: tefsim.StateConfirmed},
		{name: "declined ,51", sku: "recusa", method: payment.MethodCredit,
			wantState: payment.StateOpen, wantAttempt: payment.AttemptDeclined, wantCode: "tef.declined",
			wantMsg: []string{"NAO AUTORIZADA"}},
		{name: "cancelled on the PIN pad ,52", sku: "cancela", method: payment.MethodDebit,
			wantState: payment.StateOpen, wantAttempt: payment.AttemptDeclined, wantCode: "tef.declined",
			wantMsg: []string{"CANCELADA"}},
		{name: "no status ,53", sku: "mudo", method: payment.MethodCredit,
			wantState: payment.StateOpen, wantAttempt: payment.AttemptAborted, wantCode: "tef.unavailable"},
		{name: "approval lost ,54", sku: "perde", method: payment.MethodCredit,
			wantState: payment.StateOpen, wantAttempt: payment.AttemptUnknown, wantCode: "tef.unknown",
			wantLedger: tefsim.StatePending},
		{name: "no confirmation needed ,55", sku: "semcnf", method: payment.MethodCredit,
			wantState: payment.StateFulfilled, wantAttempt: payment.AttemptConfirmed, wantLedger: tefsim.StateConfirmed},
		{name: "partial approval, confirmed by the manager ,56", sku: "parcial", method: payment.MethodCredit,
			wantState: payment.StateOpen, wantAttempt: payment.AttemptConfirmed, wantCode: "tef.cancel_needed",
			wantLedger: tefsim.StateConfirmed, wantMsg: []string{"R$ 10,55", "estornado"}},
		{name: "ticket does not print", sku: "consulta", method: payment.MethodCredit, printFail: errJam,
			wantState: payment.StateOpen, wantAttempt: payment.AttemptUndone, wantCode: "tef.undone",
			wantLedger: tefsim.StateUndone, wantMsg: []string{"REDE", "R$ 150,00", "Papel enroscado"}},
	}
	for _, tr := range []string{"tcp", "file"} {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					k := newTEFKiosk(t, tr)
					k.printer.FailNext(tt.printFail)
					got := k.sale(t, tt.sku, tt.method)
					a := got.Attempt(1)
					if got.State != tt.wantState || a.State != tt.wantAttempt {
						t.Fatalf("ended %s; want %s with attempt %s", describe(got), tt.wantState, tt.wantAttempt)
					}
					if tt.wantCode != "" && (a.Problem == nil || a.Problem.Code != tt.wantCode) {
						t.Errorf("problem %+v, want %s", a.Problem, tt.wantCode)
					}
					for _, m := range tt.wantMsg {
						if !strings.Contains(a.Message, m) {
							t.Errorf("message %q does not contain %q", a.Message, m)
						}
					}
					led := k.sim.Ledger()
					switch {
					case tt.wantLedger == "" && len(led) != 0:
						t.Errorf("ledger %+v, want no sale", led)
					case tt.wantLedger != "" && (len(led) != 1 || led[0].State != tt.wantLedger):
						t.Errorf("ledger %+v, want one sale %s", led, tt.wantLedger)
					case tt.wantLedger != "" && a.State != payment.AttemptUnknown &&
						(a.Card.NSU != led[0].NSU || a.Card.Network != led[0].Network):
						t.Errorf("attempt card %+v is not the manager's sale %+v", a.Card, led[0])
					}
					if tt.wantState != payment.StateFulfilled && len(k.printer.Printed()) != 0 {
						t.Errorf("tickets %+v printed for a session that was not paid", k.printer.Printed())
					}
					if tt.wantState == payment.StateFulfilled {
						tk := k.printer.Printed()
						if len(tk) != 1 || tk[0].Card == nil || len(tk[0].Card.CustomerReceipt) == 0 || tk[0].Card.MaskedPAN == "" {
							t.Errorf("tickets %+v: want one with the customer's receipt", tk)
						}
						if len(a.Card.MerchantReceipt) == 0 {
							t.Error("no merchant copy kept")
						}
					}
				})
			}
		})
	}
}

// TestTEFLostApprovalUndoneBeforeNextSale: a sale whose approval never arrived (,54) stays
// pending at the manager; the next card sale gets the pending refusal, undoes it (NCN), and
// then goes through. The lost attempt learns its NSU and ends undone.
func TestTEFLostApprovalUndoneBeforeNextSale(t *testing.T) {
	for _, tr := range []string{"tcp", "file"} {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			k := newTEFKiosk(t, tr)
			lost := k.sale(t, "perde", payment.MethodCredit)
			if lost.Attempt(1).State != payment.AttemptUnknown {
				t.Fatalf("lost: %s", describe(lost))
			}
			if msg := lost.Attempt(1).Message; strings.Contains(msg, "Nenhum valor foi cobrado") {
				t.Errorf("an unknown outcome claims nothing was charged: %q", msg)
			}
			next := k.sale(t, "consulta", payment.MethodDebit)
			if next.State != payment.StateFulfilled {
				t.Fatalf("next sale: %s", describe(next))
			}
			got := k.get(lost.ID)
			a := got.Attempt(1)
			if a.State != payment.AttemptUndone || a.Card.NSU == "" {
				t.Fatalf("lost attempt after the next sale: %s %+v", describe(got), a.Card)
			}
			if st := k.ledger(t, a.Card.NSU); st != tefsim.StateUndone {
				t.Errorf("lost sale is %q at the manager, want undone", st)
			}
			if len(k.sim.Pending()) != 0 {
				t.Errorf("pending: %+v", k.sim.Pending())
			}
			k.waitNote(lost.ID, "tef.pending_found")
			// The lost session may pay again.
			k.pay(lost.ID, payment.MethodPix)
		})
	}
}

// TestTEFLeftoverAtStart: the kiosk stopped after sending a CRT; the manager answered into
// RESP. At the next start the leftover is read before anything else and undone.
func TestTEFLeftoverAtStart(t *testing.T) {
	for _, tc := range []struct {
		name        string
		aborted     bool
		cents       int64
		wantAttempt payment.AttemptState
		wantLedger  string
	}{
		{"approved", false, 15000, payment.AttemptUndone, tefsim.StateUndone},
		{"FF", true, 15000, payment.AttemptAborted, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			k := newTEFKiosk(t, "file")
			k.waitCardReady()
			s := k.create(item2("consulta"))
			k.restartWith(t, func() {
				// The state a crash right after the CRT left: the attempt requested, the
				// manager's answer in RESP.
				k.rewrite(s.ID, func(sess *payment.Session) {
					now := k.clock.Now()
					sess.State, sess.Ticket = payment.StatePaying, "A001"
					sess.Attempts = []payment.Attempt{{N: 1, Method: payment.MethodCredit, State: payment.AttemptRequested,
						Amount: 15000, CreatedAt: now, UpdatedAt: now, Card: &payment.CardData{}}}
				})
				if _, err := k.sim.LeftoverResponse(tefsim.Leftover{Document: "A001", AmountCents: tc.cents, Aborted: tc.aborted}); err != nil {
					t.Fatal(err)
				}
			})
			got := k.waitAttempt(s.ID, 1, tc.wantAttempt)
			if got.State != payment.StateOpen {
				t.Errorf("after recovery: %s", describe(got))
			}
			led := k.sim.Ledger()
			if tc.wantLedger == "" && len(led) != 0 || tc.wantLedger != "" && (len(led) != 1 || led[0].State != tc.wantLedger) {
				t.Errorf("ledger %+v, want %q", led, tc.wantLedger)
			}
			k.waitNote(s.ID, "tef.leftover")
			k.waitCardReady()
			if next := k.sale(t, "exame", payment.MethodDebit); next.State != payment.StateFulfilled {
				t.Errorf("next sale: %s", describe(next))
			}
		})
	}
}

// TestTEFPrintedBeforeCrashConfirmed: the ticket printed, the process died before CNF was
// written as sent: the printer's record shows the ticket, so the sale is confirmed, not undone.
func TestTEFPrintedBeforeCrashConfirmed(t *testing.T) {
	k := newTEFKiosk(t, "tcp")
	k.waitCardReady()
	s := k.create(item2("consulta"))
	var nsu string
	k.restartWith(t, func() {
		c, err := tef.NewClient(k.cfg, quiet())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		resp, err := c.Sale(context.Background(), tef.Sale{Document: "A001", AmountCents: 15000, Credit: true})
		if err != nil || !tef.Approved(resp) {
			t.Fatalf("sale: %v", err)
		}
		nsu = resp.Value(12, 0)
		k.rewrite(s.ID, func(sess *payment.Session) {
			now := k.clock.Now()
			sess.State, sess.Ticket, sess.TicketPrints = payment.StatePaying, "A001", 1
			sess.Attempts = []payment.Attempt{{N: 1, Method: payment.MethodCredit, State: payment.AttemptApproved,
				Amount: 15000, CreatedAt: now, UpdatedAt: now, Card: &payment.CardData{Network: resp.Value(10, 0), NSU: nsu,
					NeedsConfirm: true, Ref: map[string]string{"027": resp.Value(27, 0), "003": "15000"}}}}
		})
		// The fake printer's record: it printed this session's ticket.
		if err := k.printer.PrintTicket(context.Background(), payment.Ticket{SessionID: s.ID, Number: "A001"}); err != nil {
			t.Fatal(err)
		}
	})
	got := k.waitState(s.ID, payment.StateFulfilled)
	if a := got.Attempt(1); a.State != payment.AttemptConfirmed {
		t.Fatalf("after recovery: %s", describe(got))
	}
	if st := k.ledger(t, nsu); st != tefsim.StateConfirmed {
		t.Errorf("sale %q at the manager, want confirmed", st)
	}
	if len(k.printer.Printed()) != 1 {
		t.Errorf("%d tickets: a second was printed", len(k.printer.Printed()))
	}
}

// TestTEFDownDisablesCards: a manager that does not answer makes card methods unavailable
// with the reason, and they come back when it answers again.
func TestTEFDownDisablesCards(t *testing.T) {
	k := newTEFKiosk(t, "tcp")
	k.term.Watch(time.Second)
	t.Cleanup(k.term.Close)
	k.waitCardReady()
	k.sim.SetDown(true)
	waitMethods := func(avail bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) {
			ms := k.svc.Methods(context.Background())
			i := slices.IndexFunc(ms, func(m payment.MethodStatus) bool { return m.Method == payment.MethodCredit })
			if ms[i].Available == avail && (avail || ms[i].Problem != nil && ms[i].Problem.Code == "tef.unavailable") {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("credit never became available=%v: %+v", avail, k.svc.Methods(context.Background()))
	}
	waitMethods(false)
	s := k.create(item2("consulta"))
	if _, err := k.svc.Pay(context.Background(), s.ID, payment.PayRequest{Method: payment.MethodCredit}); err == nil {
		t.Fatal("a card sale was accepted while the manager is down")
	}
	k.sim.SetDown(false)
	waitMethods(true)
}

// TestTEFPendingByHand: the operator lists what is unsettled and settles it: an unknown
// outcome closed after checking the manager's report, an approval undone.
func TestTEFPendingByHand(t *testing.T) {
	k := newTEFKiosk(t, "tcp")
	lost := k.sale(t, "perde", payment.MethodCredit) // ,54: unknown, pending at the manager
	ctx := context.Background()
	p, err := k.svc.PendingCards(ctx)
	if err != nil || len(p) != 1 || p[0].SessionID != lost.ID || p[0].State != payment.AttemptUnknown ||
		!slices.Equal(p[0].Actions, []string{"close"}) {
		t.Fatalf("PendingCards: %+v %v", p, err)
	}
	if _, err := k.svc.ResolveCard(ctx, lost.ID, 1, "undo"); err == nil {
		t.Fatal("undo of an attempt without a known transaction was accepted")
	} else if code, _ := errCode(t, err); code != "tef.action_not_allowed" {
		t.Fatalf("undo: %v", err)
	}
	if _, err := k.svc.ResolveCard(ctx, lost.ID, 9, "close"); err == nil {
		t.Fatal("a missing attempt was resolved")
	}
	got, err := k.svc.ResolveCard(ctx, lost.ID, 1, "close")
	if err != nil || got.Attempt(1).State != payment.AttemptAborted {
		t.Fatalf("close: %v %s", err, describe(got))
	}
	if p, _ := k.svc.PendingCards(ctx); len(p) != 0 {
		t.Fatalf("still pending: %+v", p)
	}
	k.waitNote(lost.ID, "tef.operator_close")
	// The manager still holds the ,54 sale: the next sale undoes it through its refusal,
	// though no attempt is waiting for it any more.
	next := k.sale(t, "exame", payment.MethodDebit)
	if next.State != payment.StateFulfilled || len(k.sim.Pending()) != 0 {
		t.Fatalf("next sale %s, pending %+v", describe(next), k.sim.Pending())
	}
	for _, tx := range k.sim.Ledger() {
		if tx.AmountCents == 1054 && tx.State != tefsim.StateUndone {
			t.Errorf("the lost sale is %s at the manager, want undone", tx.State)
		}
	}
}

// TestTEFMerchantCopy: the merchant's copy is always kept, and printed after the confirmation
// only when the config says so.
func TestTEFMerchantCopy(t *testing.T) {
	for _, print := range []bool{false, true} {
		k := newTEFKiosk(t, "tcp", func(e *env) { e.cfg.PrintMerchantCopy = print })
		got := k.sale(t, "consulta", payment.MethodCredit)
		if got.State != payment.StateFulfilled || len(got.Attempt(1).Card.MerchantReceipt) == 0 {
			t.Fatalf("print=%v: %s", print, describe(got))
		}
		k.stop()
		r := k.printer.Receipts()
		switch {
		case !print && len(r) != 0:
			t.Errorf("merchant copy printed though the config says not to: %+v", r)
		case print && (len(r) != 1 || r[0].SessionID != got.ID || r[0].Title != "VIA ESTABELECIMENTO" ||
			!strings.Contains(strings.Join(r[0].Lines, "\n"), "VIA ESTABELECIMENTO")):
			t.Errorf("merchant copy: %+v", r)
		}
	}
}
