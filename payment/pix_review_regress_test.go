package payment_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/totemd/totemd/payment"
)

// flaky wraps the spy: the PSP can be made unreachable for status/cancel, and the caller's
// (Cancel API's) status check can be held.
type flaky struct {
	*spyPix
	mu         sync.Mutex
	down       bool
	holdCaller chan struct{}
	heldCaller chan struct{}
	rateLimit  time.Duration
	failed     int // status checks answered "unreachable"
}

func (f *flaky) failedChecks() int { f.mu.Lock(); defer f.mu.Unlock(); return f.failed }

func (f *flaky) isDown() bool   { f.mu.Lock(); defer f.mu.Unlock(); return f.down }
func (f *flaky) setDown(b bool) { f.mu.Lock(); f.down = b; f.mu.Unlock() }

func (f *flaky) ChargeStatus(ctx context.Context, txid string) (payment.PixStatus, error) {
	f.mu.Lock()
	if f.down {
		f.failed++
		f.mu.Unlock()
		return payment.PixStatus{}, pspDown(0)
	}
	if f.rateLimit > 0 {
		ra := f.rateLimit
		f.rateLimit = 0
		f.mu.Unlock()
		return payment.PixStatus{}, pspDown(ra) // a 429 with Retry-After
	}
	hold := f.holdCaller
	f.mu.Unlock()
	if hold != nil && ctx.Value(callerKey{}) != nil {
		f.heldCaller <- struct{}{}
		<-hold
	}
	return f.spyPix.ChargeStatus(ctx, txid)
}

func (f *flaky) CancelCharge(ctx context.Context, txid string) error {
	if f.isDown() {
		return pspDown(0)
	}
	return f.spyPix.CancelCharge(ctx, txid)
}

// startWith restarts the env's Service with p as its PSP.
func startWith(e *env, p payment.PixProvider) {
	e.stop()
	e.open()
	svc, err := payment.New(payment.Options{Config: e.cfg, Catalog: e.catalog, Store: e.store, Printer: e.gate,
		Now: e.clock.Now, Logger: quiet(), Pix: p, Card: e.hooks})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := svc.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.svc, e.running = svc, true
	e.waitCardReady()
}

// Found by the Pix review of 2026-11-23; each failed before its fix.

// Cancel marked sess.Current() removed, not the attempt whose removal it checked.
func TestBugCancelMarksWrongAttemptRemoved(t *testing.T) {
	e := newEnv(t)
	f := &flaky{spyPix: e.spy, holdCaller: make(chan struct{}), heldCaller: make(chan struct{}, 1)}
	startWith(e, f)
	s := e.create(item("consulta", 1))
	a1 := e.payPix(s.ID)

	done := make(chan error, 1)
	go func() { // customer presses "cancelar"; the PSP is slow to answer the GET
		_, err := e.svc.Cancel(callerCtx(context.Background()), s.ID)
		done <- err
	}()
	<-f.heldCaller // PATCH done (charge 1 removed); Cancel's GET in flight
	// The flow sees charge 1 removed and gives the kiosk back; the customer picks Pix again.
	e.waitAttempt(s.ID, 1, payment.AttemptRemoved)
	e.waitState(s.ID, payment.StateOpen)
	a2 := e.payPix(s.ID)
	close(f.holdCaller) // Cancel's GET of charge 1 answers REMOVIDA
	if err := <-done; err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	// The customer pays the QR of attempt 2 that was on screen (unless its charge was removed
	// first): the money is watched, and given back (the purchase was cancelled).
	if e.pix.Pay(a2.Pix.TxID, 15000) {
		e.waitFor(s.ID, "the payment of attempt 2 refunded", func(s *payment.Session) bool {
			return s.Attempt(2).Pix.Refunded
		})
	} else if got := e.waitAttempt(s.ID, 2, payment.AttemptRemoved); got.State != payment.StateCancelled {
		t.Errorf("after cancel: %s", describe(got))
	}
	_ = a1
}
