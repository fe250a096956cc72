package payment

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/totemd/totemd/sync/journal"
)

// The card flow (TEF Dial, docs/tef.md):
//
//	CRT -> the approval written to the journal -> the ticket (with the customer's receipt)
//	printed and verified -> ConfirmSent written -> CNF -> confirmed, paid and fulfilled.
//	Print failed -> NCN -> undone; the customer is told (network, NSU, amount); session open.
//	Declined -> the manager's message; session open for another try.
//
// One card operation runs at a time (a kiosk has one PIN pad, and a manager holding a pending
// transaction refuses every other sale): cardMu is held from the CRT until the sale is
// confirmed or undone.
//
// A transaction the manager holds pending (approved, neither confirmed nor undone) is
// resolved exactly once, with the same decision every time it comes up: CNF when its customer
// got a verified ticket, NCN otherwise. Decisions are kept in bucketTEFResolved by network,
// NSU and finalização.

// Buckets of the card flow.
const (
	// bucketTEFResolved: "network|nsu|finalização" -> JSON resolution, written when the
	// manager acknowledged a CNF or NCN.
	bucketTEFResolved = "tef_resolved"
	// bucketCardUnknown: "session#n" -> "" for every card attempt in state unknown.
	bucketCardUnknown = "card_unknown"
)

// Decisions on a transaction.
const (
	decideConfirm = "CNF"
	decideUndo    = "NCN"
)

// resolution is how a transaction was resolved.
type resolution struct {
	Decision    string    `json:"decision"`
	Network     string    `json:"network"`
	NSU         string    `json:"nsu"`
	Finalizacao string    `json:"finalizacao"`
	Amount      Money     `json:"amount_cents"`
	SessionID   string    `json:"session_id,omitempty"`
	Attempt     int       `json:"attempt,omitempty"`
	At          time.Time `json:"at"`
}

func txKey(d CardData) string { return d.Network + "|" + d.NSU + "|" + d.Ref[refFinalizacao] }

func unknownKey(id string, n int) string { return fmt.Sprintf("%s#%03d", id, n) }

// maxPendingRounds is how many times a sale refused for a pending transaction resolves it and
// tries again before giving up.
const maxPendingRounds = 3

// CardRecovered reports whether start-up recovery of card transactions finished: until it
// has, card sales are refused (tef.recovering).
func (s *Service) CardRecovered() bool { return s.cardRecovered() }

func (s *Service) cardRecovered() bool {
	select {
	case <-s.cardReady:
		return true
	default:
		return false
	}
}

// cardReadyErr says why a card sale cannot start now, or nil.
func (s *Service) cardReadyErr(ctx context.Context) error {
	if !s.cardRecovered() {
		return Errf(KindUnavailable, "tef.recovering", "Cartão indisponível por instantes: resolvendo transações pendentes no TEF. Tente Pix ou aguarde.")
	}
	return s.card.Ready(ctx)
}

// cardFlow runs a card sale: the approval is written before anything is printed; the manager
// is told to confirm only once the ticket (with the customer's receipt) printed, and to undo
// otherwise.
func (s *Service) cardFlow(id string, n int) error {
	select {
	case <-s.cardReady:
	case <-s.ctx.Done():
		return nil
	}
	s.cardMu.Lock()
	defer s.cardMu.Unlock()
	sess, err := s.Get(s.ctx, id)
	if err != nil {
		return err
	}
	a := sess.Attempt(n)
	if a.State == AttemptRequested {
		req := CardSale{Amount: a.Amount, Document: sess.Ticket, Method: a.Method, Installments: a.Card.Installments}
		res, err := s.cardSale(id, n, req)
		if err != nil && s.ctx.Err() != nil {
			return nil // the sale was under way when we stopped: the next start resolves it
		}
		// An answer is recorded even while stopping: an approval must never be lost.
		if sess, err = s.recordSale(id, n, res, err); err != nil {
			return err
		}
		a = sess.Attempt(n)
	}
	if a.State != AttemptApproved || s.ctx.Err() != nil {
		return nil // stopping after the approval was written: the next start resolves it
	}
	if charged := a.Card.Charged; charged != 0 && charged != a.Amount {
		return s.undoCard(id, n, Errf(KindUnavailable, "tef.amount_mismatch",
			"o valor aprovado (%s) difere do valor da compra (%s)", charged, a.Amount))
	}
	s.crashPoint("card.approved")
	perr := s.printTicket(id)
	if perr == nil {
		s.crashPoint("card.printed")
		// Printed: confirm even while stopping. ConfirmSent is written first, so a stop
		// before CNF is acknowledged resends it at the next start instead of undoing a sale
		// whose customer holds a ticket.
		return s.confirmCard(id, n)
	}
	if s.ctx.Err() != nil {
		return nil // not printed and stopping: undone at the next start
	}
	if !a.Card.NeedsConfirm {
		return s.keepUnconfirmable(id, n, false)
	}
	return s.undoCard(id, n, perr)
}

