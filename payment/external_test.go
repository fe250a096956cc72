package payment_test

import (
	"context"
	"strings"
	"testing"

	"github.com/totemd/totemd/payment"
)

func TestRecordCardResult(t *testing.T) {
	approved := payment.ExternalCardResult{Method: payment.MethodCredit, Approved: true, AmountCents: 15000,
		Network: "STONE", Brand: "MASTERCARD", NSU: "123456789", AuthCode: "A1B2", MaskedPAN: "545454******5454",
		CustomerReceipt: []string{"STONE - VIA CLIENTE", "CARTAO 5454 5454 5454 5454", "NSU 123456789"}}
	tests := []struct {
		name      string
		disabled  bool
		mod       func(r *payment.ExternalCardResult)
		wantCode  string
		wantState payment.State
	}{
		{name: "approved", wantState: payment.StateFulfilled},
		{name: "declined", mod: func(r *payment.ExternalCardResult) { r.Approved, r.Message = false, "SALDO INSUFICIENTE" },
			wantState: payment.StateOpen},
		{name: "full card number", mod: func(r *payment.ExternalCardResult) { r.MaskedPAN = "5454 5454 5454 5454" },
			wantCode: "payment.full_card_number"},
		{name: "full card number no spaces", mod: func(r *payment.ExternalCardResult) { r.MaskedPAN = "4111111111111111" },
			wantCode: "payment.full_card_number"},
		{name: "another amount", mod: func(r *payment.ExternalCardResult) { r.AmountCents = 100 }, wantCode: "payment.amount_mismatch"},
		{name: "no nsu", mod: func(r *payment.ExternalCardResult) { r.NSU = "" }, wantCode: "payment.bad_card_result"},
		{name: "pix", mod: func(r *payment.ExternalCardResult) { r.Method = payment.MethodPix }, wantCode: "payment.bad_card_result"},
		{name: "installments on debit", mod: func(r *payment.ExternalCardResult) { r.Method, r.Installments = payment.MethodDebit, 3 },
			wantCode: "payment.bad_card_result"},
		{name: "disabled", disabled: true, wantCode: "payment.external_card_disabled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(e *env) { e.cfg.ExternalCard, e.noCard = !tt.disabled, true })
			s := e.create(item("consulta", 1))
			r := approved
			r.CustomerReceipt = append([]string(nil), approved.CustomerReceipt...)
			if tt.mod != nil {
				tt.mod(&r)
			}
			got, err := e.svc.RecordCardResult(context.Background(), s.ID, r)
			if tt.wantCode != "" {
				if code, _ := errCode(t, err); code != tt.wantCode {
					t.Fatalf("err %v, want %s", err, tt.wantCode)
				}
				if after := e.get(s.ID); after.Version != s.Version || len(after.Attempts) != 0 {
					t.Fatalf("a refused result changed the session: %s", describe(after))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			end := e.waitState(s.ID, tt.wantState)
			a := end.Attempt(1)
			if tt.wantState == payment.StateFulfilled {
				if a.State != payment.AttemptConfirmed || a.Card.NSU != r.NSU || end.PaidAt.IsZero() {
					t.Fatalf("after approval: %s %+v", describe(end), a.Card)
				}
				for _, l := range a.Card.CustomerReceipt {
					if strings.Contains(l, "5454 5454 5454 5454") {
						t.Errorf("a full card number was stored: %q", l)
					}
				}
				if a.Card.CustomerReceipt[1] != "CARTAO 5454 54** **** 5454" {
					t.Errorf("masked line %q", a.Card.CustomerReceipt[1])
				}
				if p := e.printer.Printed(); len(p) != 1 || p[0].Number != end.Ticket {
					t.Errorf("tickets %+v", p)
				}
				// The same approval again changes nothing.
				again, err := e.svc.RecordCardResult(context.Background(), s.ID, r)
				if err != nil || len(again.Attempts) != 1 {
					t.Errorf("repeat: %v %s", err, describe(again))
				}
				return
			}
			if a.State != payment.AttemptDeclined || !strings.Contains(a.Message, "SALDO") || got.State != payment.StateOpen {
				t.Fatalf("after decline: %s", describe(end))
			}
		})
	}
}

func TestPayCardRefusedWhenExternal(t *testing.T) {
	e := newEnv(t, func(e *env) { e.cfg.ExternalCard, e.noCard = true, true })
	s := e.create(item("consulta", 1))
	_, err := e.svc.Pay(context.Background(), s.ID, payment.PayRequest{Method: payment.MethodCredit})
	if code, _ := errCode(t, err); code != "payment.external_card" {
		t.Fatalf("Pay(credit) with an external POS: %v", err)
	}
	for _, m := range e.svc.Methods(context.Background()) {
		if !m.Available {
			t.Errorf("%s unavailable: %+v", m.Method, m.Problem)
		}
	}
}
