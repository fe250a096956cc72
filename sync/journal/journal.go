// Package journal is the kiosk's durable store: one bbolt file that holds the
// schema version and kiosk id, the payment sessions, an append-only event log,
// the consumers' cursors over that log, and durable counters.
//
// Every write goes through [Store.Update], one read-write bbolt transaction
// that is fsynced on commit. Events appended inside it get their sequence
// number inside the transaction, and followers ([Store.Changed], [Store.Wait],
// [Subscription]) are woken only after the commit succeeded, so nobody is
// ever told about a change that might not survive a power cut.
//
// The event log is the single source for everyone who follows changes: a
// WebSocket client resumes from the last seq it saw, the cloud uploader is a
// cursor over the same log. Events that every named consumer has acknowledged
// and that are older than the retention period are removed by
// [Store.Compact]; a reader that asks for them gets [ErrCompacted] and must
// resynchronise from a snapshot.
//
// Values are always copied out of transactions and read transactions are kept
// short. The file layout is versioned by numbered migrations, applied in
// order at [Open]; a file written by a newer totemd is refused untouched.
package journal

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"time"
)

// Bucket names.
const (
	// BucketMeta holds schema_version (8-byte big-endian) and kiosk_id.
	BucketMeta = "meta"
	// BucketSessions is owned by package payment: session id -> JSON.
	BucketSessions = "sessions"
	// BucketEvents is the event log: 8-byte big-endian seq -> JSON(Event).
	BucketEvents = "events"
	// BucketCursors maps a consumer name to the 8-byte big-endian seq it acknowledged.
	BucketCursors = "cursors"
	// BucketCounters maps a name to an 8-byte big-endian counter (see Tx.NextCounter).
	BucketCounters = "counters"
)

// Keys of the meta bucket.
const (
	keySchemaVersion = "schema_version"
	keyKioskID       = "kiosk_id"
)

var (
	// ErrLocked means the file is held by another process: bbolt could not
	// take the file lock within Options.Timeout.
	ErrLocked = errors.New("journal: database file is locked by another process (is totemd already running?)")
	// ErrCorrupt means an integrity check of the file failed. The file is
	// left as it was, for inspection.
	ErrCorrupt = errors.New("journal: database file failed the integrity check")
	// ErrSchemaTooNew means the file was written by a newer totemd. It is
	// never modified by this version.
	ErrSchemaTooNew = errors.New("journal: database file was written by a newer totemd")
	// ErrClosed is returned by every operation on a closed Store, and wakes
	// whoever waits on it when it is closed.
	ErrClosed = errors.New("journal: store is closed")
	// ErrCompacted means the requested events were compacted away: the
	// caller must resynchronise from a snapshot.
	ErrCompacted = errors.New("journal: requested events were compacted away; resync from a snapshot")
	// ErrReadOnly is returned by writes on a Store opened with
	// Options.ReadOnly, and by writes inside a View transaction.
	ErrReadOnly = errors.New("journal: read-only")
	// ErrKioskMismatch means the file belongs to another kiosk id.
	ErrKioskMismatch = errors.New("journal: database file belongs to another kiosk")
)

// Stop, returned from a ForEach callback, ends the iteration without an error.
var Stop = errors.New("journal: stop iteration")

// Event is one entry of the append-only event log.
type Event struct {
	// Seq is the position in the log, assigned by Tx.Append: 1, 2, 3...
	Seq uint64 `json:"seq"`
	// Time is when the event happened (Options.Now at Append if left zero).
	Time time.Time `json:"time"`
	// Type names the event, e.g. "session.paid". Required.
	Type string `json:"type"`
	// SessionID is the session the event is about, if any.
	SessionID string `json:"session_id,omitempty"`
	// Data is the event payload; it must be valid JSON.
	Data json.RawMessage `json:"data,omitempty"`
}

// seqKey encodes a sequence number or counter as an 8-byte big-endian key.
func seqKey(n uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return b[:]
}

// decodeU64 decodes an 8-byte big-endian value; ok is false for any other length.
func decodeU64(b []byte) (n uint64, ok bool) {
	if len(b) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(b), true
}
