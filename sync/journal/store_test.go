package journal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestOpenCreatesFile(t *testing.T) {
	path := testPath(t)
	s := openT(t, Options{Path: path, KioskID: "kiosk-1"})

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("file mode = %v, want 0600", got)
	}
	di, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if got := di.Mode().Perm(); got != 0o700 {
		t.Errorf("dir mode = %v, want 0700", got)
	}
	if s.Path() != path || s.KioskID() != "kiosk-1" || s.SchemaVersion() != 1 {
		t.Errorf("Path=%q KioskID=%q SchemaVersion=%d", s.Path(), s.KioskID(), s.SchemaVersion())
	}
	if s.FirstSeq() != 0 || s.LastSeq() != 0 {
		t.Errorf("FirstSeq=%d LastSeq=%d on a new file", s.FirstSeq(), s.LastSeq())
	}
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{BucketMeta, BucketSessions, BucketEvents, BucketCursors, BucketCounters} {
		if _, ok := st.Buckets[b]; !ok {
			t.Errorf("bucket %q missing: %v", b, st.Buckets)
		}
	}
	if st.Buckets[BucketMeta] != 2 || st.SizeBytes <= 0 || st.SchemaVersion != 1 {
		t.Errorf("stats = %+v", st)
	}
	if err := s.Check(); err != nil {
		t.Errorf("Check on a new file: %v", err)
	}
}

