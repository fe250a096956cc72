package journal

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// baseFile builds a healthy journal with enough events for the events bucket
// to span several pages, and returns its path.
func baseFile(t *testing.T) string {
	t.Helper()
	path := testPath(t)
	s := openT(t, Options{Path: path, KioskID: "kiosk-1"})
	for range 4 {
		appendN(t, s, 50, "session.created")
	}
	if _, err := s.Update(func(tx *Tx) error {
		if _, err := tx.NextCounter(BucketCounters, "ticket"); err != nil {
			return err
		}
		return tx.Put(BucketSessions, "s-1", []byte(`{"id":"s-1"}`))
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetCursor("cloud", 150); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// copyFile copies src to a new file in a fresh directory.
func copyFile(t *testing.T, src string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return dst
}

// rawUpdate modifies a journal file behind the package's back.
func rawUpdate(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRefusesLogicalCorruption(t *testing.T) {
	base := baseFile(t)
	events := []byte(BucketEvents)
	tests := []struct {
		name   string
		mutate func(tx *bolt.Tx) error
	}{
		{"gap in the event keys", func(tx *bolt.Tx) error {
			b := tx.Bucket(events)
			if err := b.Put(seqKey(202), []byte(`{"seq":202,"type":"x"}`)); err != nil {
				return err
			}
			return b.SetSequence(202)
		}},
		{"key in the middle deleted", func(tx *bolt.Tx) error { return tx.Bucket(events).Delete(seqKey(100)) }},
		{"JSON seq does not match the key", func(tx *bolt.Tx) error {
			return tx.Bucket(events).Put(seqKey(5), []byte(`{"seq":6,"type":"x"}`))
		}},
		{"value is not JSON", func(tx *bolt.Tx) error { return tx.Bucket(events).Put(seqKey(7), []byte("garbage")) }},
		{"key is not 8 bytes", func(tx *bolt.Tx) error { return tx.Bucket(events).Put([]byte("abc"), []byte(`{}`)) }},
		{"key zero", func(tx *bolt.Tx) error { return tx.Bucket(events).Put(seqKey(0), []byte(`{"seq":0,"type":"x"}`)) }},
		{"sequence below the last key", func(tx *bolt.Tx) error { return tx.Bucket(events).SetSequence(100) }},
		{"event without type", func(tx *bolt.Tx) error { return tx.Bucket(events).Put(seqKey(9), []byte(`{"seq":9}`)) }},
		{"schema_version missing", func(tx *bolt.Tx) error {
			return tx.Bucket([]byte(BucketMeta)).Delete([]byte(keySchemaVersion))
		}},
		{"schema_version malformed", func(tx *bolt.Tx) error {
			return tx.Bucket([]byte(BucketMeta)).Put([]byte(keySchemaVersion), []byte{1})
		}},
		{"meta bucket missing", func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte(BucketMeta)) }},
		{"events bucket missing", func(tx *bolt.Tx) error { return tx.DeleteBucket(events) }},
		{"cursor beyond the last event", func(tx *bolt.Tx) error {
			return tx.Bucket([]byte(BucketCursors)).Put([]byte("cloud"), seqKey(500))
		}},
		{"cursor malformed", func(tx *bolt.Tx) error {
			return tx.Bucket([]byte(BucketCursors)).Put([]byte("cloud"), []byte("x"))
		}},
		{"counter malformed", func(tx *bolt.Tx) error {
			return tx.Bucket([]byte(BucketCounters)).Put([]byte("ticket"), []byte("xyz"))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := copyFile(t, base)
			rawUpdate(t, path, tc.mutate)
			before, _ := fileHash(t, path)
			for _, readOnly := range []bool{false, true} {
				s, err := Open(Options{Path: path, ReadOnly: readOnly, Logger: quietLogger()})
				if err == nil {
					_ = s.Close()
					t.Fatalf("Open (read-only %v) accepted a corrupt file", readOnly)
				}
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Open (read-only %v) = %v, want ErrCorrupt", readOnly, err)
				}
				t.Logf("read-only %v: %v", readOnly, err)
			}
			if after, _ := fileHash(t, path); after != before {
				t.Error("Open modified the corrupt file")
			}
		})
	}
}

// pageGeometry returns the page size and the root page of the events bucket.
func pageGeometry(t *testing.T, path string) (pageSize int, eventsRoot uint64) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pageSize = db.Info().PageSize
	err = db.View(func(tx *bolt.Tx) error {
		eventsRoot = uint64(tx.Bucket([]byte(BucketEvents)).Root())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pageSize, eventsRoot
}

func overwritePage(t *testing.T, path string, pageSize int, pgid uint64, fill func([]byte)) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, pageSize)
	fill(buf)
	if _, err := f.WriteAt(buf, int64(pgid)*int64(pageSize)); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRefusesGarbagePage(t *testing.T) {
	base := baseFile(t)
	pageSize, root := pageGeometry(t, base)
	if root == 0 {
		t.Fatal("events bucket is inline: the test needs a real page")
	}
	path := copyFile(t, base)
	rng := rand.New(rand.NewPCG(1, 2))
	overwritePage(t, path, pageSize, root, func(b []byte) {
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
	})
	before, _ := fileHash(t, path)
	_, err := Open(Options{Path: path, Logger: quietLogger()})
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open = %v, want ErrCorrupt", err)
	}
	t.Log(err)
	if after, _ := fileHash(t, path); after != before {
		t.Error("Open modified the corrupt file")
	}
}

