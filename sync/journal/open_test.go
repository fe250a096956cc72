package journal

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestErrLocked(t *testing.T) {
	path := testPath(t)
	openT(t, Options{Path: path})
	for _, readOnly := range []bool{false, true} {
		start := time.Now()
		s, err := Open(Options{Path: path, Timeout: 100 * time.Millisecond, ReadOnly: readOnly, Logger: quietLogger()})
		if err == nil {
			_ = s.Close()
			t.Fatalf("second Open (read-only %v) succeeded", readOnly)
		}
		if !errors.Is(err, ErrLocked) {
			t.Fatalf("second Open (read-only %v) = %v, want ErrLocked", readOnly, err)
		}
		if !strings.Contains(err.Error(), "is totemd already running?") || !strings.Contains(err.Error(), path) {
			t.Errorf("message %q lacks the hint or the path", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("gave up after %v", d)
		}
	}
}

func TestKioskID(t *testing.T) {
	path := testPath(t)
	s := openT(t, Options{Path: path, KioskID: "kiosk-A"})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	_, err := Open(Options{Path: path, KioskID: "kiosk-B", Logger: quietLogger()})
	if !errors.Is(err, ErrKioskMismatch) {
		t.Fatalf("Open with another kiosk id = %v, want ErrKioskMismatch", err)
	}
	for _, want := range []string{"kiosk-A", "kiosk-B", "move the state directory"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
	if _, err := Open(Options{Path: path, KioskID: "kiosk-B", ReadOnly: true, Logger: quietLogger()}); !errors.Is(err, ErrKioskMismatch) {
		t.Errorf("read-only Open with another kiosk id = %v", err)
	}

	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"same id", Options{Path: path, KioskID: "kiosk-A"}, "kiosk-A"},
		{"no id configured", Options{Path: path}, "kiosk-A"},
		{"read-only, no id", Options{Path: path, ReadOnly: true}, "kiosk-A"},
	}
	for _, tc := range tests {
		s := openT(t, tc.opts)
		if s.KioskID() != tc.want {
			t.Errorf("%s: KioskID = %q, want %q", tc.name, s.KioskID(), tc.want)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}

	// A file opened without an id gets one stored at the first open that has one.
	path2 := testPath(t)
	s = openT(t, Options{Path: path2})
	if s.KioskID() != "" {
		t.Errorf("KioskID = %q", s.KioskID())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openT(t, Options{Path: path2, KioskID: "kiosk-C"})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Options{Path: path2, KioskID: "kiosk-D", Logger: quietLogger()}); !errors.Is(err, ErrKioskMismatch) {
		t.Errorf("Open with another kiosk id = %v", err)
	}
}

func TestReadOnly(t *testing.T) {
	path := testPath(t)
	s := openT(t, Options{Path: path, KioskID: "k"})
	appendN(t, s, 5, "x")
	if err := s.SetCursor("cloud", 3); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	before, mtime := fileHash(t, path)

	ro := openT(t, Options{Path: path, ReadOnly: true})
	// Read-only opens share the lock.
	ro2 := openT(t, Options{Path: path, ReadOnly: true, Timeout: 100 * time.Millisecond})
	if ro.LastSeq() != 5 || ro2.LastSeq() != 5 || ro.FirstSeq() != 1 || ro.SchemaVersion() != 1 || ro.KioskID() != "k" {
		t.Errorf("LastSeq=%d FirstSeq=%d SchemaVersion=%d KioskID=%q", ro.LastSeq(), ro.FirstSeq(), ro.SchemaVersion(), ro.KioskID())
	}
	if evs, err := ro.Events(0, 0); err != nil || len(evs) != 5 {
		t.Errorf("Events = %d, %v", len(evs), err)
	}
	if c, err := ro.Cursor("cloud"); err != nil || c != 3 {
		t.Errorf("Cursor = %d, %v", c, err)
	}
	if err := ro.Check(); err != nil {
		t.Errorf("Check = %v", err)
	}
	if st, err := ro.Stats(); err != nil || st.Buckets[BucketEvents] != 5 || st.LastSeq != 5 || st.FirstSeq != 1 {
		t.Errorf("Stats = %+v, %v", st, err)
	}
	writes := map[string]error{
		"Update":    func() error { _, err := ro.Update(func(*Tx) error { return nil }); return err }(),
		"SetCursor": ro.SetCursor("cloud", 4),
		"Compact":   func() error { _, err := ro.Compact([]string{"cloud"}, time.Now()); return err }(),
		"Tx.Put":    ro.View(func(tx *Tx) error { return tx.Put(BucketSessions, "s", nil) }),
	}
	for name, err := range writes {
		if !errors.Is(err, ErrReadOnly) {
			t.Errorf("%s on a read-only store = %v, want ErrReadOnly", name, err)
		}
	}
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ro2.Close(); err != nil {
		t.Fatal(err)
	}
	if after, mtime2 := fileHash(t, path); after != before || !mtime2.Equal(mtime) {
		t.Error("a read-only open modified the file")
	}
}

// recordingMigrations returns the current migrations followed by extra ones
// that record the order in which they ran.
func recordingMigrations(extra int, ran *[]int) []migration {
	migs := slices.Clone(migrations)
	for i := range extra {
		v := len(migrations) + i + 1
		migs = append(migs, migration{
			version: v,
			name:    fmt.Sprintf("future %d", v),
			up: func(tx *bolt.Tx) error {
				// Each migration sees the previous one applied.
				if v > len(migrations)+1 && tx.Bucket(fmt.Appendf(nil, "future-%d", v-1)) == nil {
					return fmt.Errorf("migration %d ran before %d", v, v-1)
				}
				*ran = append(*ran, v)
				_, err := tx.CreateBucket(fmt.Appendf(nil, "future-%d", v))
				return err
			},
		})
	}
	return migs
}

func TestMigrationsApplyInOrder(t *testing.T) {
	t.Run("existing file", func(t *testing.T) {
		path := testPath(t)
		s := openT(t, Options{Path: path})
		appendN(t, s, 3, "x")
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		var ran []int
		migs := recordingMigrations(2, &ran)
		s2, err := open(Options{Path: path, Logger: quietLogger()}, migs)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ran, []int{2, 3}) || s2.SchemaVersion() != 3 || s2.LastSeq() != 3 {
			t.Errorf("ran %v, SchemaVersion %d, LastSeq %d", ran, s2.SchemaVersion(), s2.LastSeq())
		}
		if err := s2.Close(); err != nil {
			t.Fatal(err)
		}
		// Nothing runs twice.
		s3, err := open(Options{Path: path, Logger: quietLogger()}, migs)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ran, []int{2, 3}) || s3.SchemaVersion() != 3 {
			t.Errorf("after reopen ran %v, SchemaVersion %d", ran, s3.SchemaVersion())
		}
		if err := s3.Close(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("new file", func(t *testing.T) {
		var ran []int
		s, err := open(Options{Path: testPath(t), Logger: quietLogger()}, recordingMigrations(3, &ran))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if !slices.Equal(ran, []int{2, 3, 4}) || s.SchemaVersion() != 4 {
			t.Errorf("ran %v, SchemaVersion %d", ran, s.SchemaVersion())
		}
	})
	t.Run("read-only open of an older schema", func(t *testing.T) {
		path := testPath(t)
		s := openT(t, Options{Path: path})
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		before, _ := fileHash(t, path)
		var ran []int
		ro, err := open(Options{Path: path, ReadOnly: true, Logger: quietLogger()}, recordingMigrations(2, &ran))
		if err != nil {
			t.Fatal(err)
		}
		if len(ran) != 0 || ro.SchemaVersion() != 1 {
			t.Errorf("read-only open ran %v, SchemaVersion %d", ran, ro.SchemaVersion())
		}
		if err := ro.Close(); err != nil {
			t.Fatal(err)
		}
		if after, _ := fileHash(t, path); after != before {
			t.Error("read-only open modified the file")
		}
	})
	t.Run("failing migration", func(t *testing.T) {
		path := testPath(t)
		s := openT(t, Options{Path: path})
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		migs := append(slices.Clone(migrations), migration{version: 2, name: "broken", up: func(tx *bolt.Tx) error {
			if _, err := tx.CreateBucket([]byte("half-done")); err != nil {
				return err
			}
			return errors.New("disk on fire")
		}})
		if _, err := open(Options{Path: path, Logger: quietLogger()}, migs); err == nil || !strings.Contains(err.Error(), "disk on fire") {
			t.Fatalf("open with a failing migration = %v", err)
		}
		s2 := openT(t, Options{Path: path})
		if s2.SchemaVersion() != 1 {
			t.Errorf("SchemaVersion = %d after a failed migration", s2.SchemaVersion())
		}
		if st, err := s2.Stats(); err != nil {
			t.Fatal(err)
		} else if _, ok := st.Buckets["half-done"]; ok {
			t.Error("the failed migration was partly committed")
		}
	})
}

func TestSchemaTooNewIsRefusedUntouched(t *testing.T) {
	path := testPath(t)
	var ran []int
	s, err := open(Options{Path: path, KioskID: "k", Logger: quietLogger()}, recordingMigrations(2, &ran))
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, s, 3, "x")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	before, mtime := fileHash(t, path)

	for _, opts := range []Options{
		{Path: path, KioskID: "k"},
		{Path: path, KioskID: "other"}, // the schema is refused before anything else
		{Path: path, ReadOnly: true},
	} {
		opts.Logger = quietLogger()
		_, err := Open(opts)
		if !errors.Is(err, ErrSchemaTooNew) {
			t.Errorf("Open(%+v) = %v, want ErrSchemaTooNew", opts, err)
		} else if !strings.Contains(err.Error(), "version 3") {
			t.Errorf("message %q does not name the version", err)
		}
	}
	if after, mtime2 := fileHash(t, path); after != before || !mtime2.Equal(mtime) {
		t.Error("the newer file was modified")
	}
	// It was not left locked either.
	s2, err := open(Options{Path: path, Timeout: 100 * time.Millisecond, Logger: quietLogger()}, recordingMigrations(2, &ran))
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestValidateMigrations(t *testing.T) {
	up := func(*bolt.Tx) error { return nil }
	tests := []struct {
		name string
		migs []migration
		ok   bool
	}{
		{"package list", migrations, true},
		{"empty", nil, false},
		{"starts at 2", []migration{{2, "a", up}}, false},
		{"gap", []migration{{1, "a", up}, {3, "b", up}}, false},
		{"out of order", []migration{{2, "a", up}, {1, "b", up}}, false},
		{"no name", []migration{{1, "", up}}, false},
		{"no function", []migration{{1, "a", nil}}, false},
	}
	for _, tc := range tests {
		if err := validateMigrations(tc.migs); (err == nil) != tc.ok {
			t.Errorf("%s: validateMigrations = %v", tc.name, err)
		}
	}
}
