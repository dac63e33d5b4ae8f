package store

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/pcp-p2p/pcp/manifest"
)

const (
	// maxPart is the largest value a stored manifest part may have.
	maxPart = 1 << 20
	// partsPerTx is how many parts Begin stores per write transaction: the
	// parts and bbolt's copy of them are all it holds in memory.
	partsPerTx = 4
	// iterKeys and iterBytes bound one read transaction of Done and
	// CompleteFiles; the callback runs outside any transaction.
	iterKeys  = 4096
	iterBytes = 256 << 10
	// bridgeMax is how many directories and symlinks MarkFileComplete looks
	// at on each side of a run of entries for a neighbouring interval.
	bridgeMax = 64
)

// ChunkRef names one chunk of a transfer: Entry indexes the manifest's
// entries and Chunk is the chunk index within that file.
type ChunkRef struct {
	Entry uint32
	Chunk uint32
}

// Manifest is what the resume log needs from a manifest; *manifest.Table
// implements it. Root must be the BLAKE3 hash of what Encoding yields.
type Manifest interface {
	Root() manifest.Hash
	ChunkSize() uint32
	Len() int
	// Entry returns entry i; Chunks may be nil, only Kind and Size are used.
	Entry(i int) (manifest.Entry, error)
	Files() int64
	TotalSize() int64
	TotalChunks() int64
	// Encoding returns a new reader of the canonical encoding.
	Encoding() io.Reader
}

// TransferInfo summarizes one transfer in the resume log.
type TransferInfo struct {
	Root             manifest.Hash
	Dest             string
	Created, Updated time.Time
	// Files is the number of regular files in the manifest.
	Files                   int64
	TotalBytes, DoneBytes   int64
	TotalChunks, DoneChunks int64
	// Finished is set by Finish and cleared by Forget.
	Finished bool
}

// ResumeLogOptions configure a ResumeLog. The zero value works.
type ResumeLogOptions struct {
	// Now is the clock for Created/Updated; nil means time.Now.
	Now func() time.Time
	// NoSync skips the fsync of every commit. Only for a log that need not
	// survive a crash of the machine, such as a temporary log removed with
	// its process: a commit then guarantees nothing about the disk.
	NoSync bool
}

// ResumeLog is the receiver's record of transfers: their manifests, which
// chunks are verified and durable, and which files are in place. See the
// package doc for the layout and invariants.
type ResumeLog struct {
	db  *bolt.DB
	now func() time.Time

	beginMu sync.Mutex // one Begin at a time, so a pending transfer is always a dead one

	mu      sync.Mutex
	layouts map[manifest.Hash]Manifest // transfers begun by this handle
}

// OpenResumeLog opens or creates the resume log at path. If another handle
// holds the file it fails, after one second, with an error wrapping
// ErrLocked.
func OpenResumeLog(path string) (*ResumeLog, error) {
	return OpenResumeLogWith(path, ResumeLogOptions{})
}

// OpenResumeLogWith is OpenResumeLog with options.
func OpenResumeLogWith(path string, opts ResumeLogOptions) (*ResumeLog, error) {
	db, err := openDB(path, bucketTransfers)
	if err != nil {
		return nil, err
	}
	db.NoSync = opts.NoSync
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &ResumeLog{db: db, now: now, layouts: make(map[manifest.Hash]Manifest)}, nil
}

// Close closes the file and releases its lock.
func (l *ResumeLog) Close() error {
	if err := l.db.Close(); err != nil {
		return fmt.Errorf("store: closing resume log: %w", err)
	}
	return nil
}

// transfer returns the bucket of root and its record, or an error wrapping
// ErrNotFound if there is none or it is pending.
func transfer(tx *bolt.Tx, root manifest.Hash) (*bolt.Bucket, *info, error) {
	b := tx.Bucket(bucketTransfers).Bucket(root[:])
	if b == nil {
		return nil, nil, fmt.Errorf("%w: %s", ErrNotFound, root.Short())
	}
	in, err := getInfo(b)
	if err != nil {
		return nil, nil, err
	}
	if in.pending {
		return nil, nil, fmt.Errorf("%w: %s (its Begin did not finish)", ErrNotFound, root.Short())
	}
	return b, in, nil
}

// progressBuckets opens what every change to a transfer's progress
// touches: its bucket and record, and its chunks and complete buckets.
func progressBuckets(tx *bolt.Tx, root manifest.Hash) (b *bolt.Bucket, in *info, chunks, complete *bolt.Bucket, err error) {
	if b, in, err = transfer(tx, root); err != nil {
		return nil, nil, nil, nil, err
	}
	if chunks, err = sub(b, bucketChunks); err != nil {
		return nil, nil, nil, nil, err
	}
	if complete, err = sub(b, bucketComplete); err != nil {
		return nil, nil, nil, nil, err
	}
	return b, in, chunks, complete, nil
}

// sub returns the sub-bucket name of a transfer bucket.
func sub(b *bolt.Bucket, name []byte) (*bolt.Bucket, error) {
	s := b.Bucket(name)
	if s == nil {
		return nil, fmt.Errorf("%w: missing %s bucket", ErrCorrupt, name)
	}
	return s, nil
}