// keepUnconfirmable handles a sale the manager confirmed by itself (729-000 = 1) whose ticket
// did not print, or whose answer came back after the kiosk had given up on it: NCN cannot undo
// it, the money is taken. When the session can still take it (the amount is the purchase's and
// the session waits on this attempt, or is open with it as its latest), the session is paid and
// its ticket printed as soon as the printer can: here, or in the background (start-up recovery,
// which must go on with the other attempts). Otherwise (another amount, or the purchase was
// paid another way, cancelled or expired) nothing may be printed for it: the attempt records the
// sale as standing, the customer is told it will be given back, and an operator cancels it at
// the manager (tef.cancel_needed, listed by PendingCards).
func (s *Service) keepUnconfirmable(id string, n int, background bool) error {
	keep := false
	var reason string
	_, err := s.update(id, func(tx *journal.Tx, sess *Session) error {
		a := sess.Attempt(n)
		if a.State != AttemptApproved && a.State != AttemptUnknown {
			return errSkip
		}
		if a.State == AttemptUnknown {
			if err := tx.Delete(bucketCardUnknown, unknownKey(sess.ID, n)); err != nil {
				return err
			}
		}
		a.UpdatedAt = s.now()
		current := sess.waitingOn(n) || (sess.State == StateOpen && sess.Current().N == n)
		charged := a.Card.Charged
		if charged == 0 {
			charged = a.Amount
		}
		switch {
		case charged != a.Amount:
			reason = fmt.Sprintf("o valor aprovado (%s) difere do valor da compra (%s)", charged, a.Amount)
		case !current:
			reason = fmt.Sprintf("a compra já estava %s", stateText(sess.State))
		default:
			keep = true
			a.Message, a.Problem = "Pagamento aprovado. Retire seu ticket.", nil
			if err := a.setState(sess.ID, AttemptConfirmed); err != nil {
				return err
			}
			if sess.State == StateOpen {
				if err := sess.setState(StatePaying); err != nil {
					return err
				}
			}
			sess.PaidAt, sess.Problem = a.Card.ApprovedAt, nil
			return sess.setState(StatePaid)
		}
		msg := fmt.Sprintf("A transação rede %s, NSU %s, valor %s foi confirmada pelo TEF, mas não pôde ser usada nesta compra: %s. "+
			"O valor será estornado no cartão pelo atendimento; procure o atendente.", a.Card.Network, a.Card.NSU, charged, reason)
		return endAttempt(sess, n, AttemptConfirmed, &Problem{Code: codeCancelNeeded, Message: msg})
	})
	if errors.Is(err, errSkip) {
		return nil
	}
	if err != nil {
		return err
	}
	if !keep {
		s.log.Error("TEF: a sale the manager confirmed by itself cannot be used for its purchase: an operator must cancel it at the manager",
			"session", id, "attempt", n, "reason", reason)
		s.note(id, codeCancelNeeded, "Transação confirmada pelo próprio TEF que não pôde ser usada ("+reason+"): cancele-a no gerenciador "+
			"(totemd tef cancel) e encerre com totemd tef pending --action close.")
		return nil
	}
	s.note(id, "tef.kept", "Transação confirmada pelo próprio TEF (sem confirmação): mantida; o ticket sai assim que a impressora puder.")
	if !background {
		return s.fulfil(id)
	}
	s.goSafe(func() {
		if err := s.fulfil(id); err != nil && s.ctx.Err() == nil {
			s.log.Error("printing the ticket of a kept card sale", "session", id, "err", err)
		}
	})
	return nil
}

// codeCancelNeeded marks a card sale that stands at the manager (it confirmed it by itself) but
// could not be used for its purchase: an operator cancels it.
const codeCancelNeeded = "tef.cancel_needed"

// selfConfirmed reports whether attempt a holds a sale the manager confirmed by itself
// (729-000 = 1): known (approved, or unknown with its transaction learned) and needing no CNF.
func selfConfirmed(a *Attempt) bool {
	return a.Card != nil && !a.Card.NeedsConfirm &&
		(a.State == AttemptApproved || (a.State == AttemptUnknown && a.Card.NSU != ""))
}

// stateText is a session state for a person.
func stateText(st State) string {
	switch st {
	case StatePaid, StateFulfilled:
		return "paga de outra forma"
	case StateCancelled:
		return "cancelada"
	case StateExpired:
		return "encerrada por tempo"
	case StatePaidLate, StateRefunded:
		return "encerrada"
	}
	return "em outra tentativa de pagamento"
}

// cardSale sends the CRT. A refusal because another transaction is pending resolves that one
// (CNF if its customer got a ticket, else NCN) and tries again.
func (s *Service) cardSale(id string, n int, req CardSale) (CardResult, error) {
	progress := func(msg string) {
		_, _ = s.update(id, func(_ *journal.Tx, sess *Session) error {
			if a := sess.Attempt(n); a.State == AttemptRequested {
				a.Message = msg
			}
			return nil
		})
	}
	for round := 1; ; round++ {
		s.crashPoint("card.sale")
		res, err := s.card.Sale(s.ctx, req, progress)
		if err != nil || !res.Pending {
			if err == nil {
				s.settleUnknown(id, n) // the manager took a sale: nothing was pending before it
			}
			return res, err
		}
		s.log.Warn("card sale refused: the TEF manager holds a pending transaction; resolving it",
			"session", id, "network", res.Data.Network, "nsu", res.Data.NSU, "round", round)
		if round == maxPendingRounds {
			return res, nil
		}
		progress("Resolvendo uma transação pendente no TEF, aguarde...")
		if err := s.settlePending(res); err != nil {
			if s.ctx.Err() != nil {
				return CardResult{}, err
			}
			return CardResult{}, Errf(KindUnavailable, "tef.pending", "O TEF tem uma transação pendente que não pôde ser resolvida agora. Tente Pix ou chame o atendente.")
		}
	}
}

