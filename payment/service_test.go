package payment_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/totemd/totemd/payment"
)

func TestCreateRefused(t *testing.T) {
	e := newEnv(t)
	many := make([]payment.Item, 51)
	for i := range many {
		many[i] = item("taxa", 1)
	}
	tests := []struct {
		name  string
		items []payment.Item
		code  string
	}{
		{"no items", nil, "session.invalid_items"},
		{"empty list", []payment.Item{}, "session.invalid_items"},
		{"51 items", many, "session.invalid_items"},
		{"qty 0", []payment.Item{item("consulta", 0)}, "session.invalid_items"},
		{"qty -1", []payment.Item{item("consulta", -1)}, "session.invalid_items"},
		{"qty 100", []payment.Item{item("consulta", 100)}, "session.invalid_items"},
		{"empty sku", []payment.Item{{SKU: "", UnitCents: 500, Qty: 1}}, "session.invalid_items"},
		{"sku with a space", []payment.Item{{SKU: "con sulta", UnitCents: 15000, Qty: 1}}, "session.invalid_items"},
		{"sku with a slash", []payment.Item{{SKU: "a/b", UnitCents: 15000, Qty: 1}}, "session.invalid_items"},
		{"sku of 41 chars", []payment.Item{{SKU: strings.Repeat("x", 41), UnitCents: 15000, Qty: 1}}, "session.invalid_items"},
		{"unknown sku", []payment.Item{{SKU: "raiox", UnitCents: 15000, Qty: 1}}, "session.unknown_item"},
		{"cheaper than the catalog", []payment.Item{{SKU: "consulta", UnitCents: 1, Qty: 1}}, "session.price_mismatch"},
		{"dearer than the catalog", []payment.Item{{SKU: "consulta", UnitCents: 15001, Qty: 1}}, "session.price_mismatch"},
		{"second item bad", []payment.Item{item("consulta", 1), {SKU: "exame", UnitCents: 0, Qty: 1}}, "session.price_mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.store.LastSeq()
			s, err := e.svc.Create(context.Background(), tt.items)
			if err == nil {
				t.Fatalf("Create accepted %+v: %s", tt.items, describe(s))
			}
			code, kind := errCode(t, err)
			if code != tt.code || kind != payment.KindInvalid {
				t.Errorf("got %s (kind %d), want %s (KindInvalid)", code, kind, tt.code)
			}
			if e.store.LastSeq() != before {
				t.Error("a refused Create wrote to the journal")
			}
		})
	}
}

func TestCreateWithoutCatalog(t *testing.T) {
	e := newEnv(t, func(e *env) { e.catalog = nil })
	tests := []struct {
		name  string
		items []payment.Item
		code  string // "" accepted
		total payment.Money
	}{
		{"priced items", []payment.Item{{SKU: "estac-1h", Name: " Estacionamento 1h ", UnitCents: 1200, Qty: 2},
			{SKU: "lavagem", Name: "Lavagem", UnitCents: 3550, Qty: 1}}, "", 5950},
		{"largest total", []payment.Item{{SKU: "x", Name: "X", UnitCents: payment.MaxMoney, Qty: 1}}, "", payment.MaxMoney},
		{"no name", []payment.Item{{SKU: "x", Name: "  ", UnitCents: 100, Qty: 1}}, "session.invalid_items", 0},
		{"name too long", []payment.Item{{SKU: "x", Name: strings.Repeat("n", 81), UnitCents: 100, Qty: 1}}, "session.invalid_items", 0},
		{"zero price", []payment.Item{{SKU: "x", Name: "X", UnitCents: 0, Qty: 1}}, "session.invalid_items", 0},
		{"negative price", []payment.Item{{SKU: "x", Name: "X", UnitCents: -100, Qty: 1}}, "session.invalid_items", 0},
		{"unit above MaxMoney", []payment.Item{{SKU: "x", Name: "X", UnitCents: payment.MaxMoney + 1, Qty: 1}}, "session.invalid_items", 0},
		{"total over MaxMoney", []payment.Item{{SKU: "x", Name: "X", UnitCents: payment.MaxMoney/2 + 1, Qty: 2}}, "session.invalid_items", 0},
		{"total over MaxMoney across items", []payment.Item{{SKU: "x", Name: "X", UnitCents: payment.MaxMoney, Qty: 1},
			{SKU: "y", Name: "Y", UnitCents: 1, Qty: 1}}, "session.invalid_items", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := e.svc.Create(context.Background(), tt.items)
			if tt.code != "" {
				if err == nil {
					t.Fatalf("accepted: %s", describe(s))
				}
				if code, kind := errCode(t, err); code != tt.code || kind != payment.KindInvalid {
					t.Fatalf("got %s (kind %d), want %s", code, kind, tt.code)
				}
				return
			}
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			if s.TotalCents != tt.total || s.Total != tt.total.String() || s.Prefix != "A" {
				t.Errorf("total %d %q prefix %q; want %d %q prefix A", s.TotalCents, s.Total, s.Prefix, tt.total, tt.total.String())
			}
			if s.Items[0].Name != strings.TrimSpace(tt.items[0].Name) {
				t.Errorf("name %q, want the trimmed %q", s.Items[0].Name, tt.items[0].Name)
			}
		})
	}
}

