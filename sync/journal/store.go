package journal

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// defaultOpenTimeout is how long Open waits for the file lock when
// Options.Timeout is zero.
const defaultOpenTimeout = 5 * time.Second

// fileMode is the only permission the journal file may have.
const fileMode fs.FileMode = 0o600

// Options configures Open.
type Options struct {
	// Path is the bbolt file. Its parent directory is created with mode 0700
	// if missing (not in ReadOnly mode).
	Path string
	// KioskID is stored at the first open. A file that stores a different id
	// is refused with ErrKioskMismatch. Empty: neither checked nor stored.
	KioskID string
	// Timeout is how long to wait for the file lock held by another process
	// before giving up with ErrLocked. Zero or negative: 5s.
	Timeout time.Duration
	// ReadOnly opens the file with a shared lock, for the CLI when the daemon
	// is down: no migrations are applied and every write returns ErrReadOnly.
	ReadOnly bool
	// Now is the clock used to stamp events. Default time.Now.
	Now func() time.Time
	// Logger receives the store's log records. Default slog.Default().
	Logger *slog.Logger
}

// Store is an open journal file. All its methods are safe for concurrent use.
type Store struct {
	db       *bolt.DB
	path     string
	kioskID  string
	schema   int
	readOnly bool
	now      func() time.Time
	log      *slog.Logger

	// writeMu serialises write transactions together with the publication
	// of their effects (lastSeq, firstSeq, changed), so that in-memory state
	// is always updated in commit order. bbolt serialises writers anyway.
	writeMu sync.Mutex

	lastSeq  atomic.Uint64
	firstSeq atomic.Uint64

	// mu guards changed, closed and the registration of in-flight operations.
	mu        sync.Mutex
	changed   chan struct{}
	closed    bool
	inflight  sync.WaitGroup
	closeDone chan struct{}
	closeErr  error
}

// Open opens (creating if needed) the journal file, checks its integrity,
// applies pending migrations and verifies the kiosk id.
//
// Errors: ErrLocked if another process holds the file, ErrCorrupt if the
// integrity check fails (the file is not modified), ErrSchemaTooNew if a
// newer totemd wrote it (not modified either), ErrKioskMismatch if it
// belongs to another kiosk.
func Open(opts Options) (*Store, error) {
	return open(opts, migrations)
}

func open(opts Options, migs []migration) (_ *Store, err error) {
	var db *bolt.DB
	defer func() {
		// Last line of defence: a damaged page met outside the guarded
		// reads (e.g. while migrating) must not crash the daemon.
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s: panic while opening: %v", ErrCorrupt, opts.Path, r)
		}
		if err != nil && db != nil {
			_ = db.Close()
		}
	}()
	if err := validateMigrations(migs); err != nil {
		return nil, err
	}
	if opts.Path == "" {
		return nil, errors.New("journal: Options.Path is empty")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = defaultOpenTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	path := filepath.Clean(opts.Path)
	log := opts.Logger.With("path", path)

	created, err := prepareFile(path, opts.ReadOnly, log)
	if err != nil {
		return nil, err
	}

	// A damaged file can make bbolt dereference pointers outside the memory
	// map. Turn such faults on this goroutine into panics, which the helpers
	// below recover into ErrCorrupt, instead of crashing the daemon.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))

	if db, err = openBolt(path, opts.Timeout, opts.ReadOnly); err != nil {
		return nil, err
	}

	known := migs[len(migs)-1].version
	version, fresh, err := readSchema(db)
	if err != nil {
		return nil, err
	}
	if version > known {
		return nil, fmt.Errorf("%w: %s has schema version %d, this totemd knows up to %d; upgrade totemd (the file was left untouched)",
			ErrSchemaTooNew, path, version, known)
	}
	if fresh && opts.ReadOnly {
		return nil, fmt.Errorf("%w: %s was never initialised by totemd (no schema_version)", ErrCorrupt, path)
	}
	if !fresh {
		// Check before anything is written: a damaged file stays as it was.
		if err := checkDB(db, false); err != nil {
			return nil, err
		}
	}
	if !opts.ReadOnly && version < known {
		if version, err = migrate(db, version, migs, log); err != nil {
			return nil, err
		}
		if fresh {
			if err := checkDB(db, false); err != nil {
				return nil, err
			}
		}
	}

	kioskID, err := reconcileKioskID(db, opts.KioskID, opts.ReadOnly, path)
	if err != nil {
		return nil, err
	}
	if created {
		// bbolt fsyncs the file, not the directory entry that names it:
		// without this a power cut could make the whole journal vanish.
		syncDirs(path, log)
	}

	s := &Store{
		db:        db,
		path:      path,
		kioskID:   kioskID,
		schema:    version,
		readOnly:  opts.ReadOnly,
		now:       opts.Now,
		log:       log,
		changed:   make(chan struct{}),
		closeDone: make(chan struct{}),
	}
	first, last, err := loadSeqs(db)
	if err != nil {
		return nil, err
	}
	s.firstSeq.Store(first)
	s.lastSeq.Store(last)
	log.Info("journal opened", "schema_version", version, "read_only", opts.ReadOnly,
		"first_seq", first, "last_seq", last)
	return s, nil
}

