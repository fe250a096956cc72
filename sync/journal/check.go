package journal

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
)

// maxProblems bounds how many problems a failed Check lists.
const maxProblems = 10

// Check verifies the integrity of the file: bbolt's own consistency check
// (page reachability, freelist, key order) plus the journal's invariants:
// meta/schema_version is present; the events keys are 8-byte big-endian seqs,
// contiguous and ascending, each holding JSON whose seq matches its key, and
// the events bucket sequence is at least the last key; cursors and counters
// are 8-byte values, and no cursor is beyond the last event.
//
// A failure is ErrCorrupt wrapped with the details. Check never modifies the
// file. On a writable store it runs inside a write transaction (rolled back),
// so writers wait until it ends; it reads the whole file.
func (s *Store) Check() error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.release()
	if s.readOnly {
		return checkDB(s.db, false)
	}
	// bbolt's check is safe next to writers only inside a write transaction.
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	return checkDB(s.db, true)
}

// checkDB runs Check in a transaction that is always rolled back. A panic or
// a memory fault caused by a damaged page becomes ErrCorrupt.
func checkDB(db *bolt.DB, writable bool) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	tx, err := db.Begin(writable)
	if err != nil {
		return mapErr(err)
	}
	defer func() { _ = tx.Rollback() }()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s: reading the file failed: %v", ErrCorrupt, db.Path(), r)
		}
	}()

	var p problems
	// First touch every key and value ourselves, on this goroutine where a
	// fault on a damaged page is recoverable; bbolt's check runs in a
	// goroutine of its own where it would crash the process.
	_ = tx.ForEach(func(name []byte, b *bolt.Bucket) error {
		touchBucket(b, 0)
		return nil
	})
	for cerr := range tx.Check() {
		p.add("bbolt: %v", cerr)
	}
	checkInvariants(tx, &p)
	if p.n > 0 {
		return fmt.Errorf("%w: %s: %s", ErrCorrupt, db.Path(), p.String())
	}
	return nil
}

// sink keeps the reads of touchBucket from being optimised away.
var sink atomic.Uint32

// touchBucket reads the first and last byte of every key and value of b and
// of its nested buckets.
func touchBucket(b *bolt.Bucket, depth int) {
	if depth > 64 {
		panic("buckets nested more than 64 deep")
	}
	var x byte
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(k) > 0 {
			x ^= k[0] ^ k[len(k)-1]
		}
		if v == nil {
			if child := b.Bucket(k); child != nil {
				touchBucket(child, depth+1)
			}
			continue
		}
		if len(v) > 0 {
			x ^= v[0] ^ v[len(v)-1]
		}
	}
	sink.Add(uint32(x))
}

// checkInvariants checks the journal's own invariants.
func checkInvariants(tx *bolt.Tx, p *problems) {
	meta := tx.Bucket([]byte(BucketMeta))
	if meta == nil {
		p.add("bucket %q is missing", BucketMeta)
	} else if raw := meta.Get([]byte(keySchemaVersion)); raw == nil {
		p.add("meta/%s is missing", keySchemaVersion)
	} else if v, ok := decodeU64(raw); !ok || v == 0 {
		p.add("meta/%s is malformed (%x)", keySchemaVersion, raw)
	}

	events := tx.Bucket([]byte(BucketEvents))
	if events == nil {
		p.add("bucket %q is missing", BucketEvents)
		return
	}
	var prev uint64
	c := events.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		seq, ok := decodeU64(k)
		switch {
		case !ok:
			p.add("events: key %x is not an 8-byte seq", k)
			continue
		case v == nil:
			p.add("events: key %d is a nested bucket", seq)
			continue
		case seq == 0:
			p.add("events: key 0 (seqs start at 1)")
		case prev != 0 && seq != prev+1:
			p.add("events: key %d follows %d (keys must be contiguous)", seq, prev)
		}
		var hdr struct {
			Seq  uint64 `json:"seq"`
			Type string `json:"type"`
		}
		if err := json.Unmarshal(v, &hdr); err != nil {
			p.add("events: value of key %d is not an event: %v", seq, err)
		} else if hdr.Seq != seq {
			p.add("events: key %d holds an event with seq %d", seq, hdr.Seq)
		} else if hdr.Type == "" {
			p.add("events: event %d has no type", seq)
		}
		prev = seq
	}
	last := events.Sequence()
	if prev > last {
		p.add("events: bucket sequence %d is below the last key %d", last, prev)
	}

	if cursors := tx.Bucket([]byte(BucketCursors)); cursors != nil {
		_ = cursors.ForEach(func(k, v []byte) error {
			if n, ok := decodeU64(v); !ok {
				p.add("cursors: %q is not an 8-byte seq (%x)", k, v)
			} else if n > last {
				p.add("cursors: %q is at %d, beyond the last event %d", k, n, last)
			}
			return nil
		})
	}
	if counters := tx.Bucket([]byte(BucketCounters)); counters != nil {
		_ = counters.ForEach(func(k, v []byte) error {
			if _, ok := decodeU64(v); !ok {
				p.add("counters: %q is not an 8-byte counter (%x)", k, v)
			}
			return nil
		})
	}
}

// problems collects the first maxProblems findings of a check.
type problems struct {
	n    int
	list []string
}

func (p *problems) add(format string, args ...any) {
	p.n++
	if len(p.list) < maxProblems {
		p.list = append(p.list, fmt.Sprintf(format, args...))
	}
}

func (p *problems) String() string {
	s := strings.Join(p.list, "; ")
	if more := p.n - len(p.list); more > 0 {
		s += fmt.Sprintf("; and %d more", more)
	}
	return s
}

// Stats describes the file, for the diag CLI.
type Stats struct {
	// Path is the bbolt file.
	Path string
	// SizeBytes is the size of the file on disk.
	SizeBytes int64
	// SchemaVersion is the file's schema version.
	SchemaVersion int
	// FirstSeq is the oldest stored seq (0 if the log is empty); LastSeq the
	// highest seq ever assigned.
	FirstSeq, LastSeq uint64
	// Buckets maps each top-level bucket to its number of keys.
	Buckets map[string]int
}

// Stats returns a snapshot of the file's statistics.
func (s *Store) Stats() (Stats, error) {
	if err := s.acquire(); err != nil {
		return Stats{}, err
	}
	defer s.release()
	st := Stats{Path: s.path, SchemaVersion: s.schema, Buckets: map[string]int{}}
	err := s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte(BucketEvents)); b != nil {
			st.LastSeq = b.Sequence()
			if k, _ := b.Cursor().First(); k != nil {
				st.FirstSeq, _ = decodeU64(k)
			}
		}
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			st.Buckets[string(name)] = b.Stats().KeyN
			return nil
		})
	})
	if err != nil {
		return Stats{}, mapErr(err)
	}
	fi, err := os.Stat(s.path)
	if err != nil {
		return Stats{}, fmt.Errorf("journal: stats: %w", err)
	}
	st.SizeBytes = fi.Size()
	return st, nil
}