func TestCreate(t *testing.T) {
	e := newEnv(t)
	in := []payment.Item{
		{SKU: "taxa", Name: "Nome inventado pelo navegador", UnitCents: 500, Qty: 2},
		{SKU: "exame", UnitCents: 8000, Qty: 3},
	}
	s, err := e.svc.Create(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if !payment.ValidID(s.ID) || s.State != payment.StateOpen || s.Version != 1 || len(s.Attempts) != 0 || s.Ticket != "" {
		t.Errorf("new session: %+v", s)
	}
	if s.Items[0].Name != "Taxa administrativa" || s.Items[1].Name != "Exame de sangue" {
		t.Errorf("names %q, %q: want the catalog's", s.Items[0].Name, s.Items[1].Name)
	}
	if s.TotalCents != 2*500+3*8000 || s.Total != "R$ 250,00" {
		t.Errorf("total %d %q", s.TotalCents, s.Total)
	}
	if s.Prefix != "B" {
		t.Errorf("prefix %q: want B, the first catalog prefix among the items", s.Prefix)
	}
	if !s.CreatedAt.Equal(start) {
		t.Errorf("created at %v, want the injected clock %v", s.CreatedAt, start)
	}
	got := e.get(s.ID)
	if got.Version != 1 || got.TotalCents != s.TotalCents || got.Items[0].Name != "Taxa administrativa" {
		t.Errorf("stored session differs: %s", describe(got))
	}
	trail, _ := stateTrail(t, e.events(s.ID))
	if strings.Join(trail, ",") != "session.created:open" {
		t.Errorf("events %v", trail)
	}
	list, err := e.svc.List(context.Background(), payment.ListOptions{})
	if err != nil || len(list) != 1 || list[0].ID != s.ID {
		t.Errorf("List = %v, %v", list, err)
	}
	if _, err := e.svc.Get(context.Background(), "nope"); err == nil {
		t.Error("Get of a bad id succeeded")
	} else if code, kind := errCode(t, err); code != "session.not_found" || kind != payment.KindNotFound {
		t.Errorf("Get of a bad id: %s %d", code, kind)
	}
	if _, err := e.svc.Get(context.Background(), payment.NewID(start)); err == nil {
		t.Error("Get of an unknown id succeeded")
	}
}

func TestTicketNumbersPerPrefix(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		sku, want string
	}{
		{"consulta", "A001"},
		{"consulta", "A002"},
		{"exame", "B001"},
		{"taxa", "A003"}, // no prefix in the catalog: A
		{"exame", "B002"},
		{"consulta", "A004"},
	}
	for _, tt := range tests {
		s := e.create(item(tt.sku, 1))
		if p := e.pay(s.ID, payment.MethodCredit); p.Ticket != tt.want {
			t.Errorf("%s: ticket %q, want %q", tt.sku, p.Ticket, tt.want)
		}
	}
}

