package payment

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/totemd/totemd/sync/journal"
)

// ExternalCardResult is a card sale a Smart POS ran itself (its SDK driven by the kiosk page),
// reported with POST /api/v1/sessions/{id}/card-result. The POS confirmed it already.
type ExternalCardResult struct {
	Method          Method   `json:"method"` // credit or debit
	Approved        bool     `json:"approved"`
	AmountCents     Money    `json:"amount_cents"`
	Network         string   `json:"network"`
	Brand           string   `json:"brand"`
	NSU             string   `json:"nsu"`
	AuthCode        string   `json:"auth_code"`
	MaskedPAN       string   `json:"masked_pan"`
	Installments    int      `json:"installments"`
	Message         string   `json:"message"` // why it was not approved
	CustomerReceipt []string `json:"customer_receipt"`
	MerchantReceipt []string `json:"merchant_receipt"`
}

// RecordCardResult records a Smart POS card result on an open session. An approval makes the
// session paid and prints the ticket; a decline leaves it open. The same approval (network and
// NSU) sent again changes nothing. A full card number in masked_pan is refused and nothing is
// stored; one in a receipt line is masked before it is stored.
func (s *Service) RecordCardResult(ctx context.Context, id string, r ExternalCardResult) (*Session, error) {
	if !s.cfg.ExternalCard {
		return nil, Errf(KindConflict, "payment.external_card_disabled",
			"Este totem não recebe resultados de POS externo: ative payment.external_card na configuração.")
	}
	if err := r.validate(); err != nil {
		return nil, err
	}
	r.CustomerReceipt, r.MerchantReceipt = maskLines(r.CustomerReceipt), maskLines(r.MerchantReceipt)
	paid := false
	sess, err := s.update(id, func(tx *journal.Tx, sess *Session) error {
		for _, a := range sess.Attempts {
			if r.Approved && a.Card != nil && a.Card.NSU == r.NSU && a.Card.Network == r.Network {
				return errSkip // the same approval again
			}
		}
		if sess.State != StateOpen {
			return Errf(KindConflict, "session.not_open", "Sessão %s não aceita pagamento agora (estado %s).", sess.ID, sess.State)
		}
		if r.Approved && r.AmountCents != sess.TotalCents {
			return Errf(KindInvalid, "payment.amount_mismatch", "O POS aprovou %s, mas a compra é de %s: estorne no POS.", r.AmountCents, sess.TotalCents)
		}
		if len(sess.Attempts) >= s.cfg.MaxAttempts {
			return Errf(KindConflict, "session.too_many_attempts", "Limite de %d tentativas atingido. Inicie uma nova compra.", s.cfg.MaxAttempts)
		}
		if err := s.assignTicket(tx, sess); err != nil {
			return err
		}
		now := s.now()
		a := Attempt{N: len(sess.Attempts) + 1, Method: r.Method, Amount: sess.TotalCents, CreatedAt: now, UpdatedAt: now,
			State: AttemptRequested, Card: &CardData{Network: r.Network, Brand: r.Brand, NSU: r.NSU, AuthCode: r.AuthCode,
				MaskedPAN: r.MaskedPAN, Installments: r.Installments, Charged: r.AmountCents,
				CustomerReceipt: r.CustomerReceipt, MerchantReceipt: r.MerchantReceipt}}
		if err := sess.setState(StatePaying); err != nil {
			return err
		}
		if !r.Approved {
			msg := strings.TrimSpace(r.Message)
			if msg == "" {
				msg = "Transação não aprovada."
			}
			a.Message, a.Problem = msg, &Problem{Code: "tef.declined", Message: msg}
			if err := a.setState(sess.ID, AttemptDeclined); err != nil {
				return err
			}
			sess.Attempts = append(sess.Attempts, a)
			sess.Problem = a.Problem
			return sess.setState(StateOpen)
		}
		a.Card.ApprovedAt = now.UTC()
		a.Message = "Pagamento aprovado. Imprimindo o ticket..."
		if err := a.setState(sess.ID, AttemptApproved); err != nil {
			return err
		}
		if err := a.setState(sess.ID, AttemptConfirmed); err != nil {
			return err
		}
		sess.Attempts = append(sess.Attempts, a)
		sess.Problem, sess.PaidAt = nil, now.UTC()
		paid = true
		return sess.setState(StatePaid)
	})
	if errors.Is(err, errSkip) {
		return s.Get(ctx, id)
	}
	if err != nil {
		return nil, err
	}
	if paid {
		s.goSafe(func() {
			if err := s.fulfil(id); err != nil && s.ctx.Err() == nil {
				s.log.Error("printing the ticket of an external card sale", "session", id, "err", err)
			}
		})
	}
	return sess, nil
}

