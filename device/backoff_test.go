package device

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	t.Run("zero is the default", func(t *testing.T) {
		var b Backoff
		for a := range 10 {
			base := min(200*time.Millisecond<<a, 10*time.Second)
			for range 50 {
				d := b.Next(a)
				if lo, hi := time.Duration(float64(base)*0.8), min(time.Duration(float64(base)*1.2), 10*time.Second); d < lo || d > hi {
					t.Fatalf("Next(%d) = %v, want within [%v, %v]", a, d, lo, hi)
				}
			}
		}
	})
	t.Run("monotonic and capped without jitter", func(t *testing.T) {
		b := Backoff{Min: 100 * time.Millisecond, Max: 3 * time.Second, Factor: 1.5}
		prev := time.Duration(0)
		for a := range 100 {
			d := b.Next(a)
			if d < prev {
				t.Fatalf("Next(%d) = %v < Next(%d) = %v", a, d, a-1, prev)
			}
			if d > b.Max {
				t.Fatalf("Next(%d) = %v > Max", a, d)
			}
			prev = d
		}
		for _, tc := range []struct {
			attempt int
			want    time.Duration
		}{{-1, 100 * time.Millisecond}, {0, 100 * time.Millisecond}, {1, 150 * time.Millisecond}, {2, 225 * time.Millisecond}, {50, 3 * time.Second}, {1 << 30, 3 * time.Second}} {
			if got := b.Next(tc.attempt); got != tc.want {
				t.Errorf("Next(%d) = %v, want %v", tc.attempt, got, tc.want)
			}
		}
	})
	t.Run("jitter within bounds", func(t *testing.T) {
		b := Backoff{Min: time.Second, Max: time.Minute, Factor: 2, Jitter: 0.5}
		seen := map[time.Duration]bool{}
		for range 1000 {
			d := b.Next(2) // base 4s
			if d < 2*time.Second || d > 6*time.Second {
				t.Fatalf("Next(2) = %v, want within 4s ±50%%", d)
			}
			seen[d] = true
		}
		if len(seen) < 100 {
			t.Errorf("only %d distinct waits in 1000: no jitter?", len(seen))
		}
		// At the cap, jitter never goes past Max.
		for range 1000 {
			if d := b.Next(100); d > time.Minute || d < 30*time.Second {
				t.Fatalf("Next(100) = %v", d)
			}
		}
	})
}