func TestTicketDayStartsAtLocalMidnight(t *testing.T) {
	e := newEnv(t, func(e *env) { e.cfg.SessionTimeout = 24 * time.Hour })
	day := func(d, h, m int) time.Time { return time.Date(2025, 3, d, h, m, 0, 0, saoPaulo) }
	steps := []struct {
		at   time.Time
		want string
	}{
		{day(10, 20, 59), "A001"}, // 23:59 UTC
		{day(10, 21, 1), "A002"},  // 00:01 UTC of the 11th: still the 10th in São Paulo
		{day(10, 23, 59), "A003"},
		{day(11, 0, 1), "A001"}, // a new local day
		{day(11, 0, 2), "A002"},
		{day(12, 0, 0), "A001"},
	}
	for _, st := range steps {
		e.clock.Set(st.at)
		s := e.create(item("consulta", 1))
		if p := e.pay(s.ID, payment.MethodCredit); p.Ticket != st.want {
			t.Errorf("at %s: ticket %q, want %q", st.at.Format(time.RFC3339), p.Ticket, st.want)
		}
		e.waitState(s.ID, payment.StateFulfilled)
	}
}

func TestTicketNumbersSurviveRestart(t *testing.T) {
	e := newEnv(t)
	for _, want := range []string{"A001", "A002"} {
		s := e.create(item("consulta", 1))
		if p := e.pay(s.ID, payment.MethodCredit); p.Ticket != want {
			t.Fatalf("ticket %q, want %q", p.Ticket, want)
		}
		e.waitState(s.ID, payment.StateFulfilled)
	}
	e.restart(nil)
	e.waitCardReady() // card sales are refused (tef.recovering) until start-up recovery is done
	s := e.create(item("consulta", 1))
	if p := e.pay(s.ID, payment.MethodDebit); p.Ticket != "A003" {
		t.Errorf("after a restart: ticket %q, want A003", p.Ticket)
	}
}

func TestTicketAssignedOncePerSession(t *testing.T) {
	e := newEnv(t)
	s := e.create(item("recusa", 1))
	first := e.pay(s.ID, payment.MethodCredit)
	if first.Ticket != "D001" {
		t.Fatalf("ticket %q, want D001", first.Ticket)
	}
	e.waitAttempt(s.ID, 1, payment.AttemptDeclined)
	second := e.pay(s.ID, payment.MethodDebit)
	if second.Ticket != first.Ticket || len(second.Attempts) != 2 {
		t.Errorf("second Pay: ticket %q, %d attempts; want %q and 2", second.Ticket, len(second.Attempts), first.Ticket)
	}
	e.waitAttempt(s.ID, 2, payment.AttemptDeclined)
	other := e.create(item("mudo", 1))
	if p := e.pay(other.ID, payment.MethodCredit); p.Ticket != "D002" {
		t.Errorf("next session: ticket %q, want D002 (a retry must not consume a number)", p.Ticket)
	}
}

