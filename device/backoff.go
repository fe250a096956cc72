package device

import (
	"math"
	"math/rand/v2"
	"time"
)

// Backoff is the wait before reconnecting after an unplug: Min×Factor^attempt, at most Max,
// then spread by ±Jitter (a fraction: 0.2 = ±20%) so kiosks that lost the same network printer
// do not retry in step.
//
// The zero Backoff is DefaultBackoff (200ms..10s ×2 ±20%). Otherwise a zero Min, Max or Factor
// takes its default, and Jitter is used as given (0: none).
type Backoff struct {
	Min, Max time.Duration
	Factor   float64
	Jitter   float64
}

// DefaultBackoff is what the zero Backoff means.
var DefaultBackoff = Backoff{Min: 200 * time.Millisecond, Max: 10 * time.Second, Factor: 2, Jitter: 0.2}

// Next returns the wait before attempt (0 for the first retry). It never exceeds Max.
func (b Backoff) Next(attempt int) time.Duration {
	if b == (Backoff{}) {
		b = DefaultBackoff
	}
	if b.Min <= 0 {
		b.Min = DefaultBackoff.Min
	}
	if b.Max <= 0 {
		b.Max = DefaultBackoff.Max
	}
	if b.Max < b.Min {
		b.Max = b.Min
	}
	if b.Factor < 1 {
		b.Factor = DefaultBackoff.Factor
	}
	b.Jitter = min(max(b.Jitter, 0), 1)
	attempt = max(attempt, 0)
	d := float64(b.Min) * math.Pow(b.Factor, float64(attempt))
	if d > float64(b.Max) || math.IsInf(d, 0) || math.IsNaN(d) {
		d = float64(b.Max)
	}
	if b.Jitter > 0 {
		d += d * b.Jitter * (2*rand.Float64() - 1)
	}
	return time.Duration(min(max(d, 0), float64(b.Max)))
}