// prepareFile creates the parent directory and narrows the permissions of an
// existing file to 0600. created reports that the file does not exist yet.
func prepareFile(path string, readOnly bool, log *slog.Logger) (created bool, err error) {
	if !readOnly {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return false, fmt.Errorf("journal: create state directory: %w", err)
		}
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if readOnly {
			return false, fmt.Errorf("journal: open %s read-only: %w", path, err)
		}
		return true, nil
	case err != nil:
		return false, fmt.Errorf("journal: %w", err)
	case !fi.Mode().IsRegular():
		return false, fmt.Errorf("journal: %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&^fileMode != 0 {
		if err := os.Chmod(path, fileMode); err != nil {
			log.Warn("journal file permissions are too wide and could not be narrowed",
				"mode", perm.String(), "error", err)
		} else {
			log.Warn("journal file permissions were too wide; narrowed to 0600", "was", perm.String())
		}
	}
	return false, nil
}

// syncDirs fsyncs the directory holding a newly created file, and its parent
// (which may have been created too). Best effort: some systems cannot sync a
// directory.
func syncDirs(path string, log *slog.Logger) {
	dir := filepath.Dir(path)
	for _, d := range []string{dir, filepath.Dir(dir)} {
		f, err := os.Open(d)
		if err == nil {
			err = f.Sync()
			_ = f.Close()
		}
		if err != nil {
			log.Debug("journal: cannot fsync directory", "dir", d, "error", err)
		}
	}
}

// openBolt opens the bbolt file, mapping its errors (and panics) onto the
// package's sentinel errors.
func openBolt(path string, timeout time.Duration, readOnly bool) (db *bolt.DB, err error) {
	var file *os.File
	defer func() {
		if r := recover(); r != nil {
			// bbolt panicked half-way through Open and did not close the
			// file: release its lock and descriptor ourselves, or the next
			// Open in this process would report ErrLocked. (The memory
			// map, which bbolt keeps private, leaks.)
			if file != nil {
				unlockFile(file)
				_ = file.Close()
			}
			db, err = nil, fmt.Errorf("%w: %s: bbolt panicked while opening: %v", ErrCorrupt, path, r)
		}
	}()
	db, err = bolt.Open(path, fileMode, &bolt.Options{
		Timeout:  timeout,
		ReadOnly: readOnly,
		// Load the freelist now, on this goroutine where a damaged page is
		// recovered, rather than later inside bbolt's check goroutine.
		PreLoadFreelist: true,
		// NoSync stays false: every commit is fsynced. The freelist is
		// synced too, so opening a file never has to write to it.
		OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
			f, err := os.OpenFile(name, flag, perm)
			file = f
			return f, err
		},
	})
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("%w: %s (waited %s)", ErrLocked, path, timeout)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum),
		errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrInvalidMapping):
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
	default:
		return nil, fmt.Errorf("journal: open %s: %w", path, err)
	}
}

// readSchema reads meta/schema_version. fresh is true for a file with no
// bucket at all (just created by bbolt, or never migrated).
func readSchema(db *bolt.DB) (version int, fresh bool, err error) {
	err = safeView(db, func(tx *bolt.Tx) error {
		meta := tx.Bucket([]byte(BucketMeta))
		if meta == nil {
			if k, _ := tx.Cursor().First(); k == nil {
				fresh = true
				return nil
			}
			return fmt.Errorf("%w: %s: bucket %q is missing", ErrCorrupt, db.Path(), BucketMeta)
		}
		raw := meta.Get([]byte(keySchemaVersion))
		v, ok := decodeU64(raw)
		if !ok || v == 0 {
			return fmt.Errorf("%w: %s: meta/%s is missing or malformed (%x)", ErrCorrupt, db.Path(), keySchemaVersion, raw)
		}
		if v > 1<<31 {
			v = 1 << 31
		}
		version = int(v)
		return nil
	})
	return version, fresh, err
}

// reconcileKioskID compares (and on first open stores) the kiosk id.
func reconcileKioskID(db *bolt.DB, want string, readOnly bool, path string) (string, error) {
	var stored string
	if err := safeView(db, func(tx *bolt.Tx) error {
		if meta := tx.Bucket([]byte(BucketMeta)); meta != nil {
			stored = string(meta.Get([]byte(keyKioskID)))
		}
		return nil
	}); err != nil {
		return "", err
	}
	switch {
	case want == "":
		return stored, nil
	case stored == want:
		return stored, nil
	case stored != "":
		return "", fmt.Errorf("%w: %s belongs to kiosk %q but this totemd is configured as kiosk %q; "+
			"use the original kiosk id, or move the state directory away to start this kiosk afresh",
			ErrKioskMismatch, path, stored, want)
	case readOnly:
		return want, nil
	}
	err := db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists([]byte(BucketMeta))
		if err != nil {
			return err
		}
		return meta.Put([]byte(keyKioskID), []byte(want))
	})
	if err != nil {
		return "", fmt.Errorf("journal: store kiosk id: %w", err)
	}
	return want, nil
}