// TestOpenSurvivesAnyDamagedPage overwrites each page of a real file in turn
// (random bytes, then zeros). Open must never panic: it either refuses the
// file with ErrCorrupt or, when the page was free, opens a file that passes
// Check.
func TestOpenSurvivesAnyDamagedPage(t *testing.T) {
	base := baseFile(t)
	pageSize, _ := pageGeometry(t, base)
	fi, err := os.Stat(base)
	if err != nil {
		t.Fatal(err)
	}
	pages := uint64(fi.Size()) / uint64(pageSize)
	rng := rand.New(rand.NewPCG(3, 4))
	fills := map[string]func([]byte){
		"random": func(b []byte) {
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
		},
		"zeros": func(b []byte) { clear(b) },
	}
	var refused, opened int
	for name, fill := range fills {
		for pgid := uint64(0); pgid < pages; pgid++ {
			path := copyFile(t, base)
			overwritePage(t, path, pageSize, pgid, fill)
			for _, readOnly := range []bool{true, false} {
				s, err := Open(Options{Path: path, ReadOnly: readOnly, Timeout: time.Second, Logger: quietLogger()})
				if err != nil {
					if !errors.Is(err, ErrCorrupt) {
						t.Errorf("%s page %d, read-only %v: Open = %v, want ErrCorrupt", name, pgid, readOnly, err)
					}
					refused++
					continue
				}
				opened++
				if err := s.Check(); err != nil {
					t.Errorf("%s page %d, read-only %v: opened, then Check = %v", name, pgid, readOnly, err)
				}
				if _, err := s.Events(0, 0); err != nil {
					t.Errorf("%s page %d, read-only %v: opened, then Events = %v", name, pgid, readOnly, err)
				}
				if err := s.Close(); err != nil {
					t.Error(err)
				}
			}
		}
	}
	t.Logf("%d pages: %d opens of a damaged copy refused, %d opened (free page or spare meta page)", pages, refused, opened)
	if refused == 0 {
		t.Error("no damaged copy was refused")
	}
}

func TestOpenRefusesTruncatedAndForeignFiles(t *testing.T) {
	base := baseFile(t)
	truncated := copyFile(t, base)
	fi, err := os.Stat(truncated)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(truncated, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(t.TempDir(), "foreign.db")
	junk := make([]byte, 64<<10)
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range junk {
		junk[i] = byte(rng.Uint32())
	}
	if err := os.WriteFile(foreign, junk, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, path := range map[string]string{"truncated": truncated, "foreign": foreign} {
		for _, readOnly := range []bool{false, true} {
			_, err := Open(Options{Path: path, ReadOnly: readOnly, Timeout: 200 * time.Millisecond, Logger: quietLogger()})
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s (read-only %v): Open = %v, want ErrCorrupt", name, readOnly, err)
			}
			t.Logf("%s (read-only %v): %v", name, readOnly, err)
		}
	}
}

func TestCheckWhileWriting(t *testing.T) {
	s := openT(t, Options{Path: testPath(t)})
	appendN(t, s, 100, "x")
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for ctx.Err() == nil {
				if _, err := tryAppendN(s, 10, "x"); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for range 5 {
		if err := s.Check(); err != nil {
			t.Errorf("Check = %v", err)
		}
		if _, err := s.Stats(); err != nil {
			t.Errorf("Stats = %v", err)
		}
	}
	cancel()
	wg.Wait()
}
