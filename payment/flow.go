package payment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/totemd/totemd/payment/pix"
	"github.com/totemd/totemd/sync/journal"
)

// callTimeout bounds every single call to the PSP or the printer made by a flow.
const callTimeout = 30 * time.Second

// spawn runs the flow of attempt n of a session in the background, at most once at a time.
// Flows are per attempt: an abandoned Pix charge is still watched for a late payment while the
// customer tries another attempt.
func (s *Service) spawn(id string, n int) {
	key := fmt.Sprintf("%s#%d", id, n)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return // persisted: resumed at the next start
	}
	if ch, busy := s.running[key]; busy {
		select {
		case ch <- struct{}{}:
		default:
		}
		return
	}
	wake := make(chan struct{}, 1)
	s.running[key] = wake
	s.wg.Go(func() { // under s.mu with closing false: never after Close began waiting
		defer func() {
			s.mu.Lock()
			delete(s.running, key)
			s.mu.Unlock()
		}()
		// A flow that fails (the journal, a bug) is started again after a pause: a paid
		// session must not wait for the next restart to get its ticket.
		for try := 0; ; try++ {
			err := s.flow(id, n, wake)
			if err == nil || s.ctx.Err() != nil {
				return
			}
			s.log.Error("payment flow failed; starting it again", "session", id, "attempt", n, "err", err)
			if !s.sleep(backoff(try), nil) {
				return
			}
		}
	})
}