// loadSeqs reads the first stored seq and the last assigned seq.
func loadSeqs(db *bolt.DB) (first, last uint64, err error) {
	err = safeView(db, func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(BucketEvents))
		if b == nil {
			return fmt.Errorf("%w: %s: bucket %q is missing", ErrCorrupt, db.Path(), BucketEvents)
		}
		if k, _ := b.Cursor().First(); k != nil {
			first, _ = decodeU64(k)
		}
		last = b.Sequence()
		return nil
	})
	return first, last, err
}

// safeView runs fn in a read transaction, turning a bbolt panic (a damaged
// page) into ErrCorrupt.
func safeView(db *bolt.DB, fn func(*bolt.Tx) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s: %v", ErrCorrupt, db.Path(), r)
		}
	}()
	return mapErr(db.View(fn))
}

// mapErr maps bbolt's "database not open" onto ErrClosed.
func mapErr(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return fmt.Errorf("%w (%v)", ErrClosed, err)
	}
	return err
}

// acquire registers an in-flight operation; Close waits for all of them.
func (s *Store) acquire() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.inflight.Add(1)
	return nil
}

func (s *Store) release() { s.inflight.Done() }

// Close waits for the operations in flight, closes the file and wakes every
// waiter (Changed, Wait, Subscription.Next) with ErrClosed. It is idempotent:
// later calls wait for the first one and return nil.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.closeDone
		return nil
	}
	s.closed = true
	close(s.changed)
	s.mu.Unlock()

	s.inflight.Wait()
	if err := s.db.Close(); err != nil {
		s.closeErr = fmt.Errorf("journal: close %s: %w", s.path, err)
	}
	close(s.closeDone)
	s.log.Debug("journal closed")
	return s.closeErr
}

func (s *Store) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Path returns the path of the bbolt file.
func (s *Store) Path() string { return s.path }

// KioskID returns the kiosk id stored in the file (or the configured one
// in ReadOnly mode when the file has none); empty if neither is known.
func (s *Store) KioskID() string { return s.kioskID }

// SchemaVersion returns the schema version of the file after migrations.
func (s *Store) SchemaVersion() int { return s.schema }

// Update runs fn in one read-write transaction, fsynced on commit. Events
// appended with tx.Append get their seq inside the transaction; waiters and
// subscriptions are woken only after the commit succeeded. If fn returns an
// error (or the commit fails) nothing is written and nothing is published.
// It returns the appended events, with Seq and Time set, as later read back.
//
// fn must not call Update, SetCursor, Compact or Check (they would wait for
// this transaction forever), nor keep tx after it returns.
func (s *Store) Update(fn func(tx *Tx) error) ([]Event, error) {
	if s.readOnly {
		return nil, ErrReadOnly
	}
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.release()

	s.writeMu.Lock()
	defer s.writeMu.Unlock()

	var appended []Event
	err := s.db.Update(func(btx *bolt.Tx) error {
		tx := &Tx{tx: btx, s: s, writable: true}
		defer tx.finish()
		if err := fn(tx); err != nil {
			return err
		}
		appended = tx.appended
		return nil
	})
	if err != nil {
		return nil, mapErr(err)
	}
	if len(appended) > 0 {
		s.publish(appended)
	}
	return appended, nil
}

// View runs fn in one read-only transaction. Keep it short: a long read
// transaction holds the file's memory map and old pages.
func (s *Store) View(fn func(tx *Tx) error) error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.release()
	return mapErr(s.db.View(func(btx *bolt.Tx) error {
		tx := &Tx{tx: btx, s: s}
		defer tx.finish()
		return fn(tx)
	}))
}

// publish makes committed events visible. Called with writeMu held, right
// after the commit, so in-memory state follows commit order.
func (s *Store) publish(appended []Event) {
	if s.firstSeq.Load() == 0 {
		s.firstSeq.Store(appended[0].Seq)
	}
	s.lastSeq.Store(appended[len(appended)-1].Seq)
	s.mu.Lock()
	if !s.closed {
		close(s.changed)
		s.changed = make(chan struct{})
	}
	s.mu.Unlock()
}

// LastSeq returns the highest committed seq (0 if no event was ever
// appended). It is kept in memory: loaded at Open, updated after each commit.
func (s *Store) LastSeq() uint64 { return s.lastSeq.Load() }

// FirstSeq returns the oldest seq still stored, 0 if the log is empty.
func (s *Store) FirstSeq() uint64 { return s.firstSeq.Load() }

// Changed returns a channel that is closed at the next commit that appends
// events, or at Close. Take the channel before reading the log, then select
// on it: no wakeup can be lost that way.
func (s *Store) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// Wait returns nil as soon as LastSeq() > after, ctx.Err() if ctx ends
// first, or ErrClosed if the store is closed first.
func (s *Store) Wait(ctx context.Context, after uint64) error {
	for {
		ch := s.Changed()
		if s.LastSeq() > after {
			return nil
		}
		if s.isClosed() {
			return ErrClosed
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}