func (r ExternalCardResult) validate() error {
	bad := func(field, f string, a ...any) error {
		return Errf(KindInvalid, "payment.bad_card_result", "card-result: "+field+": "+f, a...)
	}
	if !r.Method.Card() {
		return bad("method", "%q: use credit or debit", r.Method)
	}
	for _, f := range []struct{ name, v string }{
		{"network", r.Network}, {"brand", r.Brand}, {"nsu", r.NSU}, {"auth_code", r.AuthCode}, {"masked_pan", r.MaskedPAN}, {"message", r.Message},
	} {
		if len(f.v) > 200 || !utf8.ValidString(f.v) || strings.ContainsAny(f.v, "\r\n\x00") {
			return bad(f.name, "at most 200 characters of one line")
		}
	}
	if hasFullPAN(r.MaskedPAN) {
		return Errf(KindInvalid, "payment.full_card_number",
			"card-result: masked_pan: é um número de cartão completo; envie só o número mascarado (ex.: 123456******1234). Nada foi gravado.")
	}
	for _, lines := range [][]string{r.CustomerReceipt, r.MerchantReceipt} {
		if len(lines) > 200 {
			return bad("receipt", "at most 200 lines")
		}
		for _, l := range lines {
			if len(l) > 200 || !utf8.ValidString(l) {
				return bad("receipt", "lines of at most 200 characters")
			}
		}
	}
	if r.Approved {
		if r.NSU == "" || r.Network == "" {
			return bad("nsu", "an approval needs network and nsu")
		}
		if r.AmountCents <= 0 {
			return bad("amount_cents", "an approval needs the amount charged, in centavos")
		}
		if r.Installments < 0 || r.Installments > 99 || r.Installments > 1 && r.Method != MethodCredit {
			return bad("installments", "%d: 0-99, and more than 1 only on credit", r.Installments)
		}
	}
	return nil
}

// hasFullPAN reports whether s holds what may be a full card number: a run of 13 to 19 digits
// (spaces, dots and dashes between them allowed) that passes the Luhn check.
func hasFullPAN(s string) bool {
	var digits []byte
	flush := func() bool {
		ok := len(digits) >= 13 && len(digits) <= 19 && luhn(digits)
		digits = digits[:0]
		return ok
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits = append(digits, c)
		case (c == ' ' || c == '.' || c == '-') && len(digits) > 0:
		default:
			if flush() {
				return true
			}
		}
	}
	return flush()
}

// maskLines masks, in receipt lines, anything that may be a full card number (see hasFullPAN):
// such a number is never stored, whoever printed it.
func maskLines(lines []string) []string {
	if lines == nil {
		return nil
	}
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		out = append(out, maskRuns(l))
	}
	return out
}

// maskRuns masks, in place, the digits of every run of digits (with spaces, dots and dashes)
// that may be a full card number, but the first 6 and the last 4.
func maskRuns(l string) string {
	b := []byte(l)
	for i := 0; i < len(b); {
		if b[i] < '0' || b[i] > '9' {
			i++
			continue
		}
		j, n := i, 0
		for j < len(b) && (b[j] >= '0' && b[j] <= '9' || b[j] == ' ' || b[j] == '.' || b[j] == '-') {
			if b[j] >= '0' && b[j] <= '9' {
				n++
			}
			j++
		}
		if hasFullPAN(string(b[i:j])) {
			k := 0
			for p := i; p < j; p++ {
				if b[p] >= '0' && b[p] <= '9' {
					if k >= 6 && k < n-4 {
						b[p] = '*'
					}
					k++
				}
			}
		}
		i = j
	}
	return string(b)
}

func luhn(d []byte) bool {
	sum := 0
	for i := len(d) - 1; i >= 0; i-- {
		v := int(d[i] - '0')
		if (len(d)-1-i)%2 == 1 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return sum%10 == 0
}