// recordSale writes the outcome of a CRT.
func (s *Service) recordSale(id string, n int, res CardResult, serr error) (*Session, error) {
	return s.update(id, func(tx *journal.Tx, sess *Session) error {
		a := sess.Attempt(n)
		if a.State != AttemptRequested {
			return errSkip
		}
		a.UpdatedAt = s.now()
		reopen := func(p *Problem, to AttemptState) error { return endAttempt(sess, n, to, p) }
		switch {
		case errors.Is(serr, ErrCardOutcomeUnknown):
			s.log.Error("card sale without an answer: outcome unknown until the TEF manager resolves it", "session", id, "attempt", n, "err", serr)
			if err := tx.Put(bucketCardUnknown, unknownKey(sess.ID, n), nil); err != nil {
				return err
			}
			return reopen(unknownProblem(), AttemptUnknown)
		case serr != nil:
			p := ProblemOf(serr)
			if p.Code == "internal" {
				p = &Problem{Code: "tef.unavailable", Message: "TEF não responde. Tente Pix ou chame o atendente."}
			}
			return reopen(p, AttemptAborted)
		case res.Pending:
			return reopen(&Problem{Code: "tef.pending", Message: "O TEF tem uma transação pendente que não pôde ser resolvida agora. Tente Pix ou chame o atendente."}, AttemptAborted)
		case !res.Approved:
			msg := res.Message
			if msg == "" {
				msg = "Transação não aprovada."
			}
			a.Card.Network, a.Card.Brand = res.Data.Network, res.Data.Brand
			return reopen(&Problem{Code: "tef.declined", Message: msg}, AttemptDeclined)
		}
		inst := a.Card.Installments
		*a.Card = res.Data
		a.Card.Installments = max(inst, res.Data.Installments)
		a.Card.Charged = res.Amount
		a.Card.ApprovedAt = s.now().UTC()
		a.Message = "Transação aprovada. Imprimindo o ticket..."
		return a.setState(sess.ID, AttemptApproved)
	})
}

// endAttempt moves card attempt n to state to with problem p, which the customer is told: a
// session waiting on n reopens, and one open with n as its latest attempt shows p (an outcome
// settled after the customer was given the kiosk back).
func endAttempt(sess *Session, n int, to AttemptState, p *Problem) error {
	a := sess.Attempt(n)
	a.Message, a.Problem = p.Message, p
	if err := a.setState(sess.ID, to); err != nil {
		return err
	}
	if sess.waitingOn(n) {
		sess.Problem = p
		return sess.setState(StateOpen)
	}
	if sess.State == StateOpen && sess.Current().N == n {
		sess.Problem = p
	}
	return nil
}

func unknownProblem() *Problem {
	return &Problem{Code: "tef.unknown", Message: "Não recebemos a resposta do TEF. Se a transação foi aprovada, ela será " +
		"desfeita automaticamente antes do próximo pagamento com cartão: nada ficará cobrado. Tente novamente ou pague com Pix."}
}

// confirmCard writes ConfirmSent, sends CNF for a printed ticket and marks the session paid and
// fulfilled: the customer has the ticket. The attempt becomes confirmed only once the manager
// acknowledged CNF; until then it stays approved and CNF is retried (here, and at every start).
func (s *Service) confirmCard(id string, n int) error {
	sess, err := s.update(id, func(_ *journal.Tx, sess *Session) error {
		sess.Attempt(n).Card.ConfirmSent = true // written before CNF leaves: recovery knows it may have
		return nil
	})
	if err != nil {
		return err
	}
	s.crashPoint("card.confirm_sent")
	a := sess.Attempt(n)
	var cerr error
	if a.Card.NeedsConfirm {
		res := CardResult{Approved: true, Amount: a.Amount, Data: *a.Card}
		for try := 0; try < 3; try++ {
			if try > 0 && !s.sleep(time.Duration(try)*time.Second, nil) {
				cerr = s.ctx.Err()
				break
			}
			var decision string
			if decision, cerr = s.sendDecision(res, decideConfirm, id, n); cerr == nil && decision != decideConfirm {
				// Resolved the other way before (an operator's undo): the ticket is out, but
				// the sale does not stand. Recorded as it is.
				return s.settle(id, n, decideUndo, nil)
			}
			if cerr == nil {
				break
			}
		}
		if cerr == nil {
			s.crashPoint("card.confirmed")
		}
	}
	// The customer holds the ticket: the session is paid and fulfilled whatever CNF's fate;
	// the attempt is confirmed once the manager acknowledged CNF.
	if _, err := s.update(id, func(_ *journal.Tx, sess *Session) error {
		a := sess.Attempt(n)
		if cerr == nil && a.State == AttemptApproved {
			a.UpdatedAt = s.now()
			if err := a.setState(sess.ID, AttemptConfirmed); err != nil {
				return err
			}
		}
		return fulfilled(sess, n)
	}); err != nil {
		return err
	}
	s.printMerchantCopy(id, n)
	if cerr == nil || s.ctx.Err() != nil {
		return nil
	}
	s.log.Error("card confirmation (CNF) not acknowledged; retrying", "session", id, "nsu", sess.Attempt(n).Card.NSU, "err", cerr)
	s.note(id, "tef.confirm_pending", "Confirmação (CNF) ainda não aceita pelo TEF: nova tentativa automática.")
	s.goSafe(func() {
		for try := 0; ; try++ {
			if !s.sleep(backoff(try), nil) {
				return // retried at the next start
			}
			s.cardMu.Lock()
			err := s.settle(id, n, decideConfirm, nil)
			s.cardMu.Unlock()
			if err == nil {
				return
			}
		}
	})
	return nil
}

// printMerchantCopy prints the merchant's copy of a confirmed sale when the config asks for
// it. A failure is logged and noted: the copy stays in the journal, and the customer already
// has the ticket.
func (s *Service) printMerchantCopy(id string, n int) {
	rp, ok := s.printer.(ReceiptPrinter)
	if !s.cfg.PrintMerchantCopy || !ok {
		return
	}
	sess, err := s.Get(s.ctx, id)
	if err != nil {
		return
	}
	a := sess.Attempt(n)
	if a == nil || a.Card == nil || len(a.Card.MerchantReceipt) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, callTimeout)
	defer cancel()
	if err := rp.PrintReceipt(ctx, id, sess.Ticket, a.Card.MerchantReceipt, "VIA ESTABELECIMENTO"); err != nil {
		s.log.Warn("merchant copy not printed (kept in the journal)", "session", id, "err", err)
		s.note(id, "tef.merchant_copy_not_printed", "Via do estabelecimento não impressa: "+ProblemOf(err).Message)
	}
}

