package store

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/pcp-p2p/pcp/manifest"
)

// DefaultCacheBatch is the number of pending records (stores plus lastUsed
// refreshes) that triggers a write transaction.
const DefaultCacheBatch = 4096

// dropEvery is how many reads of the file (lookups that miss the pending
// records, records a Prune scans) may go between two drops of its mapped
// pages (dropMapped). Every page a read touches stays mapped, and counts in
// the process's RSS, until dropped: without the drops, looking up a million
// records left the whole 350 MiB file resident. Measured on this machine
// kind with a million records: lookups in path order (a re-walk) cost
// 4.5 µs each with drops every 128 against 1.9 µs without, random ones
// 33 µs against 3.6 µs (each re-faults its path from the page cache); the
// file's resident pages stay under 11 MiB instead of 339.
var dropEvery = 128

// touchAfter is how stale a hit's lastUsed must be before the hit rewrites
// it: an hour, so a re-walk does not rewrite every record.
const touchAfter = time.Hour

var errClosed = errors.New("store: hash cache closed")

// HashCacheOptions configure a HashCache. The zero value works.
type HashCacheOptions struct {
	// Logger receives dropped write errors (the cache is advisory); nil
	// means discard.
	Logger *slog.Logger
	// BatchSize is how many pending records trigger a write transaction;
	// 0 means DefaultCacheBatch.
	BatchSize int
	// Now is the clock for lastUsed; nil means time.Now.
	Now func() time.Time
}

// HashCacheStats counts what a HashCache did since it was opened.
type HashCacheStats struct {
	Hits, Misses int64
	Stores       int64 // Store calls accepted
	Commits      int64 // write transactions committed by flushes
	Pending      int   // records waiting for the next flush
}

// HashCache is the sender's cache of chunk hashes by file identity. It
// implements manifest.HashCache. See the package doc for the record layout
// and the batching.
type HashCache struct {
	db    *bolt.DB
	log   *slog.Logger
	batch int
	now   func() time.Time

	// mu is held for all of Lookup, Store and flushes, so a lookup always
	// sees a store, whether it is pending or committed.
	mu      sync.Mutex
	pending map[string]*cacheRec
	touched map[string]int64 // path -> new lastUsed
	err     error
	closed  bool
	stats   HashCacheStats
	reads   int // reads of the file since its pages were last dropped
}

var _ manifest.HashCache = (*HashCache)(nil)

// OpenHashCache opens or creates the hash cache at path. If another handle
// holds the file it fails, after one second, with an error wrapping
// ErrLocked.
func OpenHashCache(path string) (*HashCache, error) {
	return OpenHashCacheWith(path, HashCacheOptions{})
}

// OpenHashCacheWith is OpenHashCache with options.
func OpenHashCacheWith(path string, opts HashCacheOptions) (*HashCache, error) {
	db, err := openDB(path, bucketHashes)
	if err != nil {
		return nil, err
	}
	c := &HashCache{
		db:      db,
		log:     opts.Logger,
		batch:   opts.BatchSize,
		now:     opts.Now,
		pending: make(map[string]*cacheRec),
		touched: make(map[string]int64),
	}
	if c.log == nil {
		c.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.batch <= 0 {
		c.batch = DefaultCacheBatch
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// cacheKey returns the bbolt key of k, or "" if k cannot be a key.
func cacheKey(p string) string {
	if !filepath.IsAbs(p) {
		abs, err := filepath.Abs(p)
		if err != nil {
			return ""
		}
		p = abs
	}
	if len(p) > bolt.MaxKeySize {
		return ""
	}
	return p
}

// matches reports whether r holds hashes for exactly the file version k.
func (r *cacheRec) matches(k manifest.FileKey) bool {
	return r.size == k.Size && r.mtime == k.MTime && r.inode == k.Inode && r.dev == k.Dev &&
		r.chunkSize == k.ChunkSize &&
		int64(len(r.hashes)) == manifest.ChunkCount(r.size, r.chunkSize)
}

// Lookup returns the chunk hashes of the file version k if cached (pending
// or committed). The slice is the caller's.
func (c *HashCache) Lookup(k manifest.FileKey) ([]manifest.Hash, bool) {
	key := cacheKey(k.Path)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || key == "" {
		return nil, false
	}
	if r, ok := c.pending[key]; ok {
		if r.matches(k) {
			c.stats.Hits++
			return append([]manifest.Hash(nil), r.hashes...), true
		}
		c.stats.Misses++
		return nil, false
	}
	var rec *cacheRec
	err := c.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketHashes).Get([]byte(key))
		if v == nil {
			return nil
		}
		r, err := decodeCacheRec(v, true) // copies: nothing points into the mapping
		if err != nil {
			return err
		}
		rec = r
		return nil
	})
	if c.reads++; c.reads >= dropEvery {
		c.dropMappedLocked()
	}
	if err != nil {
		c.log.Debug("hash cache: unreadable record", "path", key, "err", err)
	}
	if rec == nil || !rec.matches(k) {
		c.stats.Misses++
		return nil, false
	}
	c.stats.Hits++
	if now := c.now().UnixNano(); now-rec.lastUsed >= int64(touchAfter) {
		c.touched[key] = now
		c.maybeFlushLocked()
	}
	return rec.hashes, true
}

