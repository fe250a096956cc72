package payment

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"testing"
	"time"
)

// The edges below are written from DESIGN.md ("The session and its states"), independently of
// sessionEdges and attemptEdges: the test fails if the code allows one edge more or one less.
//
//	open -> paying -> paid -> fulfilled
//	open|paying -> cancelled | expired
//	paying -> open
//	paid -> refunded
//	cancelled|expired + money arrives -> paid_late -> refunded | fulfilled
var designSessionEdges = map[[2]State]bool{
	{StateOpen, StatePaying}:        true,
	{StateOpen, StateCancelled}:     true,
	{StateOpen, StateExpired}:       true,
	{StatePaying, StatePaid}:        true,
	{StatePaying, StateOpen}:        true,
	{StatePaying, StateCancelled}:   true,
	{StatePaying, StateExpired}:     true,
	{StatePaid, StateFulfilled}:     true,
	{StatePaid, StateRefunded}:      true,
	{StateCancelled, StatePaidLate}: true,
	{StateExpired, StatePaidLate}:   true,
	{StatePaidLate, StateRefunded}:  true,
	{StatePaidLate, StateFulfilled}: true,
}

var allStates = []State{StateOpen, StatePaying, StatePaid, StateFulfilled, StateCancelled,
	StateExpired, StatePaidLate, StateRefunded}

// Attempts, from DESIGN.md: Pix creating -> active -> concluded | expired | removed | failed;
// card requested -> approved -> confirmed | undone, and requested -> declined | aborted (the
// terminal declines or does not answer before any approval). A charge the PSP refused to create
// fails from creating.
var designAttemptEdges = map[[2]AttemptState]bool{
	{AttemptCreating, AttemptActive}:    true,
	{AttemptCreating, AttemptFailed}:    true,
	{AttemptActive, AttemptConcluded}:   true,
	{AttemptActive, AttemptExpired}:     true,
	{AttemptActive, AttemptRemoved}:     true,
	{AttemptActive, AttemptFailed}:      true,
	{AttemptRequested, AttemptApproved}: true,
	{AttemptRequested, AttemptDeclined}: true,
	{AttemptRequested, AttemptAborted}:  true,
	{AttemptApproved, AttemptConfirmed}: true,
	{AttemptApproved, AttemptUndone}:    true,
}

var allAttemptStates = []AttemptState{AttemptCreating, AttemptActive, AttemptConcluded, AttemptExpired,
	AttemptRemoved, AttemptFailed, AttemptRequested, AttemptApproved, AttemptConfirmed, AttemptUndone,
	AttemptDeclined, AttemptAborted}

func TestSessionTransitions(t *testing.T) {
	states := append(append([]State{}, allStates...), State("bogus"), State(""))
	for _, from := range states {
		for _, to := range states {
			t.Run(fmt.Sprintf("%s->%s", from, to), func(t *testing.T) {
				s := &Session{ID: "01JTESTSESSION0000000000000", State: from}
				err := s.setState(to)
				if designSessionEdges[[2]State{from, to}] {
					if err != nil {
						t.Fatalf("allowed edge refused: %v", err)
					}
					if s.State != to {
						t.Fatalf("state = %s after an allowed transition, want %s", s.State, to)
					}
					return
				}
				var te *TransitionError
				if !errors.As(err, &te) {
					t.Fatalf("illegal edge: got %v, want a *TransitionError", err)
				}
				if te.What != "session" || te.From != string(from) || te.To != string(to) || te.ID != s.ID {
					t.Errorf("TransitionError = %+v", te)
				}
				if s.State != from {
					t.Errorf("state changed to %s by a refused transition", s.State)
				}
			})
		}
	}
}

func TestAttemptTransitions(t *testing.T) {
	states := append(append([]AttemptState{}, allAttemptStates...), AttemptState("bogus"))
	for _, from := range states {
		for _, to := range states {
			t.Run(fmt.Sprintf("%s->%s", from, to), func(t *testing.T) {
				a := &Attempt{N: 3, State: from}
				err := a.setState("S", to)
				if designAttemptEdges[[2]AttemptState{from, to}] {
					if err != nil || a.State != to {
						t.Fatalf("allowed edge: err %v, state %s", err, a.State)
					}
					return
				}
				var te *TransitionError
				if !errors.As(err, &te) {
					t.Fatalf("illegal edge: got %v, want a *TransitionError", err)
				}
				if te.What != "attempt" || te.ID != "S#3" || te.From != string(from) || te.To != string(to) {
					t.Errorf("TransitionError = %+v", te)
				}
				if a.State != from {
					t.Errorf("state changed to %s by a refused transition", a.State)
				}
			})
		}
	}
}