// wake nudges the running flows of a session to look again now (a cancel, a relayed Pix hint).
func (s *Service) wake(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for key, ch := range s.running {
		if strings.HasPrefix(key, id+"#") {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}

// sleep waits d, a wake-up or the end of the service; false when the service stops.
func (s *Service) sleep(d time.Duration, wake <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-s.ctx.Done():
		return false
	case <-wake:
		return true
	case <-t.C:
		return true
	}
}

func (s *Service) flow(id string, n int, wake <-chan struct{}) error {
	sess, err := s.Get(s.ctx, id)
	if err != nil {
		return err
	}
	a := sess.Attempt(n)
	if a == nil {
		return fmt.Errorf("attempt %d does not exist", n)
	}
	if a.Method == MethodPix {
		return s.pixFlow(id, n, wake)
	}
	return s.cardFlow(id, n)
}

// pixFlow creates the charge (again, harmlessly, after a crash: the txid is derived) and
// watches it until it ends: paid, expired by our clock, removed, or abandoned and watched for a
// late payment until LateWatch runs out.
func (s *Service) pixFlow(id string, n int, wake <-chan struct{}) error {
	sess, err := s.Get(s.ctx, id)
	if err != nil {
		return err
	}
	if s.pix == nil {
		return s.pixUnconfigured(sess, n)
	}
	if a := sess.Attempt(n); a.State == AttemptCreating {
		if err := s.createCharge(sess, a, wake); err != nil {
			return err
		}
	}
	interval := s.cfg.PixPoll
	cancelled := false
	// quietUntil is when the PSP allows the next call (its Retry-After). Until then the flow
	// still wakes every interval to act on our own clock (expiry), without calling the PSP.
	var quietUntil time.Time
	for {
		sess, err := s.Get(s.ctx, id)
		if err != nil {
			return err
		}
		a := sess.Attempt(n)
		if a.State.Final() {
			if a.State == AttemptConcluded {
				return s.afterPaid(id)
			}
			return nil
		}
		now := s.now()
		abandoned := sess.State != StatePaying || sess.Current().N != n
		expired := !now.Before(a.Pix.ExpiresAt)
		if now.Before(quietUntil) {
			if expired && !abandoned {
				if err := s.releaseExpired(id, n); err != nil {
					return err
				}
			}
			if !s.sleep(min(interval, quietUntil.Sub(now)), wake) {
				return nil
			}
			continue
		}
		if (abandoned || expired) && !cancelled {
			ctx, cancel := context.WithTimeout(s.ctx, callTimeout)
			err := s.pix.CancelCharge(ctx, a.Pix.TxID)
			cancel()
			cancelled = err == nil
			if err != nil {
				s.log.Warn("pix cancel failed; watching for a late payment", "session", id, "txid", a.Pix.TxID, "err", err)
			}
		}
		ctx, cancel := context.WithTimeout(s.ctx, callTimeout)
		st, err := s.pix.ChargeStatus(ctx, a.Pix.TxID)
		cancel()
		wait := interval
		switch {
		case err != nil && AsError(err).Kind == KindNotFound && !abandoned && !expired:
			// The PSP does not know a charge we hold active (it lost it, or a simulator was
			// reset): PUT it again with the same request. The txid is the same, so this can
			// never be a second charge; our expiry stays as it was (we cancel by our clock).
			s.log.Warn("pix charge unknown at the PSP; creating it again with the same txid", "session", id, "txid", a.Pix.TxID)
			ctx, cancel := context.WithTimeout(s.ctx, callTimeout)
			charge, cerr := s.pix.CreateCharge(ctx, s.chargeRequest(sess, a))
			cancel()
			if cerr != nil {
				wait = retryAfter(cerr, interval*2)
			} else if err := s.recreated(id, n, charge); err != nil {
				return err
			}
		case err != nil:
			if s.ctx.Err() != nil {
				return nil
			}
			s.log.Warn("pix status check failed", "session", id, "txid", a.Pix.TxID, "err", err)
			wait = retryAfter(err, interval*2)
		case st.State == PixConcluded:
			if err := s.pixPaid(id, n, st); err != nil {
				return err
			}
			continue
		case st.State == PixRemovedByReceiver || st.State == PixRemovedByPSP:
			return s.pixGone(id, n, expired)
		}
		if expired && !abandoned {
			// Our clock says the QR is over but the PSP could not remove the charge: give the
			// customer the kiosk back and keep watching the charge; money that still lands on
			// it is refunded (pixPaid), since the customer was told the QR expired.
			if err := s.releaseExpired(id, n); err != nil {
				return err
			}
		}
		if abandoned && err == nil && now.After(a.Pix.ExpiresAt.Add(s.cfg.LateWatch)) {
			// Given up only on the PSP's word that the charge is unpaid: while its status
			// cannot be read, money may be there, and the watch goes on.
			return s.pixGone(id, n, true)
		}
		if st.RetryAfter > wait {
			wait = st.RetryAfter
		}
		if wait > interval {
			// The PSP asked for quiet (Retry-After, or backing off after errors): honour it for
			// the calls, at most 10 minutes, but keep waking every interval for our clock.
			quietUntil = s.now().Add(min(wait, 10*time.Minute)) // from the answer, not the call
			wait = interval
		}
		if !s.sleep(wait, wake) {
			return nil
		}
		if interval < 4*s.cfg.PixPoll && now.Sub(a.CreatedAt) > time.Minute {
			interval *= 2
		}
	}
}

// pixUnconfigured handles a Pix attempt found at start when Pix is no longer configured: the
// charge cannot be checked. The kiosk is given back (a paying session reopens) and the problem is
// recorded for the operator, who reconciles the txid at the PSP (totemd pix reconcile).
func (s *Service) pixUnconfigured(sess *Session, n int) error {
	a := sess.Attempt(n)
	s.log.Error("a Pix charge is in progress but Pix is not configured: it cannot be checked", "session", sess.ID, "txid", a.Pix.TxID)
	if a.State == AttemptConcluded {
		return s.afterPaid(sess.ID) // paid already: the ticket needs no PSP
	}
	_, err := s.update(sess.ID, func(_ *journal.Tx, sess *Session) error {
		if sess.State != StatePaying || sess.Current().N != n {
			return errSkip
		}
		sess.Problem = &Problem{Code: "pix.not_configured", Message: "Pix não está mais configurado: a cobrança não pôde ser verificada."}
		return sess.setState(StateOpen)
	})
	if err != nil && !errors.Is(err, errSkip) {
		return err
	}
	s.note(sess.ID, "pix.unchecked", fmt.Sprintf("Cobrança %s não verificada: Pix não configurado. Confira com totemd pix reconcile.", a.Pix.TxID))
	return nil
}

// recreated stores what the PSP answered for a charge created again: its code may be new, and
// the screen gets it in a new pix.qr event.
func (s *Service) recreated(id string, n int, charge PixCharge) error {
	qr, qerr := pix.QRDataURL(charge.BRCode, s.cfg.QRSize)
	if qerr != nil {
		s.log.Error("rendering the Pix QR", "session", id, "err", qerr)
	}
	_, err := s.update(id, func(tx *journal.Tx, sess *Session) error {
		a := sess.Attempt(n)
		if a.State != AttemptActive || (a.Pix.BRCode == charge.BRCode && a.Pix.Location == charge.Location) {
			return errSkip
		}
		a.Pix.BRCode, a.Pix.Location = charge.BRCode, charge.Location
		a.UpdatedAt = s.now()
		data, _ := json.Marshal(PixQR{TxID: a.Pix.TxID, Attempt: n, BRCode: a.Pix.BRCode, PNG: qr, ExpiresAt: a.Pix.ExpiresAt})
		_, err := tx.Append(journal.Event{Type: EventPixQR, SessionID: id, Data: data})
		return err
	})
	if errors.Is(err, errSkip) {
		return nil
	}
	return err
}

// backoff is the pause before retry number try: 1 s doubling to a minute.
func backoff(try int) time.Duration { return min(time.Second<<min(try, 6), time.Minute) }

// RetryAfterError is implemented by provider errors that carry the PSP's Retry-After.
type RetryAfterError interface{ RetryAfter() time.Duration }

func retryAfter(err error, dflt time.Duration) time.Duration {
	var ra RetryAfterError
	if errors.As(err, &ra) && ra.RetryAfter() > 0 {
		return ra.RetryAfter()
	}
	return min(dflt, 30*time.Second)
}

// chargeRequest is the one request of attempt a: the same bytes on every retry, so a PSP that
// is idempotent on txid and body answers the same charge.
func (s *Service) chargeRequest(sess *Session, a *Attempt) PixChargeRequest {
	return PixChargeRequest{TxID: a.Pix.TxID, Amount: a.Amount, Expiry: s.cfg.PixExpiry, Description: "Ticket " + sess.Ticket}
}

func (s *Service) createCharge(sess *Session, a *Attempt, wake <-chan struct{}) error {
	req := s.chargeRequest(sess, a)
	var charge PixCharge
	var err error
	for try := 0; try < 4; try++ {
		ctx, cancel := context.WithTimeout(s.ctx, callTimeout)
		charge, err = s.pix.CreateCharge(ctx, req)
		cancel()
		if err == nil || s.ctx.Err() != nil || AsError(err).Kind == KindInvalid {
			break
		}
		s.log.Warn("pix charge creation failed, retrying with the same txid", "session", sess.ID, "txid", req.TxID, "err", err)
		if !s.sleep(retryAfter(err, time.Duration(1<<try)*time.Second), wake) {
			return nil
		}
	}
	if s.ctx.Err() != nil {
		return nil // resumed at the next start, with the same txid
	}
	var qr string
	if err == nil {
		var qerr error
		if qr, qerr = pix.QRDataURL(charge.BRCode, s.cfg.QRSize); qerr != nil {
			s.log.Error("rendering the Pix QR", "session", sess.ID, "txid", req.TxID, "err", qerr)
		}
	}
	_, uerr := s.update(sess.ID, func(tx *journal.Tx, sess *Session) error {
		a := sess.Attempt(a.N)
		a.UpdatedAt = s.now()
		if err != nil {
			a.Problem = ProblemOf(err)
			if a.Problem.Code == "internal" {
				a.Problem = &Problem{Code: "pix.psp_unavailable", Message: "Pix indisponível no momento. Tente outra forma de pagamento."}
			}
			if err := a.setState(sess.ID, AttemptFailed); err != nil {
				return err
			}
			sess.Problem = a.Problem
			if sess.State == StatePaying && sess.Current().N == a.N {
				return sess.setState(StateOpen)
			}
			return nil
		}
		a.Pix.BRCode, a.Pix.Location = charge.BRCode, charge.Location
		expiry := charge.Expiry
		if expiry <= 0 || expiry > s.cfg.PixExpiry {
			expiry = s.cfg.PixExpiry
		}
		// The PSP counts expiry from its own creation time; after a crash the charge may have
		// been created long before this answer.
		created := charge.CreatedAt
		if created.IsZero() {
			created = s.now()
		}
		a.Pix.ExpiresAt = created.Add(expiry).UTC()
		if err := a.setState(sess.ID, AttemptActive); err != nil {
			return err
		}
		if !sess.waitingOn(a.N) {
			return nil // cancelled while the charge was being created: no QR on screen
		}
		// The QR for the screen travels in its own event, committed with the attempt becoming
		// active and before it: the session JSON stays small.
		data, _ := json.Marshal(PixQR{TxID: a.Pix.TxID, Attempt: a.N, BRCode: a.Pix.BRCode, PNG: qr, ExpiresAt: a.Pix.ExpiresAt})
		_, err := tx.Append(journal.Event{Type: EventPixQR, SessionID: sess.ID, Data: data})
		return err
	})
	if err != nil {
		s.log.Error("pix charge creation failed", "session", sess.ID, "txid", req.TxID, "err", err)
		if uerr == nil && AsError(err).Kind != KindInvalid {
			s.goSafe(func() { s.removeAbandoned(req.TxID) })
		}
	}
	return uerr
}

// removeAbandoned removes, best effort, a charge whose creation we gave up on: the PSP may have
// created it with every answer lost. Nobody saw its QR, so nobody can pay it; it goes anyway.
func (s *Service) removeAbandoned(txid string) {
	for try := 0; try < 6; try++ {
		ctx, cancel := context.WithTimeout(s.ctx, callTimeout)
		err := s.pix.CancelCharge(ctx, txid)
		cancel()
		if e := AsError(err); err == nil || e.Kind == KindNotFound || e.Kind == KindConflict || e.Kind == KindInvalid {
			return
		}
		if !s.sleep(time.Duration(1<<try)*time.Second, nil) {
			return
		}
	}
	s.log.Warn("could not remove an abandoned pix charge; it expires by itself", "txid", txid)
}

// pixPaid records money received for attempt n: the purchase if it is what was asked while the
// session waited for it; otherwise (wrong amount, or the session had ended) the money goes back.
func (s *Service) pixPaid(id string, n int, st PixStatus) error {
	var paid Money
	var last PixPayment
	for _, p := range st.Payments {
		paid += p.Amount
		last = p
	}
	if len(st.Payments) == 0 {
		return fmt.Errorf("charge %s is CONCLUIDA without a payment", PixTxID(id, n))
	}
	sess, err := s.update(id, func(_ *journal.Tx, sess *Session) error {
		a := sess.Attempt(n)
		if a.State != AttemptActive {
			return errSkip
		}
		a.UpdatedAt = s.now()
		a.Pix.E2EID, a.Pix.PaidCents, a.Pix.PaidAt = last.E2EID, paid, last.Time.UTC()
		waiting := sess.State == StatePaying && sess.Current().N == n
		switch {
		case paid == a.Amount && waiting:
			if err := a.setState(sess.ID, AttemptConcluded); err != nil {
				return err
			}
			sess.PaidAt = a.Pix.PaidAt
			return sess.setState(StatePaid)
		case paid == a.Amount && (sess.State == StateCancelled || sess.State == StateExpired):
			// The customer had given up: paid late; the policy decides (afterPaid).
			if err := a.setState(sess.ID, AttemptConcluded); err != nil {
				return err
			}
			sess.PaidAt = a.Pix.PaidAt
			sess.Problem = &Problem{Code: "pix.paid_late", Message: "Pagamento recebido após o encerramento da compra."}
			return sess.setState(StatePaidLate)
		}
		// Money that does not pay this session: a wrong amount, or a charge the session had
		// moved past (another attempt paid). It all goes back.
		a.Pix.RefundID = PixRefundID(sess.ID, n)
		a.Problem = &Problem{Code: "pix.unexpected_payment", Message: fmt.Sprintf(
			"Pagamento de %s recebido fora desta compra: o valor será devolvido.", paid)}
		if paid != a.Amount {
			a.Problem = &Problem{Code: "pix.wrong_amount", Message: fmt.Sprintf(
				"Valor pago (%s) diferente do cobrado (%s): o valor será devolvido.", paid, a.Amount)}
		}
		if err := a.setState(sess.ID, AttemptFailed); err != nil {
			return err
		}
		if waiting {
			sess.Problem = a.Problem
			return sess.setState(StateOpen)
		}
		return nil
	})
	if err != nil && !errors.Is(err, errSkip) {
		return err
	}
	if sess != nil {
		if a := sess.Attempt(n); a.State == AttemptFailed && a.Pix.RefundID != "" {
			return s.refund(id, n)
		}
	}
	return nil
}

// pixGone ends an attempt whose charge can no longer be paid.
func (s *Service) pixGone(id string, n int, expired bool) error {
	_, err := s.update(id, func(_ *journal.Tx, sess *Session) error {
		a := sess.Attempt(n)
		if a.State.Final() {
			return errSkip
		}
		a.UpdatedAt = s.now()
		to := AttemptRemoved
		if expired {
			to = AttemptExpired
			a.Problem = &Problem{Code: "pix.expired", Message: "O prazo para pagar este QR Code terminou."}
		}
		if err := a.setState(sess.ID, to); err != nil {
			return err
		}
		if sess.State == StatePaying && sess.Current().N == n {
			sess.Problem = a.Problem
			return sess.setState(StateOpen)
		}
		return nil
	})
	if errors.Is(err, errSkip) {
		return nil
	}
	return err
}

// PixHint is a relayed notice (the PSP's webhook, through the cloud) that charge txid may
// have been paid. It is a hint, never proof: the charge is read again with GET and believed
// only then. It returns at once; the check runs in the background.
func (s *Service) PixHint(ctx context.Context, txid string) error {
	if s.pix == nil {
		return Errf(KindUnavailable, "pix.not_configured", "Pix não está configurado neste totem.")
	}
	id, n, ok := parsePixTxID(txid)
	if !ok {
		return Errf(KindInvalid, "pix.unknown_txid", "txid %q não é de uma cobrança deste totem.", txid)
	}
	sess, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	a := sess.Attempt(n)
	if a == nil || a.Method != MethodPix {
		return Errf(KindNotFound, "pix.unknown_txid", "txid %q não é de uma cobrança deste totem.", txid)
	}
	if !a.State.Final() {
		s.spawn(id, n) // wakes the running flow, or starts one
		return nil
	}
	if a.State != AttemptConcluded {
		s.goSafe(func() {
			if err := s.lateCheck(id, n); err != nil && s.ctx.Err() == nil {
				s.log.Error("checking a hinted Pix", "session", id, "txid", txid, "err", err)
			}
		})
	}
	return nil
}

// PixQR returns what the screen needs for the session's active Pix charge (after a reload:
// the pix.qr event may be older than what the page resumes from).
func (s *Service) PixQR(ctx context.Context, id string) (*PixQR, error) {
	sess, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	a := sess.Current()
	if a == nil || a.Method != MethodPix || a.State != AttemptActive || a.Pix.BRCode == "" {
		return nil, Errf(KindNotFound, "pix.no_active_charge", "Sessão %s não tem cobrança Pix ativa.", id)
	}
	png, err := pix.QRDataURL(a.Pix.BRCode, s.cfg.QRSize)
	if err != nil {
		return nil, err
	}
	return &PixQR{TxID: a.Pix.TxID, Attempt: a.N, BRCode: a.Pix.BRCode, PNG: png, ExpiresAt: a.Pix.ExpiresAt}, nil
}

// parsePixTxID reverses PixTxID.
func parsePixTxID(txid string) (id string, n int, ok bool) {
	if len(txid) != 30 || txid[26:28] != "PX" || !ValidID(txid[:26]) {
		return "", 0, false
	}
	n = int(txid[28]-'0')*10 + int(txid[29]-'0')
	if txid[28] < '0' || txid[28] > '9' || txid[29] < '0' || txid[29] > '9' || n < 1 {
		return "", 0, false
	}
	return txid[:26], n, true
}

// lateCheck looks at the charge of an attempt we had closed (expired, removed, failed): money
// found on it belongs to nobody's purchase and is refunded in full.
func (s *Service) lateCheck(id string, n int) error {
	sess, err := s.Get(s.ctx, id)
	if err != nil {
		return err
	}
	a := sess.Attempt(n)
	ctx, cancel := context.WithTimeout(s.ctx, callTimeout)
	st, err := s.pix.ChargeStatus(ctx, a.Pix.TxID)
	cancel()
	if err != nil || st.State != PixConcluded || len(st.Payments) == 0 {
		return err
	}
	var paid Money
	for _, p := range st.Payments {
		paid += p.Amount
	}
	_, err = s.update(id, func(_ *journal.Tx, sess *Session) error {
		a := sess.Attempt(n)
		if a.Pix.RefundID != "" || a.State == AttemptConcluded {
			return errSkip
		}
		last := st.Payments[len(st.Payments)-1]
		a.Pix.E2EID, a.Pix.PaidCents, a.Pix.PaidAt = last.E2EID, paid, last.Time.UTC()
		a.Pix.RefundID = PixRefundID(id, n)
		a.Problem = &Problem{Code: "pix.unexpected_payment", Message: fmt.Sprintf(
			"Pagamento de %s recebido numa cobrança já encerrada: o valor será devolvido.", paid)}
		return nil
	})
	if errors.Is(err, errSkip) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.refund(id, n)
}

// releaseExpired puts a session whose Pix QR expired by our clock back to open, leaving the
// attempt active (still watched) until the PSP confirms the charge is gone or LateWatch ends.
func (s *Service) releaseExpired(id string, n int) error {
	_, err := s.update(id, func(_ *journal.Tx, sess *Session) error {
		a := sess.Attempt(n)
		if sess.State != StatePaying || sess.Current().N != n || a.State != AttemptActive {
			return errSkip
		}
		a.Problem = &Problem{Code: "pix.expired", Message: "O prazo para pagar este QR Code terminou."}
		a.UpdatedAt = s.now()
		sess.Problem = a.Problem
		return sess.setState(StateOpen)
	})
	if errors.Is(err, errSkip) {
		return nil
	}
	return err
}

// refund gives back the money of Pix attempt n (wrong amount, or a late payment under the
// refund policy). The devolução id is derived, so a retry after a crash never refunds twice.
func (s *Service) refund(id string, n int) error {
	if s.pix == nil {
		s.note(id, "pix.refund_pending", "Devolução pendente: Pix não está configurado. Configure o PSP para concluí-la.")
		return nil
	}
	for try := 0; ; try++ {
		sess, err := s.Get(s.ctx, id)
		if err != nil {
			return err
		}
		a := sess.Attempt(n)
		if a.Pix.Refunded || a.Pix.RefundsFailed >= maxRefundTries {
			return nil
		}
		refundID := pixRefundIDTry(id, n, a.Pix.RefundsFailed)
		if a.Pix.RefundID != refundID {
			// Record the intent first: a crash between here and the PSP's answer is retried.
			if _, err := s.update(id, func(_ *journal.Tx, sess *Session) error {
				sess.Attempt(n).Pix.RefundID = refundID
				return nil
			}); err != nil {
				return err
			}
		}
		ctx, cancel := context.WithTimeout(s.ctx, callTimeout)
		err = s.pix.Refund(ctx, a.Pix.E2EID, refundID, a.Pix.PaidCents)
		cancel()
		if err == nil {
			_, err = s.update(id, func(_ *journal.Tx, sess *Session) error {
				sess.Attempt(n).Pix.Refunded = true
				if sess.State == StatePaidLate {
					return sess.setState(StateRefunded)
				}
				return nil
			})
			if err == nil {
				s.note(id, "pix.refunded", fmt.Sprintf("Devolução %s de %s enviada (e2eid %s).", refundID, a.Pix.PaidCents, a.Pix.E2EID))
			}
			return err
		}
		if s.ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrRefundNotMade) {
			// The PSP will not make this one: the next try needs a new id.
			failed := a.Pix.RefundsFailed + 1
			if _, err := s.update(id, func(_ *journal.Tx, sess *Session) error {
				sess.Attempt(n).Pix.RefundsFailed = failed
				if failed >= maxRefundTries {
					sess.Problem = &Problem{Code: "pix.refund_not_made",
						Message: fmt.Sprintf("O PSP recusou %d devoluções de %s: devolva manualmente (e2eid %s).", failed, a.Pix.PaidCents, a.Pix.E2EID)}
				}
				return nil
			}); err != nil {
				return err
			}
			if failed >= maxRefundTries {
				s.log.Error("pix refund not made by the PSP; giving up: refund by hand", "session", id, "e2eid", a.Pix.E2EID, "tries", failed)
				s.note(id, "pix.refund_not_made", fmt.Sprintf("Devolução não realizada pelo PSP após %d tentativas: devolva manualmente (e2eid %s).", failed, a.Pix.E2EID))
				return nil
			}
			s.note(id, "pix.refund_retry", fmt.Sprintf("Devolução %s não realizada pelo PSP (%s): nova devolução com outro id.", refundID, ProblemOf(err).Message))
		}
		s.log.Error("pix refund failed, retrying", "session", id, "refund", refundID, "err", err)
		if try == 0 {
			s.note(id, "pix.refund_failed", "Devolução ainda não concluída: nova tentativa automática.")
		}
		if !s.sleep(retryAfter(err, backoff(try)), nil) {
			return nil
		}
	}
}

