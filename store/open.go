package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Sentinel errors. Callers branch on these with errors.Is.
var (
	// ErrNotFound: no transfer with that root in the resume log.
	ErrNotFound = errors.New("store: transfer not found")
	// ErrLocked: another process (or another handle in this one) holds the
	// file's lock.
	ErrLocked = errors.New("store: database is locked")
	// ErrBadRef: a ChunkRef or entry index outside the transfer's manifest.
	ErrBadRef = errors.New("store: reference outside the manifest")
	// ErrRootMismatch: the manifest given to Begin does not hash to the root.
	ErrRootMismatch = errors.New("store: manifest does not match root")
	// ErrNotBegun: MarkDone, Forget or MarkFileComplete on a transfer that
	// is in the log but was not begun (Begin) by this handle.
	ErrNotBegun = errors.New("store: transfer not begun by this handle")
	// ErrCorrupt: a stored record cannot be decoded or fails its check.
	ErrCorrupt = errors.New("store: corrupt record")
)

// lockTimeout is how long Open waits for another process's lock.
const lockTimeout = time.Second

// openDB opens (creating) the bbolt file at path and makes sure the given
// top-level buckets exist.
func openDB(path string, buckets ...[]byte) (*bolt.DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("%w: another pcp process is using %s", ErrLocked, path)
		}
		return nil, fmt.Errorf("store: opening %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range buckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: initializing %s: %w", path, err)
	}
	return db, nil
}
