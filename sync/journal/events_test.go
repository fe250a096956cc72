package journal

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestEventsLimits(t *testing.T) {
	s := openT(t, Options{Path: testPath(t)})
	appendN(t, s, 1200, "x")
	tests := []struct {
		after   uint64
		limit   int
		wantLen int
	}{
		{0, 0, 1000},
		{0, -1, 1000},
		{0, 10, 10},
		{1190, 0, 10},
		{1199, 5, 1},
		{1200, 5, 0},
		{5000, 5, 0},
		{^uint64(0), 5, 0},
	}
	for _, tc := range tests {
		evs, err := s.Events(tc.after, tc.limit)
		if err != nil {
			t.Fatalf("Events(%d, %d): %v", tc.after, tc.limit, err)
		}
		if len(evs) != tc.wantLen {
			t.Errorf("Events(%d, %d) returned %d events, want %d", tc.after, tc.limit, len(evs), tc.wantLen)
		}
		checkContiguous(t, evs, tc.after+1)
	}
}

func TestSubscribe(t *testing.T) {
	tests := []struct {
		name  string
		since uint64
	}{
		{"from zero", 0},
		{"from the middle", 5},
		{"from the end", 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openT(t, Options{Path: testPath(t)})
			appendN(t, s, 10, "before")
			sub := s.Subscribe(tc.since)
			if sub.Last() != tc.since {
				t.Fatalf("Last = %d", sub.Last())
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()

			// Events appended while the subscriber waits are delivered too.
			appended := make(chan error, 1)
			go func() {
				_, err := tryAppendN(s, 5, "after")
				appended <- err
			}()
			defer func() {
				if err := <-appended; err != nil {
					t.Error(err)
				}
			}()
			var got []Event
			for len(got) < int(15-tc.since) {
				evs, err := sub.Next(ctx)
				if err != nil {
					t.Fatalf("Next: %v", err)
				}
				got = append(got, evs...)
			}
			checkContiguous(t, got, tc.since+1)
			if len(got) != int(15-tc.since) || sub.Last() != 15 {
				t.Errorf("got %v, Last = %d", seqs(got), sub.Last())
			}
		})
	}
}

func TestSubscribeBatches(t *testing.T) {
	s := openT(t, Options{Path: testPath(t)})
	appendN(t, s, 600, "x")
	sub := s.Subscribe(0)
	ctx := context.Background()
	var sizes []int
	for sub.Last() < 600 {
		evs, err := sub.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		checkContiguous(t, evs, sub.Last()-uint64(len(evs))+1)
		sizes = append(sizes, len(evs))
	}
	if len(sizes) != 3 || sizes[0] != 256 || sizes[1] != 256 || sizes[2] != 88 {
		t.Errorf("batch sizes = %v, want [256 256 88]", sizes)
	}
}

func TestSlowSubscriberDoesNotBlockWriters(t *testing.T) {
	s := openT(t, Options{Path: testPath(t)})
	sub := s.Subscribe(0)
	other := s.Subscribe(0)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 300 {
			if _, err := tryAppendN(s, 1, "x"); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("writers blocked while nobody calls Next")
	}
	// The subscribers catch up afterwards, each at its own pace.
	var n int
	for sub.Last() < 300 {
		evs, err := sub.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		n += len(evs)
	}
	if n != 300 {
		t.Errorf("delivered %d events, want 300", n)
	}
	if evs, err := other.Next(context.Background()); err != nil || len(evs) != 256 || evs[0].Seq != 1 {
		t.Errorf("other subscriber: %d events, %v", len(evs), err)
	}
}

func TestSubscribeContextCancel(t *testing.T) {
	s := openT(t, Options{Path: testPath(t)})
	sub := s.Subscribe(0)

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := sub.Next(ctx)
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("Next after cancel = %v", err)
	}

	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := sub.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Next with deadline = %v", err)
	}
	if sub.Last() != 0 {
		t.Errorf("Last moved to %d", sub.Last())
	}
}

func TestCloseWakesNextAndWait(t *testing.T) {
	s := openT(t, Options{Path: testPath(t)})
	appendN(t, s, 1, "x")
	sub := s.Subscribe(1)
	nextErr := make(chan error, 1)
	waitErr := make(chan error, 1)
	go func() {
		_, err := sub.Next(context.Background())
		nextErr <- err
	}()
	go func() { waitErr <- s.Wait(context.Background(), 1) }()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-nextErr; !errors.Is(err, ErrClosed) {
		t.Errorf("Next = %v, want ErrClosed", err)
	}
	if err := <-waitErr; !errors.Is(err, ErrClosed) {
		t.Errorf("Wait = %v, want ErrClosed", err)
	}
}