// fulfilCard marks the session of a printed card sale paid and fulfilled.
func (s *Service) fulfilCard(id string, n int) (*Session, error) {
	return s.update(id, func(_ *journal.Tx, sess *Session) error { return fulfilled(sess, n) })
}

// fulfilled moves a session still waiting on card attempt n, whose ticket printed, to paid and
// fulfilled.
func fulfilled(sess *Session, n int) error {
	if !sess.waitingOn(n) {
		return nil
	}
	a := sess.Attempt(n)
	a.Message = "Pagamento aprovado. Retire seu ticket."
	sess.PaidAt = a.Card.ApprovedAt
	if sess.PaidAt.IsZero() {
		sess.PaidAt = a.UpdatedAt.UTC() // written before approved_at existed
	}
	sess.Problem = nil
	if err := sess.setState(StatePaid); err != nil {
		return err
	}
	return sess.setState(StateFulfilled)
}

// undoCard sends NCN for an approved sale whose ticket could not be printed, until the
// manager acknowledges it, and tells the customer the transaction was cancelled, with network,
// NSU and amount. Until then the sale may still stand, so the attempt stays approved and the
// session takes no other payment. A stop resumes it at the next start.
func (s *Service) undoCard(id string, n int, cause error) error {
	for try := 0; ; try++ {
		err := s.settle(id, n, decideUndo, cause)
		if err == nil {
			return nil
		}
		if s.ctx.Err() != nil {
			return nil
		}
		s.log.Error("card undo (NCN) not acknowledged; retrying", "session", id, "attempt", n, "err", err)
		if try == 0 {
			_, _ = s.update(id, func(_ *journal.Tx, sess *Session) error {
				a := sess.Attempt(n)
				a.Message = "Não foi possível imprimir o ticket. Cancelando a transação no TEF, aguarde..."
				a.Problem = &Problem{Code: "tef.undo_pending", Message: a.Message}
				return nil
			})
		}
		if !s.sleep(backoff(try), nil) {
			return nil
		}
	}
}

// settle sends the decision (CNF or NCN) for attempt n of session id and, once the manager
// acknowledged it, records it: the resolution, the attempt's new state, the session's, and a
// note. An attempt already resolved is left as it is (nil). A transaction already resolved
// the other way keeps its first decision.
func (s *Service) settle(id string, n int, decision string, cause error) error {
	sess, err := s.Get(s.ctx, id)
	if err != nil {
		return err
	}
	a := sess.Attempt(n)
	if a == nil || a.Card == nil || (a.State != AttemptApproved && a.State != AttemptUnknown) {
		return nil
	}
	switch {
	case selfConfirmed(a) && decision == decideUndo:
		// 729-000 = 1: the manager needs no CNF or NCN. A sale it confirmed by itself cannot
		// be undone by NCN: it stands, and only a cancellation (CNC) gives the money back.
		return s.keepUnconfirmable(id, n, true)
	case selfConfirmed(a):
		// Confirming one (its ticket printed): nothing to send; recorded below.
	default:
		res := CardResult{Approved: true, Amount: a.Amount, Data: *a.Card}
		if decision, err = s.sendDecision(res, decision, id, n); err != nil {
			return err
		}
	}
	_, err = s.update(id, func(tx *journal.Tx, sess *Session) error {
		a := sess.Attempt(n)
		if a.State != AttemptApproved && a.State != AttemptUnknown {
			return errSkip
		}
		a.UpdatedAt = s.now()
		if a.State == AttemptUnknown {
			if err := tx.Delete(bucketCardUnknown, unknownKey(sess.ID, n)); err != nil {
				return err
			}
		}
		if decision == decideConfirm {
			a.Message = "Pagamento aprovado. Retire seu ticket."
			return a.setState(sess.ID, AttemptConfirmed)
		}
		reason := "a transação não foi concluída"
		if cause != nil {
			reason = "não foi possível imprimir o ticket (" + ProblemOf(cause).Message + ")"
		}
		msg := fmt.Sprintf("Transação cancelada: rede %s, NSU %s, valor %s. Motivo: %s. Nada foi cobrado.",
			a.Card.Network, a.Card.NSU, a.Amount, reason)
		return endAttempt(sess, n, AttemptUndone, &Problem{Code: "tef.undone", Message: msg})
	})
	if errors.Is(err, errSkip) {
		return nil
	}
	return err
}

// sendDecision sends CNF or NCN for res unless the transaction was resolved already, in which
// case the first decision is sent again (a manager that lost our answer asks again; it must
// hear the same thing). It returns the decision sent.
func (s *Service) sendDecision(res CardResult, decision, id string, n int) (string, error) {
	key := txKey(res.Data)
	var prev resolution
	err := s.store.View(func(tx *journal.Tx) error {
		if v := tx.Get(bucketTEFResolved, key); v != nil {
			return json.Unmarshal(v, &prev)
		}
		return nil
	})
	if err != nil {
		return "", storageErr(err)
	}
	if prev.Decision != "" && prev.Decision != decision {
		s.log.Error("TEF transaction already resolved the other way: sending the first decision again",
			"network", res.Data.Network, "nsu", res.Data.NSU, "first", prev.Decision, "now", decision)
		decision = prev.Decision
	}
	ctx, cancel := context.WithTimeout(s.ctx, callTimeout)
	defer cancel()
	if decision == decideConfirm {
		err = s.card.Confirm(ctx, res)
	} else {
		err = s.card.Undo(ctx, res)
	}
	if err != nil {
		return "", err
	}
	if prev.Decision != "" {
		return decision, nil
	}
	rec, _ := json.Marshal(resolution{Decision: decision, Network: res.Data.Network, NSU: res.Data.NSU,
		Finalizacao: res.Data.Ref[refFinalizacao], Amount: res.Amount, SessionID: id, Attempt: n, At: s.now().UTC()})
	_, err = s.store.Update(func(tx *journal.Tx) error { return tx.Put(bucketTEFResolved, key, rec) })
	if err != nil {
		return "", storageErr(err)
	}
	if id != "" {
		verb := "confirmada (CNF)"
		if decision == decideUndo {
			verb = "desfeita (NCN)"
		}
		s.note(id, "tef.resolved", fmt.Sprintf("Transação rede %s NSU %s, valor %s: %s.", res.Data.Network, res.Data.NSU, res.Amount, verb))
	}
	return decision, nil
}

