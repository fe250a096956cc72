package journal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

const (
	// defaultEventsLimit is the batch size of Events when limit <= 0.
	defaultEventsLimit = 1000
	// subscriptionBatch is the largest batch returned by Subscription.Next.
	subscriptionBatch = 256
	// compactBatch bounds how many events one compaction transaction deletes.
	compactBatch = 5000
)

// Events returns the committed events with seq > after, in ascending order,
// at most limit of them (limit <= 0 means 1000). If events between after and
// the oldest stored one were compacted away it returns ErrCompacted: the
// caller must resynchronise from a snapshot. It uses one short read
// transaction; decoding happens outside it.
func (s *Store) Events(after uint64, limit int) ([]Event, error) {
	if limit <= 0 {
		limit = defaultEventsLimit
	}
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.release()

	var keys []uint64
	var raws [][]byte
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(BucketEvents))
		if b == nil {
			return fmt.Errorf("%w: bucket %q is missing", ErrCorrupt, BucketEvents)
		}
		last := b.Sequence()
		if after >= last {
			return nil
		}
		c := b.Cursor()
		first := last + 1 // an empty log: everything up to last was compacted
		if k, _ := c.First(); k != nil {
			first, _ = decodeU64(k)
		}
		if after+1 < first {
			return fmt.Errorf("%w (asked for events after %d, the oldest stored is %d)", ErrCompacted, after, first)
		}
		for k, v := c.Seek(seqKey(after + 1)); k != nil && len(raws) < limit; k, v = c.Next() {
			seq, ok := decodeU64(k)
			if !ok {
				return fmt.Errorf("%w: events key %x is not 8 bytes", ErrCorrupt, k)
			}
			keys = append(keys, seq)
			raws = append(raws, bytes.Clone(v))
		}
		return nil
	})
	if err != nil {
		return nil, mapErr(err)
	}
	out := make([]Event, len(raws))
	for i, raw := range raws {
		if err := json.Unmarshal(raw, &out[i]); err != nil {
			return nil, fmt.Errorf("%w: event %d: %v", ErrCorrupt, keys[i], err)
		}
		if out[i].Seq != keys[i] || keys[i] != after+1+uint64(i) {
			return nil, fmt.Errorf("%w: event stored under key %d has seq %d (expected %d)",
				ErrCorrupt, keys[i], out[i].Seq, after+1+uint64(i))
		}
	}
	return out, nil
}

// Subscription delivers committed events with seq > since, in order. It pulls
// from the file: there is no goroutine and no buffer per subscriber, so a slow
// subscriber never blocks writers; it only falls behind (and gets
// ErrCompacted if it falls behind the compaction).
type Subscription struct {
	s    *Store
	mu   sync.Mutex // serialises Next
	last atomic.Uint64
}

// Subscribe returns a subscription to the events with seq > since.
func (s *Store) Subscribe(since uint64) *Subscription {
	sub := &Subscription{s: s}
	sub.last.Store(since)
	return sub
}

// Next blocks until events after Last() exist and returns a batch of them
// (at most 256), in order, advancing Last(). It returns ErrCompacted if the
// next events were compacted away, ErrClosed if the store is closed, or the
// context's error.
func (sub *Subscription) Next(ctx context.Context) ([]Event, error) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	for {
		// Take the channel before reading the log: a commit that the read
		// misses closes this very channel, so no wakeup is lost.
		ch := sub.s.Changed()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		after := sub.last.Load()
		evs, err := sub.s.Events(after, subscriptionBatch)
		if err != nil {
			return nil, err
		}
		if len(evs) > 0 {
			sub.last.Store(evs[len(evs)-1].Seq)
			return evs, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-ch:
		}
	}
}

// Last returns the seq of the last event delivered (since, initially).
func (sub *Subscription) Last() uint64 { return sub.last.Load() }

// Cursor returns the seq that consumer name last acknowledged; 0 if never set.
func (s *Store) Cursor(name string) (uint64, error) {
	if err := s.acquire(); err != nil {
		return 0, err
	}
	defer s.release()
	var seq uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		seq, err = readCursor(tx, name)
		return err
	})
	return seq, mapErr(err)
}

func readCursor(tx *bolt.Tx, name string) (uint64, error) {
	b := tx.Bucket([]byte(BucketCursors))
	if b == nil {
		return 0, nil
	}
	raw := b.Get([]byte(name))
	if raw == nil {
		return 0, nil
	}
	seq, ok := decodeU64(raw)
	if !ok {
		return 0, fmt.Errorf("%w: cursor %q is not 8 bytes (%x)", ErrCorrupt, name, raw)
	}
	return seq, nil
}