func TestWait(t *testing.T) {
	s := openT(t, Options{Path: testPath(t)})
	appendN(t, s, 3, "x")
	if err := s.Wait(context.Background(), 2); err != nil {
		t.Errorf("Wait for an existing event = %v", err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Wait(cancelled, 2); err != nil {
		t.Errorf("Wait for an existing event with a cancelled ctx = %v", err)
	}
	if err := s.Wait(cancelled, 3); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait with a cancelled ctx = %v", err)
	}

	errc := make(chan error, 1)
	go func() { errc <- s.Wait(context.Background(), 4) }()
	appendN(t, s, 1, "x") // seq 4: not enough
	appendN(t, s, 1, "x") // seq 5
	if err := <-errc; err != nil {
		t.Errorf("Wait = %v", err)
	}
	if s.LastSeq() != 5 {
		t.Errorf("LastSeq = %d", s.LastSeq())
	}
}

func TestCursors(t *testing.T) {
	path := testPath(t)
	s := openT(t, Options{Path: path})
	appendN(t, s, 10, "x")
	if c, err := s.Cursor("cloud"); err != nil || c != 0 {
		t.Fatalf("unset cursor = %d, %v", c, err)
	}
	steps := []struct {
		seq     uint64
		wantErr bool
		want    uint64
	}{
		{5, false, 5},
		{3, true, 5},  // backwards
		{5, false, 5}, // same value: no-op
		{0, true, 5},  // backwards to zero
		{11, true, 5}, // beyond LastSeq
		{10, false, 10},
	}
	for _, st := range steps {
		err := s.SetCursor("cloud", st.seq)
		if (err != nil) != st.wantErr {
			t.Errorf("SetCursor(%d) = %v, wantErr %v", st.seq, err, st.wantErr)
		}
		if c, err := s.Cursor("cloud"); err != nil || c != st.want {
			t.Errorf("after SetCursor(%d): cursor = %d, %v; want %d", st.seq, c, err, st.want)
		}
	}
	if err := s.SetCursor("", 1); err == nil {
		t.Error("SetCursor with an empty name succeeded")
	}
	if err := s.SetCursor("ws", 0); err != nil {
		t.Errorf("SetCursor(0) on an unset cursor = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openT(t, Options{Path: path})
	if c, err := s2.Cursor("cloud"); err != nil || c != 10 {
		t.Errorf("cursor after reopen = %d, %v", c, err)
	}
}

func TestCompact(t *testing.T) {
	path := testPath(t)
	clock := newClock()
	t0 := clock.Now()
	s := openT(t, Options{Path: path, Now: clock.Now})
	for range 10 {
		clock.Advance(time.Minute) // event i has time t0 + i minutes
		appendN(t, s, 1, "x")
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.SetCursor("cloud", 8))
	must(s.SetCursor("ws", 6))

	sub := s.Subscribe(0)

	if _, err := s.Compact(nil, clock.Now()); err == nil {
		t.Error("Compact with no consumers succeeded")
	}

	steps := []struct {
		name      string
		ackedBy   []string
		olderThan time.Time
		removed   int
		firstSeq  uint64
	}{
		{"age limits", []string{"cloud", "ws"}, t0.Add(5*time.Minute + 30*time.Second), 5, 6},
		{"nothing older", []string{"cloud", "ws"}, t0, 0, 6},
		{"min cursor limits", []string{"cloud", "ws"}, clock.Now().Add(time.Hour), 1, 7},
		{"unknown consumer protects all", []string{"cloud", "never-acked"}, clock.Now().Add(time.Hour), 0, 7},
		{"one consumer", []string{"cloud"}, clock.Now().Add(time.Hour), 2, 9},
	}
	for _, st := range steps {
		n, err := s.Compact(st.ackedBy, st.olderThan)
		if err != nil || n != st.removed {
			t.Errorf("%s: Compact = %d, %v; want %d", st.name, n, err, st.removed)
		}
		if s.FirstSeq() != st.firstSeq {
			t.Errorf("%s: FirstSeq = %d, want %d", st.name, s.FirstSeq(), st.firstSeq)
		}
	}

	if _, err := s.Events(7, 0); !errors.Is(err, ErrCompacted) {
		t.Errorf("Events(7) with FirstSeq 9 = %v, want ErrCompacted", err)
	}
	if evs, err := s.Events(8, 0); err != nil || len(evs) != 2 || evs[0].Seq != 9 {
		t.Errorf("Events(8) = %v, %v", seqs(evs), err)
	}
	if _, err := sub.Next(context.Background()); !errors.Is(err, ErrCompacted) {
		t.Errorf("Next behind the compaction = %v, want ErrCompacted", err)
	}

	// Compacting everything empties the log but keeps the seq.
	must(s.SetCursor("cloud", 10))
	if n, err := s.Compact([]string{"cloud"}, clock.Now().Add(time.Hour)); err != nil || n != 2 {
		t.Errorf("Compact all = %d, %v", n, err)
	}
	if s.FirstSeq() != 0 || s.LastSeq() != 10 {
		t.Errorf("FirstSeq=%d LastSeq=%d after compacting all", s.FirstSeq(), s.LastSeq())
	}
	if evs, err := s.Events(10, 0); err != nil || len(evs) != 0 {
		t.Errorf("Events(10) on an empty log = %v, %v", evs, err)
	}
	if _, err := s.Events(9, 0); !errors.Is(err, ErrCompacted) {
		t.Errorf("Events(9) on an empty log = %v", err)
	}
	must(s.Check())
	must(s.Close())

	s2 := openT(t, Options{Path: path, Now: clock.Now})
	if s2.FirstSeq() != 0 || s2.LastSeq() != 10 {
		t.Errorf("after reopen FirstSeq=%d LastSeq=%d", s2.FirstSeq(), s2.LastSeq())
	}
	evs := appendN(t, s2, 1, "x")
	if evs[0].Seq != 11 || s2.FirstSeq() != 11 {
		t.Errorf("append after full compaction: seq %d, FirstSeq %d", evs[0].Seq, s2.FirstSeq())
	}
}

func TestCompactLarge(t *testing.T) {
	clock := newClock()
	s := openT(t, Options{Path: testPath(t), Now: clock.Now})
	const n = compactBatch + compactBatch/2
	appendN(t, s, n, "x")
	if err := s.SetCursor("cloud", n-1); err != nil {
		t.Fatal(err)
	}
	got, err := s.Compact([]string{"cloud"}, clock.Now().Add(time.Second))
	if err != nil || got != n-1 {
		t.Fatalf("Compact = %d, %v; want %d", got, err, n-1)
	}
	if s.FirstSeq() != n {
		t.Errorf("FirstSeq = %d", s.FirstSeq())
	}
	if err := s.Check(); err != nil {
		t.Error(err)
	}
}