func TestPayRefusedWhenPrinterNotReady(t *testing.T) {
	for _, m := range []payment.Method{payment.MethodPix, payment.MethodCredit, payment.MethodDebit} {
		t.Run(string(m), func(t *testing.T) {
			e := newEnv(t)
			s := e.create(item("consulta", 1))
			e.printer.PaperOut(true)
			_, err := e.svc.Pay(context.Background(), s.ID, payment.PayRequest{Method: m})
			if err == nil {
				t.Fatal("Pay accepted with the printer out of paper")
			}
			code, kind := errCode(t, err)
			if code != "printer.paper_out" || kind != payment.KindUnavailable {
				t.Errorf("got %s kind %d, want printer.paper_out KindUnavailable", code, kind)
			}
			if !strings.Contains(err.Error(), "Nenhum valor foi cobrado") {
				t.Errorf("message %q does not tell the customer nothing was charged", err)
			}
			got := e.get(s.ID)
			if got.State != payment.StateOpen || len(got.Attempts) != 0 || got.Version != 1 || got.Ticket != "" {
				t.Errorf("session after the refusal: %s", describe(got))
			}
			for _, ms := range e.svc.Methods(context.Background()) {
				if ms.Available || ms.Problem == nil || ms.Problem.Code != "printer.paper_out" {
					t.Errorf("Methods: %+v, want unavailable for printer.paper_out", ms)
				}
			}
			e.stop()
			if n := e.spy.Calls("create", ""); n != 0 {
				t.Errorf("PSP got %d CreateCharge calls", n)
			}
			if len(e.pix.Creates) != 0 || len(e.card.Ledger) != 0 || len(e.printer.Printed()) != 0 {
				t.Errorf("something was charged or printed: creates %v ledger %v", e.pix.Creates, e.card.Ledger)
			}
		})
	}
}

func TestPayRefused(t *testing.T) {
	tests := []struct {
		name  string
		mod   func(e *env)
		sku   string                  // default consulta
		setup func(e *env, id string) // brings the session where the test needs it
		req   payment.PayRequest
		badID bool
		code  string
		kind  payment.Kind
	}{
		{name: "unknown method", req: payment.PayRequest{Method: "cash"}, code: "payment.invalid_method", kind: payment.KindInvalid},
		{name: "method not offered", mod: func(e *env) { e.cfg.Methods = []payment.Method{payment.MethodPix} },
			req: payment.PayRequest{Method: payment.MethodDebit}, code: "payment.method_disabled", kind: payment.KindInvalid},
		{name: "no terminal", mod: func(e *env) { e.noCard = true },
			req: payment.PayRequest{Method: payment.MethodCredit}, code: "tef.not_configured", kind: payment.KindUnavailable},
		{name: "no PSP", mod: func(e *env) { e.noPix = true },
			req: payment.PayRequest{Method: payment.MethodPix}, code: "pix.not_configured", kind: payment.KindUnavailable},
		{name: "installments on debit", req: payment.PayRequest{Method: payment.MethodDebit, Installments: 3},
			code: "payment.invalid_installments", kind: payment.KindInvalid},
		{name: "negative installments", req: payment.PayRequest{Method: payment.MethodCredit, Installments: -1},
			code: "payment.invalid_installments", kind: payment.KindInvalid},
		{name: "unknown session", badID: true, req: payment.PayRequest{Method: payment.MethodPix},
			code: "session.not_found", kind: payment.KindNotFound},
		{name: "cancelled session", setup: func(e *env, id string) {
			if _, err := e.svc.Cancel(context.Background(), id); err != nil {
				e.t.Fatal(err)
			}
		}, req: payment.PayRequest{Method: payment.MethodPix}, code: "session.not_open", kind: payment.KindConflict},
		{name: "already paying", mod: func(e *env) { e.card.Block = make(chan struct{}) }, setup: func(e *env, id string) {
			e.pay(id, payment.MethodCredit)
			e.waitFor(id, "the PIN pad", func(s *payment.Session) bool { return strings.HasPrefix(s.Current().Message, "INSIRA") })
		}, req: payment.PayRequest{Method: payment.MethodCredit}, code: "session.not_open", kind: payment.KindConflict},
		{name: "too many attempts", sku: "recusa", mod: func(e *env) { e.cfg.MaxAttempts = 1 }, setup: func(e *env, id string) {
			e.pay(id, payment.MethodCredit)
			e.waitAttempt(id, 1, payment.AttemptDeclined)
		}, req: payment.PayRequest{Method: payment.MethodCredit}, code: "session.too_many_attempts", kind: payment.KindConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(e *env) {
				if tt.mod != nil {
					tt.mod(e)
				}
			})
			sku := tt.sku
			if sku == "" {
				sku = "consulta"
			}
			s := e.create(item(sku, 1))
			if tt.setup != nil {
				tt.setup(e, s.ID)
			}
			before := e.get(s.ID)
			id := s.ID
			if tt.badID {
				id = payment.NewID(start)
			}
			got, err := e.svc.Pay(context.Background(), id, tt.req)
			if err == nil {
				t.Fatalf("Pay accepted: %s", describe(got))
			}
			if code, kind := errCode(t, err); code != tt.code || kind != tt.kind {
				t.Errorf("got %s kind %d, want %s kind %d", code, kind, tt.code, tt.kind)
			}
			if after := e.get(s.ID); after.Version != before.Version || len(after.Attempts) != len(before.Attempts) {
				t.Errorf("refused Pay changed the session: %s -> %s", describe(before), describe(after))
			}
		})
	}
}

