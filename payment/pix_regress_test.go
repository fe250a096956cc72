package payment_test

// Regression tests of bugs found proving the Pix flow against pixsim (all fixed). Run them alone with
//
//	go test -run TestPixBug ./payment

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/totemd/totemd/payment"
	"github.com/totemd/totemd/payment/pix"
	"github.com/totemd/totemd/payment/pix/pixsim"
)

// A kiosk restarted without Pix (the pix section removed, e.g. while the PSP certificate is
// renewed) while a Pix attempt is still watched must start and let the session be cancelled.
// Today recover() spawns the Pix flow and pixFlow calls s.pix.ChargeStatus on a nil
// PixProvider (flow.go, pixFlow), and Cancel calls s.pix.CancelCharge (service.go, Cancel):
// a nil-pointer panic in a flow goroutine kills the daemon, at every start (crash loop).
// The scenario runs in a child process, so the panic is reported instead of killing this one.
func TestPixBugNoPixProviderAfterRestart(t *testing.T) {
	if os.Getenv("PIXBUGS_CHILD") == "nopix" {
		e := newSimEnv(t)
		s := e.create(item("consulta", 1))
		e.payPix(s.ID)
		e.waitAttempt(s.ID, 1, payment.AttemptActive)
		e.stopKiosk()
		e.noPix = true
		e.startKiosk()
		if _, err := e.svc.Cancel(context.Background(), s.ID); err != nil {
			t.Logf("Cancel without Pix: %v", err)
		}
		e.svc.Close() // every flow has returned (or crashed the process)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestPixBugNoPixProviderAfterRestart$", "-test.count", "1")
	cmd.Env = append(os.Environ(), "PIXBUGS_CHILD=nopix")
	out, err := cmd.CombinedOutput()
	if err != nil || strings.Contains(string(out), "panic:") {
		i := max(strings.Index(string(out), "panic:"), 0)
		t.Fatalf("restarting without Pix while a Pix attempt is watched: %v\n%s", err, tail(string(out[i:]), 12))
	}
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	return strings.Join(l[:min(len(l), lines)], "\n")
}

// When the PSP no longer knows an active charge (404), the flow PUTs the txid again
// (flow.go, pixFlow, case KindNotFound) but throws the answer away: the PSP's new charge has a
// new location and BR Code, while the attempt, the screen (no new pix.qr event) and
// PixQR keep the old code, whose location the PSP does not serve: the customer cannot pay.
// (The comment says the new charge gets "what is left of ours" of the expiry; chargeRequest
// sends the full payment.pix_expiry.)
func TestPixBugRecreatedChargeKeepsStaleQR(t *testing.T) {
	e := newSimEnv(t)
	s := e.create(item("consulta", 1))
	txid := payment.PixTxID(s.ID, 1)
	e.payPix(s.ID)
	old := e.waitAttempt(s.ID, 1, payment.AttemptActive).Attempt(1)
	// The PSP loses its charges (its state is gone; same address, same certificates).
	if err := e.sim.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(e.simOpt.Dir, "ledger.json")); err != nil {
		t.Fatal(err)
	}
	e.startSim()
	e.log.wait(t, "the charge created again", func(l *simLog) bool { return l.count("PUT", "/cob/"+txid) >= 2 })
	ch, ok := e.sim.Charge(txid)
	if !ok || ch.Location == old.Pix.Location {
		t.Fatalf("the PSP did not create a new charge: %+v", ch)
	}
	got := e.waitFor(s.ID, "the attempt showing the new charge", func(s *payment.Session) bool {
		return s.Attempt(1).Pix.Location == ch.Location
	})
	if got.Attempt(1).Pix.BRCode != ch.PixCopiaECola {
		t.Errorf("attempt BR Code is not the new charge's")
	}
}

// A charge the PSP created but whose every answer was lost ends the attempt as failed
// (pix.psp_unavailable) and is then forgotten: no PATCH, no late watch (flow.go,
// createCharge). PIX.md: "totemd cancels charges it abandons (PATCH)". The charge stays ATIVA
// at the PSP until it expires.
func TestPixBugFailedCreationLeavesChargeActive(t *testing.T) {
	e := newSimEnv(t, func(e *simEnv) { e.clientMod = func(c *pix.Client) { c.MaxRetries = 0 } })
	s := e.create(item("consulta", 1))
	txid := payment.PixTxID(s.ID, 1)
	e.sim.Fail(pixsim.Fault{Path: "/cob/" + txid, Method: "PUT", Status: 503, RetryAfter: 1, AfterHandling: true, Times: 4})
	e.payPix(s.ID)
	failed := e.waitAttempt(s.ID, 1, payment.AttemptFailed)
	if ch, ok := e.sim.Charge(txid); !ok || ch.Status != "ATIVA" {
		t.Fatalf("setup: charge %+v", ch)
	}
	t.Logf("attempt: %s", describe(failed))
	e.log.wait(t, "a PATCH removing the abandoned charge", func(l *simLog) bool { return l.count("PATCH", "/cob/"+txid) > 0 })
	if ch, _ := e.sim.Charge(txid); ch.Status != "REMOVIDA_PELO_USUARIO_RECEBEDOR" {
		t.Errorf("abandoned charge is %s at the PSP", ch.Status)
	}
}

// A Retry-After is obeyed without a bound and without regard to the QR's expiry
// (flow.go, retryAfter and pixFlow's sleep): one 429 with Retry-After: 600 while polling puts
// the flow to sleep for 10 minutes, so the session stays "paying" with an expired QR on the
// screen (releaseExpired needs no PSP call) and a payment is not seen meanwhile.
func TestPixBugLongRetryAfterFreezesExpiredQR(t *testing.T) {
	clk := &clock{t: time.Now()}
	e := newSimEnv(t, func(e *simEnv) { e.now = clk.Now })
	s := e.create(item("consulta", 1))
	txid := payment.PixTxID(s.ID, 1)
	e.payPix(s.ID)
	a := e.waitAttempt(s.ID, 1, payment.AttemptActive).Attempt(1)
	e.sim.Fail(pixsim.Fault{Path: "/cob/" + txid, Method: "GET", Status: 429, RetryAfter: 600})
	e.log.wait(t, "the 429", func(l *simLog) bool {
		for _, q := range l.match("GET", "/cob/"+txid) {
			if q.Status == 429 {
				return true
			}
		}
		return false
	})
	clk.Set(a.Pix.ExpiresAt.Add(time.Second))
	e.waitFor(s.ID, "the expired QR taken off the screen", func(s *payment.Session) bool { return s.State != payment.StatePaying })
}