// cardRef is one card attempt found in the journal.
type cardRef struct {
	id string
	n  int
	a  Attempt
}

// findCard returns the attempt whose transaction is the one the manager names (pend: network,
// NSU, finalização, amount), if any. NSUs repeat (six digits wrap), so a finalização or an
// amount that differs means another transaction.
func (s *Service) findCard(pend CardResult) (*cardRef, error) {
	network, nsu := pend.Data.Network, pend.Data.NSU
	fin := pend.Data.Ref[refFinalizacao]
	var found *cardRef
	err := s.store.View(func(tx *journal.Tx) error {
		return tx.ForEachReverse(journal.BucketSessions, func(k string, v []byte) error {
			var sess Session
			if err := json.Unmarshal(v, &sess); err != nil {
				return fmt.Errorf("session %s: %w", k, err)
			}
			for _, a := range sess.Attempts {
				if a.Card == nil || nsu == "" || a.Card.NSU != nsu || a.Card.Network != network {
					continue
				}
				if f := a.Card.Ref[refFinalizacao]; f != "" && fin != "" && f != fin {
					continue
				}
				if charged := cmp.Or(a.Card.Charged, a.Amount); pend.Amount != 0 && charged != pend.Amount {
					continue
				}
				found = &cardRef{sess.ID, a.N, a}
				return journal.Stop
			}
			return nil
		})
	})
	if err != nil {
		return nil, storageErr(err)
	}
	return found, nil
}

// unknownCards lists the attempts in state unknown, oldest first.
func (s *Service) unknownCards() ([]cardRef, error) {
	var keys []string
	err := s.store.View(func(tx *journal.Tx) error {
		return tx.ForEach(bucketCardUnknown, func(k string, _ []byte) error {
			keys = append(keys, k)
			return nil
		})
	})
	if err != nil {
		return nil, storageErr(err)
	}
	var out []cardRef
	for _, k := range keys {
		id, num, _ := strings.Cut(k, "#")
		n, err := strconv.Atoi(num)
		if err != nil {
			s.log.Error("a malformed key in the unknown card attempts index: ignored", "key", k)
			continue
		}
		sess, err := s.Get(s.ctx, id)
		if err != nil {
			continue
		}
		if a := sess.Attempt(n); a != nil && a.State == AttemptUnknown {
			out = append(out, cardRef{id, n, *a})
		}
	}
	return out, nil
}

// settlePending resolves the transaction a pending refusal names: CNF when it is a sale whose
// customer got a verified ticket (the policy: the service was paid for), NCN otherwise. An
// unknown transaction is taken for the oldest card attempt whose answer was lost.
func (s *Service) settlePending(res CardResult) error {
	pend := CardResult{Approved: true, Amount: res.Amount, Data: res.Data}
	if pend.Amount == 0 {
		if cents, err := parseCents(res.Data.Ref[refAmount]); err == nil {
			pend.Amount = cents
		}
	}
	ref, err := s.findCard(pend)
	if err != nil {
		return err
	}
	if ref != nil {
		decision := decideUndo
		if ref.a.State == AttemptConfirmed || ref.a.Card.ConfirmSent {
			decision = decideConfirm
		}
		if ref.a.State == AttemptApproved || ref.a.State == AttemptUnknown {
			return s.settle(ref.id, ref.n, decision, nil)
		}
		_, err := s.sendDecision(CardResult{Approved: true, Amount: ref.a.Amount, Data: *ref.a.Card}, decision, ref.id, ref.n)
		return err
	}
	// A transaction whose approval never reached us: nobody got a ticket for it.
	unknown, err := s.unknownCards()
	if err != nil {
		return err
	}
	i := slices.IndexFunc(unknown, func(u cardRef) bool { return pend.Amount == 0 || u.a.Amount == pend.Amount })
	if i < 0 {
		s.log.Warn("TEF pending transaction matches no card attempt: undoing it (nobody got a ticket for it)",
			"network", res.Data.Network, "nsu", res.Data.NSU, "amount", pend.Amount)
		_, err := s.sendDecision(pend, decideUndo, "", 0)
		return err
	}
	u := unknown[i]
	// The attempt learns its transaction, then is undone like any other.
	_, err = s.update(u.id, func(_ *journal.Tx, sess *Session) error {
		a := sess.Attempt(u.n)
		if a.State != AttemptUnknown {
			return errSkip
		}
		inst := a.Card.Installments
		*a.Card = res.Data
		a.Card.Installments = inst
		a.Card.NeedsConfirm = true
		a.Card.Charged = pend.Amount
		return nil
	})
	if err != nil && !errors.Is(err, errSkip) {
		return err
	}
	s.note(u.id, "tef.pending_found", fmt.Sprintf("O TEF informou a transação pendente desta tentativa (rede %s, NSU %s): será desfeita.",
		res.Data.Network, res.Data.NSU))
	return s.settle(u.id, u.n, decideUndo, nil)
}