func TestPayAfterClose(t *testing.T) {
	e := newEnv(t)
	s := e.create(item("consulta", 1))
	e.svc.Close()
	_, err := e.svc.Pay(context.Background(), s.ID, payment.PayRequest{Method: payment.MethodPix})
	if code, kind := errCode(t, err); code != "service.stopping" || kind != payment.KindUnavailable {
		t.Errorf("Pay on a closed service: %s %d", code, kind)
	}
	if got := e.get(s.ID); got.State != payment.StateOpen || len(got.Attempts) != 0 {
		t.Errorf("session: %s", describe(got))
	}
}

func TestCancelOpenSession(t *testing.T) {
	e := newEnv(t)
	s := e.create(item("consulta", 1))
	got, err := e.svc.Cancel(context.Background(), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != payment.StateCancelled || got.Problem == nil || got.Problem.Code != "session.cancelled" || got.Version != 2 {
		t.Errorf("cancelled: %s", describe(got))
	}
	_, err = e.svc.Cancel(context.Background(), s.ID)
	if code, kind := errCode(t, err); code != "session.conflict" || kind != payment.KindConflict {
		t.Errorf("second cancel: %s %d, want session.conflict", code, kind)
	}
	_, err = e.svc.Cancel(context.Background(), payment.NewID(start))
	if code, _ := errCode(t, err); code != "session.not_found" {
		t.Errorf("cancel of an unknown session: %s", code)
	}
}

func TestCancelRefusedDuringCardSale(t *testing.T) {
	block := make(chan struct{})
	e := newEnv(t, func(e *env) { e.card.Block = block })
	s := e.create(item("consulta", 1))
	e.pay(s.ID, payment.MethodCredit)
	_, err := e.svc.Cancel(context.Background(), s.ID)
	if code, kind := errCode(t, err); code != "session.card_in_progress" || kind != payment.KindConflict {
		t.Errorf("cancel during a card sale: %s %d", code, kind)
	}
	close(block)
	e.waitState(s.ID, payment.StateFulfilled)
}

func TestSweep(t *testing.T) {
	const timeout = time.Minute
	e := newEnv(t, func(e *env) {
		e.cfg.SessionTimeout = timeout
		e.cfg.PixExpiry = time.Hour // no QR expires in this test
		e.card.Block = make(chan struct{})
	})
	idle := e.create(item("consulta", 1))
	payingPix := e.create(item("consulta", 1))
	e.pay(payingPix.ID, payment.MethodPix)
	e.waitAttempt(payingPix.ID, 1, payment.AttemptActive)
	payingCard := e.create(item("exame", 1))
	e.pay(payingCard.ID, payment.MethodCredit)
	cancelled := e.create(item("taxa", 1))
	if _, err := e.svc.Cancel(context.Background(), cancelled.ID); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(timeout - time.Second)
	fresh := e.create(item("taxa", 1))
	if err := e.svc.Sweep(); err != nil {
		t.Fatal(err)
	}
	if got := e.get(idle.ID); got.State != payment.StateOpen {
		t.Fatalf("idle for less than the timeout, yet %s", describe(got))
	}
	e.clock.Advance(time.Second)
	if err := e.svc.Sweep(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		id   string
		want payment.State
	}{
		{"open, idle for the timeout", idle.ID, payment.StateExpired},
		{"open, idle for less", fresh.ID, payment.StateOpen},
		{"paying by Pix", payingPix.ID, payment.StatePaying},
		{"paying by card", payingCard.ID, payment.StatePaying},
		{"cancelled", cancelled.ID, payment.StateCancelled},
	}
	for _, tt := range tests {
		got := e.get(tt.id)
		if got.State != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, describe(got), tt.want)
		}
	}
	if got := e.get(idle.ID); got.Problem == nil || got.Problem.Code != "session.expired" {
		t.Errorf("expired session problem: %+v", got.Problem)
	}
	if _, err := e.svc.Pay(context.Background(), idle.ID, payment.PayRequest{Method: payment.MethodPix}); err == nil {
		t.Error("Pay accepted on an expired session")
	}
}