// entryBucket returns the sub-bucket name of root's transfer, after checking
// that entry is one of its entries.
func entryBucket(tx *bolt.Tx, root manifest.Hash, entry uint32, name []byte) (*bolt.Bucket, error) {
	b, in, err := transfer(tx, root)
	if err != nil {
		return nil, err
	}
	if int64(entry) >= in.entries {
		return nil, fmt.Errorf("%w: entry %d of %d", ErrBadRef, entry, in.entries)
	}
	return sub(b, name)
}

func getInfo(b *bolt.Bucket) (*info, error) {
	return decodeInfo(b.Get(keyInfo))
}

func putInfo(b *bolt.Bucket, in *info) error {
	return b.Put(keyInfo, encodeInfo(in))
}

// Begin records a transfer of m into dest, under m.Root(). It is idempotent:
// for a root already in the log it keeps the done sets and complete files
// and only updates Dest and Updated (m's totals must match the record; its
// encoding is not read again).
//
// A new transfer is stored in several write transactions: the first creates
// it marked pending, the following store m.Encoding() in parts of at most 1
// MiB, a few parts per transaction, hashing them on the way; the last clears
// pending. So memory stays at a few MiB whatever the manifest's size. A
// pending transfer is invisible (ErrNotFound) to every other method; if the
// encoding does not hash to m.Root() the transfer is deleted and the error
// wraps ErrRootMismatch. A pending transfer left by a crash (or by an error
// that also failed to clean up) is deleted by the next Begin, whatever its
// root.
//
// Either way, m is kept in memory as the transfer's layout: MarkDone, Forget
// and MarkFileComplete look entry sizes up with m.Entry, so m must stay
// usable for as long as they are called (Delete lets go of it). Begin must
// run in every process, before those methods, for each transfer they touch.
func (l *ResumeLog) Begin(m Manifest, dest string) error {
	root := m.Root()
	l.beginMu.Lock()
	defer l.beginMu.Unlock()
	if err := l.begin(root, m, dest); err != nil {
		return fmt.Errorf("store: begin %s: %w", root.Short(), err)
	}
	l.mu.Lock()
	l.layouts[root] = m
	l.mu.Unlock()
	return nil
}

func (l *ResumeLog) begin(root manifest.Hash, m Manifest, dest string) error {
	if n := int64(m.Len()); n < 0 || n > maxEntries {
		return fmt.Errorf("%d entries: the log addresses at most %d", n, maxEntries)
	}
	if err := l.dropPending(); err != nil {
		return err
	}
	now := l.now().UnixNano()
	fresh := &info{
		created: now, updated: now,
		entries:     int64(m.Len()),
		files:       m.Files(),
		totalBytes:  m.TotalSize(),
		totalChunks: m.TotalChunks(),
		chunkSize:   m.ChunkSize(),
		dest:        dest,
		pending:     true,
	}
	existing := false
	err := l.db.Update(func(tx *bolt.Tx) error {
		top := tx.Bucket(bucketTransfers)
		if b := top.Bucket(root[:]); b != nil {
			in, err := getInfo(b)
			if err != nil {
				return err
			}
			if in.entries != fresh.entries || in.files != fresh.files || in.totalBytes != fresh.totalBytes ||
				in.totalChunks != fresh.totalChunks || in.chunkSize != fresh.chunkSize {
				return fmt.Errorf("%w: the stored transfer's totals differ from the manifest's", ErrCorrupt)
			}
			existing = true
			in.dest, in.updated = dest, now
			return putInfo(b, in)
		}
		b, err := top.CreateBucket(root[:])
		if err != nil {
			return err
		}
		for _, name := range [][]byte{bucketManifest, bucketChunks, bucketComplete, bucketIdent} {
			if _, err := b.CreateBucket(name); err != nil {
				return err
			}
		}
		return putInfo(b, fresh)
	})
	if err != nil || existing {
		return err
	}
	if err := l.storeManifest(root, m); err != nil {
		// Best effort: what is left stays pending until the next Begin.
		_ = l.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketTransfers).DeleteBucket(root[:]) })
		return err
	}
	return l.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTransfers).Bucket(root[:])
		if b == nil {
			return fmt.Errorf("%w: pending transfer vanished", ErrCorrupt)
		}
		in, err := getInfo(b)
		if err != nil {
			return err
		}
		in.pending = false
		return putInfo(b, in)
	})
}

// dropPending deletes every pending transfer, one per write transaction.
// Begins are serialized, so none of them is being stored.
func (l *ResumeLog) dropPending() error {
	var roots [][]byte
	err := l.db.View(func(tx *bolt.Tx) error {
		top := tx.Bucket(bucketTransfers)
		return top.ForEachBucket(func(k []byte) error {
			if in, err := getInfo(top.Bucket(k)); err == nil && in.pending {
				roots = append(roots, bytes.Clone(k))
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	for _, k := range roots {
		err := l.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketTransfers).DeleteBucket(k) })
		if err != nil {
			return fmt.Errorf("dropping an unfinished transfer: %w", err)
		}
	}
	return nil
}