func TestOpenNarrowsPermissions(t *testing.T) {
	path := testPath(t)
	s := openT(t, Options{Path: path})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil))
	openT(t, Options{Path: path, Logger: logger})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("file mode = %v, want 0600", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "too wide") {
		t.Errorf("no warning logged: %s", logs.String())
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(Options{}); err == nil {
		t.Error("Open with empty path succeeded")
	}
	missing := filepath.Join(t.TempDir(), "nope.db")
	if _, err := Open(Options{Path: missing, ReadOnly: true, Logger: quietLogger()}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("read-only open of a missing file: %v, want fs.ErrNotExist", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Error("read-only open created the file")
	}
	if _, err := Open(Options{Path: t.TempDir(), Logger: quietLogger()}); err == nil {
		t.Error("Open of a directory succeeded")
	}
}

func TestUpdateAtomicity(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name string
		fn   func(tx *Tx) error
	}{
		{"error before writing", func(tx *Tx) error { return boom }},
		{"append then error", func(tx *Tx) error {
			if _, err := tx.Append(Event{Type: "session.created", SessionID: "s1"}); err != nil {
				return err
			}
			return boom
		}},
		{"put, counter, append then error", func(tx *Tx) error {
			if err := tx.Put(BucketSessions, "s1", []byte(`{"id":"s1"}`)); err != nil {
				return err
			}
			if _, err := tx.NextCounter(BucketCounters, "ticket"); err != nil {
				return err
			}
			if _, err := tx.Append(Event{Type: "session.created", SessionID: "s1"}); err != nil {
				return err
			}
			return boom
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := testPath(t)
			s := openT(t, Options{Path: path})
			changed := s.Changed()
			evs, err := s.Update(tc.fn)
			if !errors.Is(err, boom) || evs != nil {
				t.Fatalf("Update = %v, %v; want nil, boom", evs, err)
			}
			select {
			case <-changed:
				t.Fatal("Changed was closed by a failed Update")
			default:
			}
			if s.LastSeq() != 0 || s.FirstSeq() != 0 {
				t.Fatalf("LastSeq=%d FirstSeq=%d after a failed Update", s.LastSeq(), s.FirstSeq())
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s2 := openT(t, Options{Path: path})
			if s2.LastSeq() != 0 {
				t.Errorf("LastSeq after reopen = %d", s2.LastSeq())
			}
			err = s2.View(func(tx *Tx) error {
				if v := tx.Get(BucketSessions, "s1"); v != nil {
					t.Errorf("session written: %s", v)
				}
				if v := tx.Get(BucketCounters, "ticket"); v != nil {
					t.Errorf("counter written: %x", v)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if evs, err := s2.Events(0, 0); err != nil || len(evs) != 0 {
				t.Errorf("Events = %v, %v", evs, err)
			}
			// The next event still gets seq 1: no gap.
			if got := appendN(t, s2, 1, "x"); got[0].Seq != 1 {
				t.Errorf("first seq after a failed Update = %d", got[0].Seq)
			}
		})
	}
}

func TestUpdatePanicRollsBack(t *testing.T) {
	s := openT(t, Options{Path: testPath(t)})
	func() {
		defer func() {
			if recover() == nil {
				t.Error("panic was swallowed")
			}
		}()
		_, _ = s.Update(func(tx *Tx) error {
			if _, err := tx.Append(Event{Type: "x"}); err != nil {
				return err
			}
			panic("fn panicked")
		})
	}()
	if s.LastSeq() != 0 {
		t.Errorf("LastSeq = %d", s.LastSeq())
	}
	// The store is still usable: locks were released.
	if got := appendN(t, s, 1, "x"); got[0].Seq != 1 {
		t.Errorf("seq = %d, want 1", got[0].Seq)
	}
}

func TestUpdateDurableAcrossReopen(t *testing.T) {
	path := testPath(t)
	clock := newClock()
	s := openT(t, Options{Path: path, Now: clock.Now})
	changed := s.Changed()
	evs, err := s.Update(func(tx *Tx) error {
		if err := tx.Put(BucketSessions, "s1", []byte(`{"id":"s1","amount":1500}`)); err != nil {
			return err
		}
		if _, err := tx.Append(Event{Type: "session.created", SessionID: "s1", Data: json.RawMessage(`{ "amount" : 1500 }`)}); err != nil {
			return err
		}
		at := clock.Now().Add(-time.Minute)
		_, err := tx.Append(Event{Type: "session.paid", SessionID: "s1", Time: at})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	default:
		t.Fatal("Changed not closed after a commit with events")
	}
	if len(evs) != 2 || evs[0].Seq != 1 || evs[1].Seq != 2 {
		t.Fatalf("appended = %+v", evs)
	}
	if !evs[0].Time.Equal(clock.Now()) || !evs[1].Time.Equal(clock.Now().Add(-time.Minute)) {
		t.Errorf("times = %v, %v", evs[0].Time, evs[1].Time)
	}
	if string(evs[0].Data) != `{"amount":1500}` {
		t.Errorf("data = %s", evs[0].Data)
	}
	// An Update without events does not wake anybody.
	changed = s.Changed()
	if _, err := s.Update(func(tx *Tx) error { return tx.Put(BucketSessions, "s2", []byte(`{}`)) }); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
		t.Fatal("Changed closed by a commit without events")
	default:
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := openT(t, Options{Path: path})
	if s2.LastSeq() != 2 || s2.FirstSeq() != 1 {
		t.Errorf("after reopen LastSeq=%d FirstSeq=%d", s2.LastSeq(), s2.FirstSeq())
	}
	got, err := s2.Events(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, evs) {
		t.Errorf("read back %+v\nappended %+v", got, evs)
	}
	err = s2.View(func(tx *Tx) error {
		if v := tx.Get(BucketSessions, "s1"); string(v) != `{"id":"s1","amount":1500}` {
			t.Errorf("session = %s", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentWritersSeqs(t *testing.T) {
	const writers, updates = 8, 50
	path := testPath(t)
	s := openT(t, Options{Path: path})

	// A subscriber follows the writers and must see every event in order.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sub := s.Subscribe(0)
	subDone := make(chan []Event)
	go func() {
		var all []Event
		for len(all) < writers*updates*2 {
			evs, err := sub.Next(ctx)
			if err != nil {
				t.Errorf("Next: %v", err)
				break
			}
			all = append(all, evs...)
		}
		subDone <- all
	}()

	var mu sync.Mutex
	var got []uint64
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range updates {
				evs, err := s.Update(func(tx *Tx) error {
					for j := range 2 {
						if _, err := tx.Append(Event{Type: "t", SessionID: fmt.Sprintf("w%d-%d-%d", w, i, j)}); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					t.Errorf("Update: %v", err)
					return
				}
				if evs[1].Seq != evs[0].Seq+1 {
					t.Errorf("events of one Update not consecutive: %v", seqs(evs))
				}
				mu.Lock()
				got = append(got, seqs(evs)...)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(got)
	for i, seq := range got {
		if seq != uint64(i+1) {
			t.Fatalf("seqs have a gap or duplicate at %d: %d", i, seq)
		}
	}
	all := <-subDone
	checkContiguous(t, all, 1)
	if s.LastSeq() != writers*updates*2 {
		t.Errorf("LastSeq = %d", s.LastSeq())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := openT(t, Options{Path: path})
	if s2.LastSeq() != writers*updates*2 {
		t.Errorf("LastSeq after reopen = %d", s2.LastSeq())
	}
	evs := appendN(t, s2, 3, "after-reopen")
	checkContiguous(t, evs, writers*updates*2+1)
	read, err := s2.Events(0, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	checkContiguous(t, read, 1)
	if len(read) != writers*updates*2+3 {
		t.Errorf("read %d events", len(read))
	}
}

func TestTxOperations(t *testing.T) {
	s := openT(t, Options{Path: testPath(t)})
	_, err := s.Update(func(tx *Tx) error {
		buf := []byte("v1")
		if err := tx.Put("custom", "b", buf); err != nil { // creates the bucket
			return err
		}
		buf[0] = 'X' // Put copied the value
		for _, k := range []string{"a", "c", "d"} {
			if err := tx.Put("custom", k, []byte("val-"+k)); err != nil {
				return err
			}
		}
		if err := tx.Put("custom", "empty", nil); err != nil {
			return err
		}
		for i := uint64(1); i <= 3; i++ {
			n, err := tx.NextCounter(BucketCounters, "ticket")
			if err != nil || n != i {
				t.Errorf("NextCounter = %d, %v; want %d", n, err, i)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	err = s.View(func(tx *Tx) error {
		if v := tx.Get("custom", "b"); string(v) != "v1" {
			t.Errorf("Get b = %q", v)
		}
		v := tx.Get("custom", "a")
		v[0] = 'Z' // a copy: the file is not affected
		if v := tx.Get("custom", "a"); string(v) != "val-a" {
			t.Errorf("Get a = %q", v)
		}
		if v := tx.Get("custom", "empty"); v == nil || len(v) != 0 {
			t.Errorf("Get empty = %#v, want non-nil empty", v)
		}
		if tx.Get("custom", "missing") != nil || tx.Get("no-such-bucket", "a") != nil {
			t.Error("Get of an absent key or bucket is not nil")
		}
		var keys []string
		if err := tx.ForEach("custom", func(k string, v []byte) error { keys = append(keys, k); return nil }); err != nil {
			return err
		}
		if want := []string{"a", "b", "c", "d", "empty"}; !slices.Equal(keys, want) {
			t.Errorf("ForEach keys = %v, want %v", keys, want)
		}
		keys = nil
		err := tx.ForEachReverse("custom", func(k string, v []byte) error {
			keys = append(keys, k)
			if k == "c" {
				return Stop
			}
			return nil
		})
		if err != nil {
			t.Errorf("ForEachReverse with Stop = %v", err)
		}
		if want := []string{"empty", "d", "c"}; !slices.Equal(keys, want) {
			t.Errorf("ForEachReverse keys = %v, want %v", keys, want)
		}
		boom := errors.New("boom")
		if err := tx.ForEach("custom", func(string, []byte) error { return boom }); !errors.Is(err, boom) {
			t.Errorf("ForEach error = %v", err)
		}
		if err := tx.ForEach("no-such-bucket", func(string, []byte) error { return boom }); err != nil {
			t.Errorf("ForEach of an absent bucket = %v", err)
		}
		if n, ok := decodeU64(tx.Get(BucketCounters, "ticket")); !ok || n != 3 {
			t.Errorf("counter = %d", n)
		}
		// Writes are refused in View.
		if err := tx.Put("custom", "x", nil); !errors.Is(err, ErrReadOnly) {
			t.Errorf("Put in View = %v", err)
		}
		if err := tx.Delete("custom", "a"); !errors.Is(err, ErrReadOnly) {
			t.Errorf("Delete in View = %v", err)
		}
		if _, err := tx.Append(Event{Type: "x"}); !errors.Is(err, ErrReadOnly) {
			t.Errorf("Append in View = %v", err)
		}
		if _, err := tx.NextCounter(BucketCounters, "x"); !errors.Is(err, ErrReadOnly) {
			t.Errorf("NextCounter in View = %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	var leaked *Tx
	_, err = s.Update(func(tx *Tx) error {
		leaked = tx
		if err := tx.Delete("custom", "a"); err != nil {
			return err
		}
		if err := tx.Delete("custom", "never-there"); err != nil {
			t.Errorf("Delete of an absent key = %v", err)
		}
		if err := tx.Delete("no-such-bucket", "a"); err != nil {
			t.Errorf("Delete in an absent bucket = %v", err)
		}
		refused := []struct {
			name string
			err  error
		}{
			{"put in events", tx.Put(BucketEvents, "k", nil)},
			{"delete in events", tx.Delete(BucketEvents, seqKeyString(1))},
			{"put schema_version", tx.Put(BucketMeta, keySchemaVersion, seqKey(9))},
			{"delete schema_version", tx.Delete(BucketMeta, keySchemaVersion)},
			{"put empty key", tx.Put("custom", "", nil)},
			{"put empty bucket", tx.Put("", "k", nil)},
			{"append without type", appendErr(tx, Event{})},
			{"append invalid data", appendErr(tx, Event{Type: "x", Data: json.RawMessage(`{not json`)})},
		}
		for _, r := range refused {
			if r.err == nil {
				t.Errorf("%s: accepted", r.name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.LastSeq() != 0 {
		t.Errorf("refused appends moved LastSeq to %d", s.LastSeq())
	}
	// A Tx kept after its Update is dead.
	if err := leaked.Put("custom", "late", nil); err == nil {
		t.Error("Put on a finished Tx succeeded")
	}
	if leaked.Get("custom", "b") != nil {
		t.Error("Get on a finished Tx returned a value")
	}
	err = s.View(func(tx *Tx) error {
		if tx.Get("custom", "a") != nil {
			t.Error("a not deleted")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// A malformed counter is reported, not silently restarted.
	if _, err := s.Update(func(tx *Tx) error { return tx.Put(BucketCounters, "bad", []byte("xyz")) }); err != nil {
		t.Fatal(err)
	}
	_, err = s.Update(func(tx *Tx) error {
		_, err := tx.NextCounter(BucketCounters, "bad")
		return err
	})
	if !errors.Is(err, ErrCorrupt) {
		t.Errorf("NextCounter on a malformed value = %v", err)
	}
}

func seqKeyString(n uint64) string { return string(seqKey(n)) }

func appendErr(tx *Tx, e Event) error {
	_, err := tx.Append(e)
	return err
}

func TestCloseIdempotentAndAfterClose(t *testing.T) {
	s := openT(t, Options{Path: testPath(t)})
	appendN(t, s, 2, "x")
	changed := s.Changed()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	select {
	case <-changed:
	default:
		t.Error("Close did not close Changed")
	}
	select {
	case <-s.Changed():
	default:
		t.Error("Changed after Close is not closed")
	}
	checks := map[string]error{
		"Update":    func() error { _, err := s.Update(func(*Tx) error { return nil }); return err }(),
		"View":      s.View(func(*Tx) error { return nil }),
		"Events":    func() error { _, err := s.Events(0, 0); return err }(),
		"Cursor":    func() error { _, err := s.Cursor("c"); return err }(),
		"SetCursor": s.SetCursor("c", 1),
		"Compact":   func() error { _, err := s.Compact([]string{"c"}, time.Now()); return err }(),
		"Check":     s.Check(),
		"Stats":     func() error { _, err := s.Stats(); return err }(),
		"Wait":      s.Wait(context.Background(), 5),
		"Next":      func() error { _, err := s.Subscribe(2).Next(context.Background()); return err }(),
	}
	for name, err := range checks {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
	if s.LastSeq() != 2 {
		t.Errorf("LastSeq after Close = %d", s.LastSeq())
	}
}

func TestCloseWaitsForInFlightUpdate(t *testing.T) {
	s := openT(t, Options{Path: testPath(t)})
	inFn := make(chan struct{})
	release := make(chan struct{})
	result := make(chan error, 1)
	go func() {
		_, err := s.Update(func(tx *Tx) error {
			close(inFn)
			<-release
			_, err := tx.Append(Event{Type: "late"})
			return err
		})
		result <- err
	}()
	<-inFn
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	// Close cannot finish while the Update is in flight; let it go.
	close(release)
	if err := <-result; err != nil {
		t.Errorf("in-flight Update = %v", err)
	}
	if err := <-closed; err != nil {
		t.Errorf("Close = %v", err)
	}
	if s.LastSeq() != 1 {
		t.Errorf("LastSeq = %d", s.LastSeq())
	}
}