func TestStateTerminalAndFinal(t *testing.T) {
	for _, s := range allStates {
		want := s == StateFulfilled || s == StateRefunded
		if s.Terminal() != want {
			t.Errorf("%s.Terminal() = %v, want %v", s, s.Terminal(), want)
		}
	}
	final := map[AttemptState]bool{AttemptConcluded: true, AttemptExpired: true, AttemptRemoved: true,
		AttemptFailed: true, AttemptConfirmed: true, AttemptUndone: true, AttemptDeclined: true, AttemptAborted: true}
	for _, a := range allAttemptStates {
		if a.Final() != final[a] {
			t.Errorf("%s.Final() = %v, want %v", a, a.Final(), final[a])
		}
	}
}

func TestPaidAttempt(t *testing.T) {
	tests := []struct {
		name     string
		state    State
		attempts []AttemptState
		want     int // attempt N, 0 for none
	}{
		{"none", StateOpen, nil, 0},
		{"failed then concluded", StatePaid, []AttemptState{AttemptFailed, AttemptConcluded}, 2},
		{"confirmed card", StateFulfilled, []AttemptState{AttemptDeclined, AttemptConfirmed}, 2},
		{"approved while paying is not paid yet", StatePaying, []AttemptState{AttemptApproved}, 0},
		{"approved in a paid session", StatePaid, []AttemptState{AttemptApproved}, 1},
		{"only failures", StateOpen, []AttemptState{AttemptExpired, AttemptUndone}, 0},
	}
	for _, tt := range tests {
		s := &Session{State: tt.state}
		for i, st := range tt.attempts {
			s.Attempts = append(s.Attempts, Attempt{N: i + 1, State: st})
		}
		got := 0
		if a := s.PaidAttempt(); a != nil {
			got = a.N
		}
		if got != tt.want {
			t.Errorf("%s: PaidAttempt() = #%d, want #%d", tt.name, got, tt.want)
		}
	}
}

func TestNewID(t *testing.T) {
	base := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	seen := map[string]bool{}
	var ids []string
	for i := range 10000 {
		id := NewID(base.Add(time.Duration(i) * time.Millisecond))
		if len(id) != 26 {
			t.Fatalf("NewID = %q: %d characters, want 26", id, len(id))
		}
		if !ValidID(id) {
			t.Fatalf("ValidID(%q) = false for a fresh id", id)
		}
		if seen[id] {
			t.Fatalf("NewID repeated %q after %d ids", id, i)
		}
		seen[id] = true
		ids = append(ids, id)
	}
	if !sort.StringsAreSorted(ids) {
		t.Error("ids created at increasing milliseconds do not sort by time")
	}
	// Same millisecond: still unique.
	same := map[string]bool{}
	for range 10000 {
		id := NewID(base)
		if same[id] {
			t.Fatalf("NewID repeated %q within one millisecond", id)
		}
		same[id] = true
	}
	// The time prefix: ids of a later millisecond sort after every id of an earlier one.
	if a, b := NewID(base), NewID(base.Add(time.Millisecond)); a >= b {
		t.Errorf("NewID(t)=%s >= NewID(t+1ms)=%s", a, b)
	}
}

func TestValidID(t *testing.T) {
	good := NewID(time.Now())
	tests := []struct {
		id   string
		want bool
	}{
		{good, true},
		{"00000000000000000000000000", true},
		{"7ZZZZZZZZZZZZZZZZZZZZZZZZZ", true},
		{"", false},
		{good[:25], false},
		{good + "0", false},
		{"8ZZZZZZZZZZZZZZZZZZZZZZZZZ", false}, // more than 128 bits
		{"0000000000000000000000000I", false}, // not Crockford
		{"0000000000000000000000000L", false},
		{"0000000000000000000000000O", false},
		{"0000000000000000000000000U", false},
		{"0000000000000000000000000a", false}, // lower case
		{"000000000000000000000000/0", false},
		{"00000000000000000000000 00", false},
		{"0000000000000000000000000é", false},
	}
	for _, tt := range tests {
		if got := ValidID(tt.id); got != tt.want {
			t.Errorf("ValidID(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

func TestPixIDs(t *testing.T) {
	txRe := regexp.MustCompile(`^[a-zA-Z0-9]{26,35}$`)
	refundRe := regexp.MustCompile(`^[a-zA-Z0-9]{1,35}$`)
	id := NewID(time.Now())
	txids := map[string]bool{}
	refunds := map[string]bool{}
	for n := 1; n <= 99; n++ {
		tx, rf := PixTxID(id, n), PixRefundID(id, n)
		if !txRe.MatchString(tx) {
			t.Errorf("PixTxID(%s, %d) = %q does not match %s", id, n, tx, txRe)
		}
		if !refundRe.MatchString(rf) {
			t.Errorf("PixRefundID(%s, %d) = %q does not match %s", id, n, rf, refundRe)
		}
		if tx != PixTxID(id, n) || rf != PixRefundID(id, n) {
			t.Errorf("attempt %d: ids are not derived (two calls differ)", n)
		}
		if txids[tx] || refunds[rf] {
			t.Errorf("attempt %d: id repeated", n)
		}
		txids[tx], refunds[rf] = true, true
	}
	if PixTxID(id, 1) == PixTxID(NewID(time.Now()), 1) {
		t.Error("two sessions share a txid")
	}
}
