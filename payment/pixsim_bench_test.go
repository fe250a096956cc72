package payment_test

import (
	"context"
	"testing"
	"time"

	"github.com/totemd/totemd/payment"
)

// BenchmarkPayPixToQREvent measures what the customer waits for after choosing Pix: Create and
// Pay(pix) on a Service with a real (fsync'd) journal, the PUT /cob to pixsim over mTLS with
// the production client, the QR rendered, until the pix.qr event is committed (what the UI
// shows). The token is fetched before the timer starts, as a running kiosk holds one. Flows
// poll at the default 2 s, so earlier sessions' checks barely load the later iterations.
//
//	go test ./payment -run '^$' -bench BenchmarkPayPixToQREvent -benchtime 50x
func BenchmarkPayPixToQREvent(b *testing.B) {
	e := newSimEnv(b, func(e *simEnv) { e.cfg.PixPoll = payment.DefaultConfig().PixPoll })
	ctx := context.Background()
	if _, err := e.client.Token(ctx); err != nil {
		b.Fatal(err)
	}
	items := []payment.Item{item("consulta", 1)}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		after := e.store.LastSeq()
		s, err := e.svc.Create(ctx, items)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.svc.Pay(ctx, s.ID, payment.PayRequest{Method: payment.MethodPix}); err != nil {
			b.Fatal(err)
		}
		waitQREvent(b, e, s.ID, after)
	}
	b.StopTimer()
}

// waitQREvent waits (on the journal) for the pix.qr event of session id after seq after.
func waitQREvent(b *testing.B, e *simEnv, id string, after uint64) {
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	for {
		ch := e.store.Changed()
		evs, err := e.store.Events(after, 0)
		if err != nil {
			b.Fatal(err)
		}
		for _, ev := range evs {
			if ev.Type == payment.EventPixQR && ev.SessionID == id {
				return
			}
		}
		if len(evs) > 0 {
			after = evs[len(evs)-1].Seq
		}
		select {
		case <-ch:
		case <-deadline.C:
			b.Fatalf("no %s event for %s within %s", payment.EventPixQR, id, waitLimit)
		}
	}
}