// SetCursor records that consumer name has acknowledged every event up to
// seq. Cursors only move forward: seq below the current cursor, or above
// LastSeq, is an error. Setting the current value again is a no-op.
func (s *Store) SetCursor(name string, seq uint64) error {
	if name == "" {
		return errors.New("journal: set cursor: empty consumer name")
	}
	if s.readOnly {
		return ErrReadOnly
	}
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.release()
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	return mapErr(s.db.Update(func(tx *bolt.Tx) error {
		cur, err := readCursor(tx, name)
		if err != nil {
			return err
		}
		if seq == cur {
			return nil
		}
		if seq < cur {
			return fmt.Errorf("journal: cursor %q cannot move backwards (from %d to %d)", name, cur, seq)
		}
		ev := tx.Bucket([]byte(BucketEvents))
		if ev == nil {
			return fmt.Errorf("%w: bucket %q is missing", ErrCorrupt, BucketEvents)
		}
		if last := ev.Sequence(); seq > last {
			return fmt.Errorf("journal: cursor %q cannot move to %d, beyond the last event %d", name, seq, last)
		}
		b, err := tx.CreateBucketIfNotExists([]byte(BucketCursors))
		if err != nil {
			return err
		}
		return b.Put([]byte(name), seqKey(seq))
	}))
}

// Compact deletes the events with seq <= min(cursor of every name in
// ackedBy) whose Time is before olderThan, oldest first, stopping at the
// first event that must be kept so the log stays contiguous. ackedBy must be
// non-empty; a name that never set its cursor protects every event. It
// returns how many events were removed; FirstSeq advances accordingly. Large
// compactions are split into several transactions, each atomic.
func (s *Store) Compact(ackedBy []string, olderThan time.Time) (int, error) {
	if len(ackedBy) == 0 {
		return 0, errors.New("journal: compact: ackedBy is empty; name the consumers that must have acknowledged an event")
	}
	for _, name := range ackedBy {
		if name == "" {
			return 0, errors.New("journal: compact: empty consumer name in ackedBy")
		}
	}
	if s.readOnly {
		return 0, ErrReadOnly
	}
	if err := s.acquire(); err != nil {
		return 0, err
	}
	defer s.release()

	total := 0
	for {
		n, more, err := s.compactOnce(ackedBy, olderThan)
		total += n
		if err != nil {
			return total, err
		}
		if !more {
			break
		}
	}
	if total > 0 {
		s.log.Info("journal compacted", "removed", total, "first_seq", s.FirstSeq())
	}
	return total, nil
}

// errNothingToCompact rolls back a compaction transaction that found nothing to delete.
var errNothingToCompact = errors.New("journal: nothing to compact")

// compactOnce deletes at most compactBatch events in one transaction; more
// reports whether another batch may be deletable.
func (s *Store) compactOnce(ackedBy []string, olderThan time.Time) (removed int, more bool, err error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	var newFirst uint64
	err = s.db.Update(func(tx *bolt.Tx) error {
		limit := ^uint64(0)
		for _, name := range ackedBy {
			c, err := readCursor(tx, name)
			if err != nil {
				return err
			}
			limit = min(limit, c)
		}
		b := tx.Bucket([]byte(BucketEvents))
		if b == nil {
			return fmt.Errorf("%w: bucket %q is missing", ErrCorrupt, BucketEvents)
		}
		var doomed [][]byte
		c := b.Cursor()
		for k, v := c.First(); k != nil && len(doomed) < compactBatch; k, v = c.Next() {
			seq, ok := decodeU64(k)
			if !ok {
				return fmt.Errorf("%w: events key %x is not 8 bytes", ErrCorrupt, k)
			}
			if seq > limit {
				break
			}
			var e struct {
				Time time.Time `json:"time"`
			}
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("%w: event %d: %v", ErrCorrupt, seq, err)
			}
			if !e.Time.Before(olderThan) {
				break
			}
			doomed = append(doomed, bytes.Clone(k))
		}
		if len(doomed) == 0 {
			return errNothingToCompact // roll back: no empty commit, no fsync
		}
		for _, k := range doomed {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		removed = len(doomed)
		more = removed == compactBatch
		if k, _ := b.Cursor().First(); k != nil {
			newFirst, _ = decodeU64(k)
		}
		return nil
	})
	if errors.Is(err, errNothingToCompact) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, mapErr(err)
	}
	s.firstSeq.Store(newFirst)
	return removed, more, nil
}