// maxRefundTries is how many devoluções the PSP may refuse (NAO_REALIZADO) before the refund
// is left to a person.
const maxRefundTries = 3

// afterPaid takes a session whose money was taken to its end: the ticket, or a refund.
func (s *Service) afterPaid(id string) error {
	sess, err := s.Get(s.ctx, id)
	if err != nil {
		return err
	}
	switch {
	case sess.State == StatePaid:
		return s.fulfil(id)
	case sess.State == StatePaidLate && s.cfg.LatePayment == "fulfil":
		return s.fulfil(id)
	case sess.State == StatePaidLate:
		return s.refund(id, sess.PaidAttempt().N)
	}
	return nil
}

// fulfil prints the ticket of a paid session until it is printed. The money is taken: giving
// up is not an option, so a failed print is retried (the printer may be refilled) and
// the failure is recorded for the UI and the operator.
func (s *Service) fulfil(id string) error {
	for try := 0; ; try++ {
		sess, err := s.Get(s.ctx, id)
		if err != nil {
			return err
		}
		if sess.State != StatePaid && sess.State != StatePaidLate {
			return nil
		}
		err = s.printTicket(id)
		if err == nil {
			_, err := s.update(id, func(_ *journal.Tx, sess *Session) error {
				sess.Problem = nil
				return sess.setState(StateFulfilled)
			})
			return err
		}
		if s.ctx.Err() != nil {
			return nil
		}
		p := ProblemOf(err)
		if try == 0 {
			s.log.Error("ticket print failed for a paid session; retrying", "session", id, "err", err)
			_, _ = s.update(id, func(_ *journal.Tx, sess *Session) error {
				sess.Problem = &Problem{Code: p.Code, Message: "Pagamento recebido. O ticket será impresso assim que a impressora voltar: " + p.Message}
				return nil
			})
		}
		if !s.sleep(backoff(min(try, 5)), nil) { // a paid customer waits: at most ~30 s apart
			return nil
		}
	}
}

