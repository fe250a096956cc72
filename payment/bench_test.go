package payment_test

import (
	"context"
	"testing"

	"github.com/totemd/totemd/payment"
)

// BenchmarkTransition measures one committed session change through the Service, on a real
// bbolt file with fsync on:
//
//   - create: Create, one transaction writing the new session and its session.created event;
//   - cancel: Cancel of an open session (open -> cancelled), a read transaction then one write
//     transaction with the session.state event.
//
// Each iteration is exactly one fsynced commit; no flow runs in the background.
func BenchmarkTransition(b *testing.B) {
	ctx := context.Background()
	items := []payment.Item{item("consulta", 1)}
	b.Run("create", func(b *testing.B) {
		e := newEnv(b)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.svc.Create(ctx, items); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cancel", func(b *testing.B) {
		e := newEnv(b)
		ids := make([]string, 0, b.N)
		for range b.N {
			s, err := e.svc.Create(ctx, items)
			if err != nil {
				b.Fatal(err)
			}
			ids = append(ids, s.ID)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for _, id := range ids {
			s, err := e.svc.Cancel(ctx, id)
			if err != nil || s.State != payment.StateCancelled {
				b.Fatalf("Cancel: %v", err)
			}
		}
	})
}
