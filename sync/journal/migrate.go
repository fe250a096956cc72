package journal

import (
	"fmt"
	"log/slog"

	bolt "go.etcd.io/bbolt"
)

// migration is one numbered step of the file layout. Versions start at 1 and
// are contiguous; each is applied in a transaction of its own, which also
// stores the new schema_version. A released migration is never edited: a
// change of layout is a new migration appended to the list.
type migration struct {
	version int
	name    string
	up      func(*bolt.Tx) error
}

// migrations is the layout history of the journal file, oldest first.
var migrations = []migration{
	{version: 1, name: "create buckets", up: func(tx *bolt.Tx) error {
		for _, name := range []string{BucketMeta, BucketSessions, BucketEvents, BucketCursors, BucketCounters} {
			if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
				return fmt.Errorf("create bucket %q: %w", name, err)
			}
		}
		return nil
	}},
}

// validateMigrations verifies that migs is non-empty and numbered 1, 2, 3...
func validateMigrations(migs []migration) error {
	if len(migs) == 0 {
		return fmt.Errorf("journal: no migrations")
	}
	for i, m := range migs {
		if m.version != i+1 || m.name == "" || m.up == nil {
			return fmt.Errorf("journal: migration #%d (version %d, %q) is malformed: versions must be 1, 2, 3... with a name and a function", i, m.version, m.name)
		}
	}
	return nil
}

// migrate applies the migrations above version, one transaction each, and
// returns the new version. On error the file stays at the last version that
// committed.
func migrate(db *bolt.DB, version int, migs []migration, log *slog.Logger) (int, error) {
	for _, m := range migs {
		if m.version <= version {
			continue
		}
		err := db.Update(func(tx *bolt.Tx) error {
			if err := m.up(tx); err != nil {
				return err
			}
			meta, err := tx.CreateBucketIfNotExists([]byte(BucketMeta))
			if err != nil {
				return err
			}
			return meta.Put([]byte(keySchemaVersion), seqKey(uint64(m.version)))
		})
		if err != nil {
			return version, fmt.Errorf("journal: migration %d (%s): %w", m.version, m.name, err)
		}
		log.Info("journal migrated", "schema_version", m.version, "migration", m.name)
		version = m.version
	}
	return version, nil
}