// settleUnknown closes the attempts whose answer was lost once the manager took a new sale:
// a manager holding a pending transaction takes none, so nothing of theirs stands.
func (s *Service) settleUnknown(exceptID string, exceptN int) {
	unknown, err := s.unknownCards()
	if err != nil {
		s.log.Error("listing card attempts without an answer", "err", err)
		return
	}
	for _, u := range unknown {
		if u.id == exceptID && u.n == exceptN {
			continue
		}
		_, err := s.update(u.id, func(tx *journal.Tx, sess *Session) error {
			a := sess.Attempt(u.n)
			if a.State != AttemptUnknown {
				return errSkip
			}
			if err := tx.Delete(bucketCardUnknown, unknownKey(sess.ID, u.n)); err != nil {
				return err
			}
			a.UpdatedAt = s.now()
			a.Message = "O TEF não tinha transação pendente desta tentativa: nada foi cobrado."
			a.Problem = &Problem{Code: "tef.not_charged", Message: a.Message}
			if sess.State == StateOpen && sess.Current().N == u.n {
				sess.Problem = a.Problem
			}
			return a.setState(sess.ID, AttemptAborted)
		})
		if err != nil && !errors.Is(err, errSkip) {
			s.log.Error("closing a card attempt without an answer", "session", u.id, "attempt", u.n, "err", err)
			continue
		}
		if err == nil {
			s.note(u.id, "tef.not_charged", "O TEF aceitou uma nova venda, logo não guardava transação pendente desta tentativa: nada foi cobrado.")
		}
	}
}

func parseCents(s string) (Money, error) {
	var c int64
	if s == "" {
		return 0, errors.New("empty")
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("amount %q: not integer centavos", s)
		}
		c = c*10 + int64(r-'0')
		if c > 1<<40 {
			return 0, fmt.Errorf("amount %q: too large", s)
		}
	}
	return Money(c), nil
}

// recoverCards resolves, at start and before any card sale, what a stop or a crash left with
// the manager (TEF-DIAL.md, "Pending transactions"): the leftover answers it kept, sales sent
// and never answered, approvals never confirmed or undone. Card sales wait until it is done.
func (s *Service) recoverCards(leftovers []CardResult) {
	s.cardMu.Lock()
	defer s.cardMu.Unlock()
	for _, lo := range leftovers {
		if err := s.recoverLeftover(lo); err != nil {
			s.log.Error("recovering a leftover TEF answer", "nsu", lo.Data.NSU, "err", err)
		}
	}
	for try := 0; ; try++ {
		refs, err := s.cardsToRecover()
		if err != nil {
			s.log.Error("listing card attempts to recover", "err", err)
		}
		left := 0
		for _, r := range refs {
			if err := s.recoverCard(r); err != nil {
				left++
				if s.ctx.Err() == nil {
					s.log.Error("recovering card attempt; retrying", "session", r.id, "attempt", r.n, "err", err)
				}
			}
		}
		if err == nil && left == 0 {
			close(s.cardReady)
			return
		}
		if !s.sleep(backoff(try), nil) {
			return
		}
	}
}

// cardsToRecover lists the card attempts a stop left in the middle: requested, approved, or
// unknown with a known transaction.
func (s *Service) cardsToRecover() ([]cardRef, error) {
	var out []cardRef
	err := s.store.View(func(tx *journal.Tx) error {
		return tx.ForEach(journal.BucketSessions, func(k string, v []byte) error {
			var sess Session
			if err := json.Unmarshal(v, &sess); err != nil {
				return fmt.Errorf("session %s: %w", k, err)
			}
			for _, a := range sess.Attempts {
				switch {
				case !a.Method.Card() || a.Card == nil:
				case a.State == AttemptRequested, a.State == AttemptApproved,
					a.State == AttemptUnknown && a.Card.NSU != "":
					out = append(out, cardRef{sess.ID, a.N, a})
				}
			}
			return nil
		})
	})
	if err != nil {
		return nil, storageErr(err)
	}
	return out, nil
}

// recoverCard settles one attempt.
func (s *Service) recoverCard(r cardRef) error {
	a := r.a
	switch {
	case a.State == AttemptRequested:
		// The sale was with the manager when we stopped and no answer was kept: it may stand
		// there as a pending transaction, resolved before the next card sale.
		_, err := s.update(r.id, func(tx *journal.Tx, sess *Session) error {
			a := sess.Attempt(r.n)
			if a.State != AttemptRequested {
				return errSkip
			}
			if err := tx.Put(bucketCardUnknown, unknownKey(sess.ID, r.n), nil); err != nil {
				return err
			}
			p := unknownProblem()
			a.Message, a.Problem, a.UpdatedAt = p.Message, p, s.now()
			if err := a.setState(sess.ID, AttemptUnknown); err != nil {
				return err
			}
			if sess.waitingOn(r.n) {
				sess.Problem = p
				return sess.setState(StateOpen)
			}
			return nil
		})
		if errors.Is(err, errSkip) {
			return nil
		}
		if err == nil {
			s.note(r.id, "tef.recovered_unknown", "O totem reiniciou durante a venda com cartão, sem resposta do TEF: "+
				"uma transação pendente será desfeita antes da próxima venda com cartão.")
		}
		return err
	case a.State == AttemptUnknown:
		return s.settle(r.id, r.n, decideUndo, nil)
	case a.Card.ConfirmSent:
		// The ticket printed and CNF may have left: the sale stands. Confirm again (harmless).
		if err := s.settle(r.id, r.n, decideConfirm, nil); err != nil {
			return err
		}
		if _, err := s.fulfilCard(r.id, r.n); err != nil {
			return err
		}
		s.note(r.id, "tef.recovered_confirmed", "Transação confirmada após reinício (o ticket já havia sido impresso).")
		return nil
	}
	sess, err := s.Get(s.ctx, r.id)
	if err != nil {
		return err
	}
	if sess.TicketPrints > 0 {
		printed, err := s.printer.TicketPrinted(s.ctx, r.id)
		if err != nil {
			return err
		}
		if printed {
			// The ticket came out before the stop and CNF never left: the customer holds it.
			if _, err := s.update(r.id, func(_ *journal.Tx, sess *Session) error {
				sess.Attempt(r.n).Card.ConfirmSent = true
				return nil
			}); err != nil {
				return err
			}
			if err := s.settle(r.id, r.n, decideConfirm, nil); err != nil {
				return err
			}
			if _, err := s.fulfilCard(r.id, r.n); err != nil {
				return err
			}
			s.note(r.id, "tef.recovered_confirmed", "Transação confirmada após reinício: o ticket havia sido impresso antes da confirmação.")
			return nil
		}
	}
	if !a.Card.NeedsConfirm {
		// Confirmed by the manager itself and no verified ticket: the money is taken, so the
		// session is paid and its ticket printed.
		return s.keepUnconfirmable(r.id, r.n, true)
	}
	// Approved but no verified ticket: the customer has nothing. Undo.
	if err := s.settle(r.id, r.n, decideUndo, Errf(KindUnavailable, "service.restarted", "o totem reiniciou")); err != nil {
		return err
	}
	s.note(r.id, "tef.recovered_undone", "Transação desfeita (NCN) após reinício: o ticket não havia sido impresso.")
	return nil
}

