package journal

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeClock is an injectable clock for Options.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testPath returns a path for a journal file in a fresh temporary directory.
func testPath(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "state", "totemd.db")
}

// openT opens a store and closes it at the end of the test.
func openT(t testing.TB, opts Options) *Store {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	s, err := Open(opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", opts.Path, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// appendN appends n events of the given type in one Update.
func appendN(t testing.TB, s *Store, n int, typ string) []Event {
	t.Helper()
	evs, err := tryAppendN(s, n, typ)
	if err != nil {
		t.Fatalf("appendN: %v", err)
	}
	return evs
}

// tryAppendN is appendN for goroutines other than the test's.
func tryAppendN(s *Store, n int, typ string) ([]Event, error) {
	return s.Update(func(tx *Tx) error {
		for i := range n {
			data := json.RawMessage(fmt.Sprintf(`{"i":%d,"pad":"%s"}`, i, bytes.Repeat([]byte("x"), 64)))
			if _, err := tx.Append(Event{Type: typ, SessionID: fmt.Sprintf("s-%d", i), Data: data}); err != nil {
				return err
			}
		}
		return nil
	})
}

// fileHash returns the SHA-256 of the file and its modification time.
func fileHash(t testing.TB, path string) ([32]byte, time.Time) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b), fi.ModTime()
}

// seqs returns the Seq of each event.
func seqs(evs []Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, e := range evs {
		out[i] = e.Seq
	}
	return out
}

// checkContiguous fails unless evs have seqs from, from+1, ...
func checkContiguous(t testing.TB, evs []Event, from uint64) {
	t.Helper()
	for i, e := range evs {
		if want := from + uint64(i); e.Seq != want {
			t.Fatalf("event #%d has seq %d, want %d (seqs %v)", i, e.Seq, want, seqs(evs))
		}
	}
}
