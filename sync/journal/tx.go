package journal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// errTxDone is returned by the methods of a Tx used after its Update or View
// returned.
var errTxDone = errors.New("journal: transaction already finished")

// Tx is one transaction of a Store, handed to the callbacks of Store.Update
// and Store.View. It is valid only during the callback and must not be used
// from other goroutines. Byte slices going in and out are copies, so callers
// may keep or reuse them freely.
type Tx struct {
	tx       *bolt.Tx
	s        *Store
	writable bool
	done     bool
	appended []Event
}

func (tx *Tx) finish() { tx.done = true }

// writeCheck reports whether tx may write to bucket.
func (tx *Tx) writeCheck(bucket string) error {
	switch {
	case tx.done:
		return errTxDone
	case !tx.writable:
		return ErrReadOnly
	case bucket == "":
		return errors.New("journal: empty bucket name")
	case bucket == BucketEvents:
		return fmt.Errorf("journal: bucket %q is written only by Append and Compact", BucketEvents)
	}
	return nil
}

// Get returns a copy of the value of key in bucket; nil if the key or the
// bucket is absent. An empty stored value is returned as a non-nil empty slice.
func (tx *Tx) Get(bucket, key string) []byte {
	if tx.done {
		return nil
	}
	b := tx.tx.Bucket([]byte(bucket))
	if b == nil {
		return nil
	}
	v := b.Get([]byte(key))
	if v == nil {
		return nil
	}
	return bytes.Clone(v)
}

// Put stores a copy of value under key in bucket, creating the bucket if
// absent. It returns ErrReadOnly inside View. The events bucket is written
// only through Append, and meta/schema_version only by migrations.
func (tx *Tx) Put(bucket, key string, value []byte) error {
	if err := tx.writeCheck(bucket); err != nil {
		return err
	}
	if key == "" {
		return fmt.Errorf("journal: put in %q: empty key", bucket)
	}
	if bucket == BucketMeta && key == keySchemaVersion {
		return fmt.Errorf("journal: meta/%s is written only by migrations", keySchemaVersion)
	}
	b, err := tx.tx.CreateBucketIfNotExists([]byte(bucket))
	if err != nil {
		return fmt.Errorf("journal: create bucket %q: %w", bucket, err)
	}
	// bbolt keeps the slice until commit: give it our own copy.
	v := bytes.Clone(value)
	if v == nil {
		v = []byte{}
	}
	if err := b.Put([]byte(key), v); err != nil {
		return fmt.Errorf("journal: put %s/%s: %w", bucket, key, err)
	}
	return nil
}

// Delete removes key from bucket. Deleting an absent key (or from an absent
// bucket) is not an error.
func (tx *Tx) Delete(bucket, key string) error {
	if err := tx.writeCheck(bucket); err != nil {
		return err
	}
	if bucket == BucketMeta && key == keySchemaVersion {
		return fmt.Errorf("journal: meta/%s is written only by migrations", keySchemaVersion)
	}
	b := tx.tx.Bucket([]byte(bucket))
	if b == nil {
		return nil
	}
	if err := b.Delete([]byte(key)); err != nil {
		return fmt.Errorf("journal: delete %s/%s: %w", bucket, key, err)
	}
	return nil
}

// ForEach calls fn for every key of bucket in ascending byte order, with a
// copy of the value. fn returning Stop ends the iteration without an error;
// any other error ends it and is returned. An absent bucket has no keys.
// fn must not modify bucket.
func (tx *Tx) ForEach(bucket string, fn func(key string, value []byte) error) error {
	return tx.iterate(bucket, false, fn)
}

// ForEachReverse is ForEach in descending key order.
func (tx *Tx) ForEachReverse(bucket string, fn func(key string, value []byte) error) error {
	return tx.iterate(bucket, true, fn)
}

func (tx *Tx) iterate(bucket string, reverse bool, fn func(key string, value []byte) error) error {
	if tx.done {
		return errTxDone
	}
	b := tx.tx.Bucket([]byte(bucket))
	if b == nil {
		return nil
	}
	c := b.Cursor()
	first, next := c.First, c.Next
	if reverse {
		first, next = c.Last, c.Prev
	}
	for k, v := first(); k != nil; k, v = next() {
		if err := fn(string(k), bytes.Clone(v)); err != nil {
			if errors.Is(err, Stop) {
				return nil
			}
			return err
		}
	}
	return nil
}

// Append adds e to the event log. It sets e.Seq to the next sequence number
// (1 for the first event ever; any Seq set by the caller is replaced) and
// e.Time to Now() if zero, and stores e as JSON. e.Type is required and
// e.Data, if set, must be valid JSON. The returned event is the one stored,
// exactly as Events will return it; it is published only after the commit.
func (tx *Tx) Append(e Event) (Event, error) {
	switch {
	case tx.done:
		return Event{}, errTxDone
	case !tx.writable:
		return Event{}, ErrReadOnly
	case e.Type == "":
		return Event{}, errors.New("journal: append: event type is empty")
	}
	b := tx.tx.Bucket([]byte(BucketEvents))
	if b == nil {
		return Event{}, fmt.Errorf("%w: bucket %q is missing", ErrCorrupt, BucketEvents)
	}
	seq := b.Sequence() + 1
	e.Seq = seq
	if e.Time.IsZero() {
		e.Time = tx.s.now()
	}
	raw, err := json.Marshal(e)
	if err != nil {
		return Event{}, fmt.Errorf("journal: append %s: %w", e.Type, err)
	}
	var stored Event
	if err := json.Unmarshal(raw, &stored); err != nil {
		return Event{}, fmt.Errorf("journal: append %s: %w", e.Type, err)
	}
	// Put first, then move the sequence: if Put fails nothing has changed,
	// so the log can never get a gap even if fn ignores the error.
	if err := b.Put(seqKey(seq), raw); err != nil {
		return Event{}, fmt.Errorf("journal: append %s: %w", e.Type, err)
	}
	if err := b.SetSequence(seq); err != nil {
		return Event{}, fmt.Errorf("journal: append %s: %w", e.Type, err)
	}
	tx.appended = append(tx.appended, stored)
	return stored, nil
}

// NextCounter increments the durable counter bucket/key (8-byte big-endian)
// and returns its new value: 1 on the first call. The bucket is created if
// absent.
func (tx *Tx) NextCounter(bucket, key string) (uint64, error) {
	if err := tx.writeCheck(bucket); err != nil {
		return 0, err
	}
	if key == "" {
		return 0, fmt.Errorf("journal: counter in %q: empty key", bucket)
	}
	if bucket == BucketMeta {
		return 0, fmt.Errorf("journal: no counters in bucket %q", BucketMeta)
	}
	b, err := tx.tx.CreateBucketIfNotExists([]byte(bucket))
	if err != nil {
		return 0, fmt.Errorf("journal: create bucket %q: %w", bucket, err)
	}
	var n uint64
	if raw := b.Get([]byte(key)); raw != nil {
		var ok bool
		if n, ok = decodeU64(raw); !ok {
			return 0, fmt.Errorf("%w: counter %s/%s is not 8 bytes (%x)", ErrCorrupt, bucket, key, raw)
		}
	}
	if n == ^uint64(0) {
		return 0, fmt.Errorf("journal: counter %s/%s overflows", bucket, key)
	}
	n++
	if err := b.Put([]byte(key), seqKey(n)); err != nil {
		return 0, fmt.Errorf("journal: counter %s/%s: %w", bucket, key, err)
	}
	return n, nil
}