// printTicket records, durably, that a ticket is about to print, then prints it: any print after
// the first (a retry, or after a restart when the first may have come out) is marked as a second
// copy, so two unmarked tickets of one payment can never exist.
func (s *Service) printTicket(id string) error {
	sess, err := s.update(id, func(_ *journal.Tx, sess *Session) error {
		sess.TicketPrints++
		return nil
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(s.ctx, callTimeout)
	defer cancel()
	return s.printer.PrintTicket(ctx, ticketOf(sess, sess.TicketPrints > 1))
}

func ticketOf(sess *Session, reprint bool) Ticket {
	t := Ticket{Number: sess.Ticket, SessionID: sess.ID, Items: sess.Items, Total: sess.TotalCents,
		PaidAt: sess.PaidAt, Reprint: reprint}
	a := sess.PaidAttempt()
	if a == nil {
		a = sess.Current() // a card sale approved, not yet confirmed
	}
	if a != nil {
		t.Method, t.Pix, t.Card = a.Method, a.Pix, a.Card
		if t.PaidAt.IsZero() && a.Card != nil {
			t.PaidAt = a.Card.ApprovedAt
		}
	}
	return t
}

// recover resumes, at start, every flow a stop or a crash interrupted.
func (s *Service) recover() error {
	type job struct {
		id string
		n  int
	}
	var jobs, refunds []job
	err := s.store.View(func(tx *journal.Tx) error {
		return tx.ForEach(journal.BucketSessions, func(k string, v []byte) error {
			var sess Session
			if err := json.Unmarshal(v, &sess); err != nil {
				return fmt.Errorf("session %s: %w", k, err)
			}
			for _, a := range sess.Attempts {
				switch {
				case a.Method == MethodPix && !a.State.Final():
					jobs = append(jobs, job{sess.ID, a.N})
				case a.Method == MethodPix && a.State == AttemptConcluded && !sess.State.Terminal():
					jobs = append(jobs, job{sess.ID, a.N}) // paid: ticket or refund still owed
				case a.Method == MethodPix && a.Pix.RefundID != "" && !a.Pix.Refunded && a.Pix.RefundsFailed < maxRefundTries &&
					a.State != AttemptConcluded:
					refunds = append(refunds, job{sess.ID, a.N}) // refund owed
				}
			}
			return nil
		})
	})
	if err != nil {
		return storageErr(err)
	}
	for _, j := range refunds {
		s.goSafe(func() {
			if err := s.refund(j.id, j.n); err != nil && s.ctx.Err() == nil {
				s.log.Error("recovering refund", "session", j.id, "err", err)
			}
		})
	}
	for _, j := range jobs {
		s.spawn(j.id, j.n)
	}
	return nil
}
