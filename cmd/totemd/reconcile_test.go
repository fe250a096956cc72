package main

import (
	"strings"
	"testing"
	"time"

	"github.com/totemd/totemd/payment"
	"github.com/totemd/totemd/payment/pix"
)

// TestReconcile compares the PSP's list of Pix (with their devoluções) against journal
// attempts, one case per kind of mismatch, refunds included.
func TestReconcile(t *testing.T) {
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	to := from.Add(30 * 24 * time.Hour)
	paidAt := from.Add(48 * time.Hour)
	const sid = "01SESSIONAAAAAAAAAAAAAAAAA"
	dv := payment.PixRefundID(sid, 1)
	sess := func(st payment.State, a payment.AttemptState, fn func(p *payment.PixData)) *payment.Session {
		p := &payment.PixData{TxID: "TX1", E2EID: "E1", PaidAt: paidAt}
		if fn != nil {
			fn(p)
		}
		return &payment.Session{ID: sid, State: st, Attempts: []payment.Attempt{{N: 1, Method: payment.MethodPix, State: a, Amount: 15000, Pix: p}}}
	}
	refunded := func(id string) func(p *payment.PixData) {
		return func(p *payment.PixData) { p.RefundID, p.Refunded = id, true }
	}
	paid := func(devs ...pix.Devolucao) pix.Pix {
		return pix.Pix{EndToEndID: "E1", TxID: "TX1", Valor: "150.00", Horario: paidAt, Devolucoes: devs}
	}
	dev := func(id, status string) pix.Devolucao { return pix.Devolucao{ID: id, Valor: "150.00", Status: status} }

	tests := []struct {
		name     string
		psp      []pix.Pix
		sessions []*payment.Session
		want     []string // kinds, in order
		detail   string   // a part of the last mismatch's detail
	}{
		{"paid and served", []pix.Pix{paid()}, []*payment.Session{sess(payment.StateFulfilled, payment.AttemptConcluded, nil)}, nil, ""},
		{"refunded and DEVOLVIDO", []pix.Pix{paid(dev(dv, pix.RefundDone))},
			[]*payment.Session{sess(payment.StateRefunded, payment.AttemptExpired, refunded(dv))}, nil, ""},
		{"a refund made in the bank's portal for a served sale", []pix.Pix{paid(dev("PORTAL1", pix.RefundDone))},
			[]*payment.Session{sess(payment.StateFulfilled, payment.AttemptConcluded, nil)}, []string{"refund_unknown"}, "PORTAL1"},
		{"a refund asked outside that the PSP did not make", []pix.Pix{paid(dev("PORTAL1", pix.RefundNotMade))},
			[]*payment.Session{sess(payment.StateFulfilled, payment.AttemptConcluded, nil)}, nil, ""},
		{"refund recorded as made, still in processing at the PSP", []pix.Pix{paid(dev(dv, pix.RefundProcessing))},
			[]*payment.Session{sess(payment.StateRefunded, payment.AttemptExpired, refunded(dv))}, []string{"refund_missing_at_psp"}, "EM_PROCESSAMENTO"},
		{"refund recorded as made, absent at the PSP", []pix.Pix{paid()},
			[]*payment.Session{sess(payment.StateRefunded, payment.AttemptExpired, refunded(dv))}, []string{"refund_missing_at_psp"}, "ausente"},
		{"refund pending in the journal, done at the PSP", []pix.Pix{paid(dev(dv, pix.RefundDone))},
			[]*payment.Session{sess(payment.StatePaidLate, payment.AttemptExpired, func(p *payment.PixData) { p.RefundID = dv })},
			[]string{"refund_pending"}, "DEVOLVIDO no PSP"},
		{"refund pending, not at the PSP yet", []pix.Pix{paid()},
			[]*payment.Session{sess(payment.StatePaidLate, payment.AttemptExpired, func(p *payment.PixData) { p.RefundID = dv })},
			[]string{"refund_pending"}, "ainda não confirmada"},
		{"paid late, not recorded, refunded in the portal", []pix.Pix{paid(dev("PORTAL1", pix.RefundDone))},
			[]*payment.Session{sess(payment.StateExpired, payment.AttemptExpired, nil)}, []string{"paid_not_recorded"}, "fora do totem: PORTAL1 R$ 150.00"},
		{"the first try counted as not made is DEVOLVIDO too", []pix.Pix{paid(dev(dv, pix.RefundDone), dev(dv+"R1", pix.RefundDone))},
			[]*payment.Session{sess(payment.StateRefunded, payment.AttemptExpired, refunded(dv+"R1"))}, []string{"refund_twice"}, "duas vezes"},
		{"a payment with no session", []pix.Pix{{EndToEndID: "E9", TxID: "TX9", Valor: "1.00", Horario: paidAt}},
			nil, []string{"unknown_payment"}, "sem sessão"},
		{"a payment the PSP does not list", nil,
			[]*payment.Session{sess(payment.StateFulfilled, payment.AttemptConcluded, nil)}, []string{"missing_at_psp"}, "não o lista"},
		{"another amount", []pix.Pix{{EndToEndID: "E1", TxID: "TX1", Valor: "149.99", Horario: paidAt}},
			[]*payment.Session{sess(payment.StateFulfilled, payment.AttemptConcluded, nil)}, []string{"amount_differs"}, "valor pago"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := reconcile(tt.psp, tt.sessions, from, to)
			var kinds []string
			for _, m := range got {
				kinds = append(kinds, m.Kind)
			}
			if strings.Join(kinds, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("kinds %v, want %v (%+v)", kinds, tt.want, got)
			}
			if tt.detail != "" && !strings.Contains(got[len(got)-1].Detail, tt.detail) {
				t.Errorf("detail %q, want it to say %q", got[len(got)-1].Detail, tt.detail)
			}
		})
	}
}