// recoverLeftover applies an answer the manager kept from before the stop to the attempt it
// belongs to (same ticket number and amount, still requested or unknown).
func (s *Service) recoverLeftover(lo CardResult) error {
	refs, err := s.cardsToRecover()
	if err != nil {
		return err
	}
	unknown, err := s.unknownCards()
	if err != nil {
		return err
	}
	refs = append(refs, unknown...)
	var match *cardRef
	for i := range refs {
		r := &refs[i]
		if r.a.State != AttemptRequested && r.a.State != AttemptUnknown {
			continue
		}
		sess, err := s.Get(s.ctx, r.id)
		if err != nil {
			return err
		}
		if sess.Ticket == lo.Document && (lo.Amount == 0 || lo.Amount == r.a.Amount) {
			match = r
			break
		}
	}
	s.log.Info("TEF: leftover answer from before the restart", "document", lo.Document, "status", lo.Code,
		"network", lo.Data.Network, "nsu", lo.Data.NSU, "matched", match != nil)
	if match == nil {
		if lo.Approved && lo.Data.NeedsConfirm {
			_, err := s.sendDecision(lo, decideUndo, "", 0)
			return err
		}
		if lo.Approved {
			s.log.Error("TEF: a sale the manager confirmed by itself matches no session: check it in the manager's report and cancel it (totemd tef cancel)",
				"network", lo.Data.Network, "nsu", lo.Data.NSU, "amount", lo.Amount, "document", lo.Document)
		}
		return nil
	}
	id, n := match.id, match.n
	if !lo.Approved {
		_, err := s.update(id, func(tx *journal.Tx, sess *Session) error {
			a := sess.Attempt(n)
			if a.State != AttemptRequested && a.State != AttemptUnknown {
				return errSkip
			}
			if err := tx.Delete(bucketCardUnknown, unknownKey(sess.ID, n)); err != nil {
				return err
			}
			to, msg := AttemptDeclined, lo.Message
			if strings.EqualFold(lo.Code, "FF") {
				to, msg = AttemptAborted, "Operação cancelada no TEF antes do reinício: nada foi cobrado."
			}
			if msg == "" {
				msg = "Transação não aprovada."
			}
			a.Message, a.Problem, a.UpdatedAt = msg, &Problem{Code: "tef.declined", Message: msg}, s.now()
			if err := a.setState(sess.ID, to); err != nil {
				return err
			}
			if sess.waitingOn(n) {
				sess.Problem = a.Problem
				return sess.setState(StateOpen)
			}
			return nil
		})
		if errors.Is(err, errSkip) {
			return nil
		}
		if err == nil {
			s.note(id, "tef.leftover", "Resposta do TEF encontrada após reinício: transação não aprovada ("+lo.Code+").")
		}
		return err
	}
	// Approved: the attempt learns its transaction. Without CNF it must be undone (the
	// customer got no ticket); one the manager confirmed by itself stands and is fulfilled.
	_, err = s.update(id, func(tx *journal.Tx, sess *Session) error {
		a := sess.Attempt(n)
		if a.State != AttemptRequested && a.State != AttemptUnknown {
			return errSkip
		}
		inst := a.Card.Installments
		*a.Card = lo.Data
		a.Card.Installments = max(inst, lo.Data.Installments)
		a.Card.Charged = lo.Amount
		a.Card.ApprovedAt = s.now().UTC()
		a.UpdatedAt = s.now()
		if a.State == AttemptUnknown {
			if err := tx.Delete(bucketCardUnknown, unknownKey(sess.ID, n)); err != nil {
				return err
			}
		}
		if a.State == AttemptRequested {
			return a.setState(sess.ID, AttemptApproved)
		}
		// unknown: approved is not an edge back; settle takes unknown like approved.
		return nil
	})
	if errors.Is(err, errSkip) {
		return nil
	}
	if err != nil {
		return err
	}
	s.note(id, "tef.leftover", fmt.Sprintf("Resposta do TEF encontrada após reinício: aprovada (rede %s, NSU %s).", lo.Data.Network, lo.Data.NSU))
	return nil // recoverCard (Approved, CNF never sent) undoes it, or keeps one that needs no CNF
}