// TestConcurrentSessions runs 20 customers at once: Pix and card, two ticket prefixes.
func TestConcurrentSessions(t *testing.T) {
	e := newEnv(t)
	const n = 20
	type result struct {
		id, ticket string
		err        error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			r := &results[i]
			sku := []string{"consulta", "exame"}[i%2]
			method := []payment.Method{payment.MethodPix, payment.MethodPix, payment.MethodCredit, payment.MethodDebit}[i%4]
			s, err := e.svc.Create(ctx, []payment.Item{item(sku, 1+i%3)})
			if err != nil {
				r.err = err
				return
			}
			r.id = s.ID
			if s, err = e.svc.Pay(ctx, s.ID, payment.PayRequest{Method: method}); err != nil {
				r.err = err
				return
			}
			if method == payment.MethodPix {
				s, err = waitSession(ctx, e.store, e.svc, s.ID, func(s *payment.Session) bool {
					return s.Current().State == payment.AttemptActive
				})
				if err != nil {
					r.err = err
					return
				}
				if !e.pix.Pay(s.Current().Pix.TxID, s.TotalCents) {
					r.err = fmt.Errorf("the fake PSP refused the payment")
					return
				}
			}
			s, err = waitSession(ctx, e.store, e.svc, s.ID, func(s *payment.Session) bool { return s.State.Terminal() })
			if err == nil && s.State != payment.StateFulfilled {
				err = fmt.Errorf("ended %s", describe(s))
			}
			if s != nil {
				r.ticket = s.Ticket
			}
			r.err = err
		})
	}
	wg.Wait()
	tickets := map[string]string{}
	for i, r := range results {
		if r.err != nil {
			t.Errorf("customer %d (%s): %v", i, r.id, r.err)
			continue
		}
		if other, dup := tickets[r.ticket]; dup {
			t.Errorf("ticket %s given to %s and %s", r.ticket, other, r.id)
		}
		tickets[r.ticket] = r.id
	}
	for _, prefix := range []string{"A", "B"} {
		for k := 1; k <= n/2; k++ {
			if _, ok := tickets[fmt.Sprintf("%s%03d", prefix, k)]; !ok {
				t.Errorf("ticket %s%03d was never given: numbers are not contiguous", prefix, k)
			}
		}
	}
	e.stop()
	printed := map[string]int{}
	for _, tk := range e.printer.Printed() {
		printed[tk.Number]++
	}
	for tk, id := range tickets {
		if printed[tk] != 1 {
			t.Errorf("ticket %s (%s) printed %d times", tk, id, printed[tk])
		}
	}
	if got := e.card.Count("confirmed"); got != n/2 {
		t.Errorf("%d card sales confirmed, want %d", got, n/2)
	}
	for txid, c := range e.pix.Creates {
		if c != 1 {
			t.Errorf("charge %s created %d times", txid, c)
		}
	}
}