// Store caches h as the chunk hashes of the file version k. It never fails:
// write errors are logged and kept for Err. h is copied.
func (c *HashCache) Store(k manifest.FileKey, h []manifest.Hash) {
	key := cacheKey(k.Path)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		c.err = errClosed
		return
	}
	if key == "" || k.Size < 0 || int64(len(h)) != manifest.ChunkCount(k.Size, k.ChunkSize) ||
		cacheFixedLen+len(h)*manifest.HashSize > bolt.MaxValueSize {
		c.log.Debug("hash cache: not storing", "path", k.Path, "size", k.Size, "hashes", len(h))
		return
	}
	c.pending[key] = &cacheRec{
		size: k.Size, mtime: k.MTime, inode: k.Inode, dev: k.Dev, chunkSize: k.ChunkSize,
		lastUsed: c.now().UnixNano(),
		hashes:   append([]manifest.Hash(nil), h...),
	}
	delete(c.touched, key)
	c.stats.Stores++
	c.maybeFlushLocked()
}

func (c *HashCache) maybeFlushLocked() {
	if len(c.pending)+len(c.touched) >= c.batch {
		c.flushLocked()
	}
}

// flushLocked writes everything pending in one transaction. On failure the
// pending records are dropped (the cache is advisory) and the error logged,
// kept for Err and returned.
func (c *HashCache) flushLocked() error {
	if len(c.pending) == 0 && len(c.touched) == 0 {
		return nil
	}
	err := c.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketHashes)
		for key, r := range c.pending {
			if err := b.Put([]byte(key), encodeCacheRec(r)); err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
		}
		for key, t := range c.touched {
			v := b.Get([]byte(key))
			if v == nil {
				continue
			}
			if _, err := decodeCacheRec(v, false); err != nil {
				continue // replaced by the next Store of that path
			}
			if err := b.Put([]byte(key), setCacheLastUsed(v, t)); err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
		}
		return nil
	})
	n := len(c.pending) + len(c.touched)
	clear(c.pending)
	clear(c.touched)
	c.dropMappedLocked()
	if err != nil {
		err = fmt.Errorf("store: hash cache: writing %d records: %w", n, err)
		c.err = err
		c.log.Warn("hash cache write dropped", "err", err)
		return err
	}
	c.stats.Commits++
	return nil
}

// dropMappedLocked drops the file's pages from the process's mapping (Linux;
// see dropMapped): those the last reads mapped, and those the B+tree
// writes of a flush read. It needs a read transaction, during which bbolt
// cannot remap the file.
func (c *HashCache) dropMappedLocked() {
	c.reads = 0
	c.db.View(func(tx *bolt.Tx) error {
		dropMapped(tx)
		return nil
	})
}

// Flush writes pending records now, in one transaction.
func (c *HashCache) Flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errClosed
	}
	return c.flushLocked()
}

// Err returns the most recent write error that Store or a flush dropped, or
// nil.
func (c *HashCache) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Stats returns counters since open.
func (c *HashCache) Stats() HashCacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Pending = len(c.pending) + len(c.touched)
	return s
}

// pruneBatch is how many records Prune deletes per write transaction.
const pruneBatch = 16384

// Prune flushes, then deletes every record last used before olderThan (and
// any record that cannot be decoded). It returns how many it deleted.
func (c *HashCache) Prune(olderThan time.Time) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, errClosed
	}
	if err := c.flushLocked(); err != nil {
		return 0, err
	}
	cut := olderThan.UnixNano()
	// Scan and delete in rounds of at most pruneBatch stale keys, so the
	// keys held are bounded however large the cache; the scan drops the
	// pages it mapped as it goes (see dropEvery).
	deleted := 0
	var from []byte
	for {
		var stale [][]byte
		var next []byte
		err := c.db.View(func(tx *bolt.Tx) error {
			cur := tx.Bucket(bucketHashes).Cursor()
			n := 0
			k, v := cur.First()
			if from != nil {
				k, v = cur.Seek(from)
			}
			for ; k != nil; k, v = cur.Next() {
				if len(stale) == pruneBatch {
					next = append([]byte(nil), k...)
					break
				}
				if r, err := decodeCacheRec(v, false); err != nil || r.lastUsed < cut {
					stale = append(stale, append([]byte(nil), k...))
				}
				if n++; n%dropEvery == 0 {
					dropMapped(tx)
				}
			}
			dropMapped(tx)
			return nil
		})
		if err == nil && len(stale) > 0 {
			err = c.db.Update(func(tx *bolt.Tx) error {
				b := tx.Bucket(bucketHashes)
				for _, k := range stale {
					if err := b.Delete(k); err != nil {
						return err
					}
				}
				return nil
			})
		}
		if err != nil {
			return deleted, fmt.Errorf("store: hash cache prune: %w", err)
		}
		deleted += len(stale)
		if next == nil {
			return deleted, nil
		}
		from = next
	}
}

// Close flushes pending records and closes the file. Further Stores are
// dropped and Lookups miss.
func (c *HashCache) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	ferr := c.flushLocked()
	if err := c.db.Close(); err != nil {
		return errors.Join(ferr, fmt.Errorf("store: closing hash cache: %w", err))
	}
	return ferr
}