// PendingCard is a card attempt not settled with the manager, for the operator.
type PendingCard struct {
	SessionID   string       `json:"session_id"`
	Attempt     int          `json:"attempt"`
	State       AttemptState `json:"state"`
	Ticket      string       `json:"ticket,omitempty"`
	Amount      Money        `json:"amount_cents"`
	Network     string       `json:"network,omitempty"`
	NSU         string       `json:"nsu,omitempty"`
	ConfirmSent bool         `json:"confirm_sent,omitempty"`
	Problem     string       `json:"problem,omitempty"` // the attempt's problem code (tef.cancel_needed...)
	UpdatedAt   time.Time    `json:"updated_at"`
	// Actions the operator may take: undo (NCN), confirm (CNF, only once the ticket printed),
	// close (an unknown outcome the manager's report shows was never approved, or a sale
	// marked tef.cancel_needed once the operator cancelled it at the manager).
	Actions []string `json:"actions"`
}

// PendingCards lists the card attempts not settled with the manager: requested (a sale under
// way), approved (CNF or NCN not acknowledged yet) and unknown (no answer).
func (s *Service) PendingCards(ctx context.Context) ([]PendingCard, error) {
	var out []PendingCard
	err := s.store.View(func(tx *journal.Tx) error {
		return tx.ForEach(journal.BucketSessions, func(k string, v []byte) error {
			var sess Session
			if err := json.Unmarshal(v, &sess); err != nil {
				return fmt.Errorf("session %s: %w", k, err)
			}
			for _, a := range sess.Attempts {
				if !a.Method.Card() || a.Card == nil {
					continue
				}
				p := PendingCard{SessionID: sess.ID, Attempt: a.N, State: a.State, Ticket: sess.Ticket, Amount: a.Amount,
					Network: a.Card.Network, NSU: a.Card.NSU, ConfirmSent: a.Card.ConfirmSent, UpdatedAt: a.UpdatedAt}
				switch {
				case a.State == AttemptRequested:
					p.Actions = []string{}
				case a.State == AttemptApproved && a.Card.ConfirmSent:
					p.Actions = []string{"confirm"}
				case a.State == AttemptApproved:
					p.Actions = []string{"undo"}
				case a.State == AttemptUnknown && a.Card.NSU != "":
					p.Actions = []string{"undo"}
				case a.State == AttemptUnknown:
					p.Actions = []string{"close"}
				case a.State == AttemptConfirmed && a.Problem != nil && a.Problem.Code == codeCancelNeeded:
					p.Actions = []string{"close"} // once an operator cancelled it at the manager
					p.Problem = codeCancelNeeded
				default:
					continue
				}
				out = append(out, p)
			}
			return nil
		})
	})
	if err != nil {
		return nil, storageErr(err)
	}
	return out, nil
}

// ResolveCard settles a pending card attempt by hand (the operator, after checking the
// manager's report): "undo" sends NCN, "confirm" sends CNF for a sale whose ticket printed,
// "close" ends an unknown outcome the manager shows was never approved, or records that a
// sale the manager confirmed by itself but no purchase could use (tef.cancel_needed) was
// cancelled at the manager.
func (s *Service) ResolveCard(ctx context.Context, id string, n int, action string) (*Session, error) {
	if s.card == nil {
		return nil, Errf(KindUnavailable, "tef.not_configured", "Pagamento com cartão não está configurado neste totem.")
	}
	// Under cardMu from here: what is allowed is judged on the state the action will act on.
	s.cardMu.Lock()
	defer s.cardMu.Unlock()
	sess, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	a := sess.Attempt(n)
	if a == nil || !a.Method.Card() || a.Card == nil {
		return nil, Errf(KindNotFound, "tef.attempt_not_found", "A sessão %s não tem tentativa com cartão %d.", id, n)
	}
	pending, err := s.PendingCards(ctx)
	if err != nil {
		return nil, err
	}
	allowed := []string{}
	for _, p := range pending {
		if p.SessionID == id && p.Attempt == n {
			allowed = p.Actions
		}
	}
	if !slices.Contains(allowed, action) {
		possible := strings.Join(allowed, ", ")
		if possible == "" {
			possible = "nenhuma (nada a resolver)"
		}
		return nil, Errf(KindConflict, "tef.action_not_allowed", "Ação %q não se aplica à tentativa %d (estado %s); ações possíveis: %s.",
			action, n, a.State, possible)
	}
	switch action {
	case "undo":
		err = s.settle(id, n, decideUndo, Errf(KindUnavailable, "operator.undo", "desfeita pelo operador"))
	case "confirm":
		if err = s.settle(id, n, decideConfirm, nil); err == nil {
			_, err = s.fulfilCard(id, n)
		}
	case "close":
		_, err = s.update(id, func(tx *journal.Tx, sess *Session) error {
			a := sess.Attempt(n)
			if a.State == AttemptConfirmed && a.Problem != nil && a.Problem.Code == codeCancelNeeded {
				a.Message = fmt.Sprintf("Cancelada pelo operador no TEF (rede %s, NSU %s): valor estornado no cartão.", a.Card.Network, a.Card.NSU)
				a.Problem, a.UpdatedAt = &Problem{Code: "tef.cancelled", Message: a.Message}, s.now()
				if sess.Problem != nil && sess.Problem.Code == codeCancelNeeded {
					sess.Problem = a.Problem
				}
				return nil
			}
			if a.State != AttemptUnknown {
				return errSkip
			}
			if err := tx.Delete(bucketCardUnknown, unknownKey(sess.ID, n)); err != nil {
				return err
			}
			a.Message = "Encerrada pelo operador: o TEF não registra esta transação."
			a.Problem, a.UpdatedAt = &Problem{Code: "tef.not_charged", Message: a.Message}, s.now()
			return a.setState(sess.ID, AttemptAborted)
		})
		if errors.Is(err, errSkip) {
			err = nil
		}
	}
	if err != nil {
		return nil, err
	}
	s.note(id, "tef.operator_"+action, fmt.Sprintf("Tentativa %d resolvida pelo operador: %s.", n, action))
	return s.Get(ctx, id)
}
