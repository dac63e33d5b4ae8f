package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/pcp-p2p/pcp/manifest"
)

// maxPart is the largest value a stored manifest part may have.
const maxPart = 1 << 20

// iterBatch is how many keys Done and CompleteFiles read per read
// transaction; the callback runs outside any transaction.
const iterBatch = 4096

// storedLimits are the limits for decoding a manifest from the log. The
// bytes were checked against their root when stored, so the limits only
// guard against a corrupt file; they are as wide as the encoding allows.
var storedLimits = manifest.Limits{
	MaxEntries:   math.MaxInt64,
	MaxFileSize:  math.MaxInt64,
	MaxTotalSize: math.MaxInt64,
	MaxPathLen:   math.MaxUint16,
}

// ChunkRef names one chunk of a transfer: Entry indexes Manifest.Entries and
// Chunk is the chunk index within that file.
type ChunkRef struct {
	Entry uint32
	Chunk uint32
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
}

// ResumeLog is the receiver's record of transfers: their manifests, which
// chunks are verified and durable, and which files are in place. See the
// package doc for the layout and invariants.
type ResumeLog struct {
	db  *bolt.DB
	now func() time.Time

	mu      sync.Mutex
	layouts map[manifest.Hash]*layout // per transfer, for validating refs and counting bytes
}

// layout is what MarkDone needs from a manifest: the chunk size and each
// entry's size.
type layout struct {
	chunkSize uint32
	sizes     []int64
}

func newLayout(m *manifest.Manifest) *layout {
	l := &layout{chunkSize: m.ChunkSize, sizes: make([]int64, len(m.Entries))}
	for i := range m.Entries {
		if m.Entries[i].Kind == manifest.KindFile {
			l.sizes[i] = m.Entries[i].Size
		}
	}
	return l
}

// chunkLen returns the length of the chunk r names, or an error wrapping
// ErrBadRef if the manifest has no such chunk.
func (lo *layout) chunkLen(r ChunkRef) (int64, error) {
	if int64(r.Entry) >= int64(len(lo.sizes)) {
		return 0, fmt.Errorf("%w: entry %d of %d", ErrBadRef, r.Entry, len(lo.sizes))
	}
	size := lo.sizes[r.Entry]
	if int64(r.Chunk) >= manifest.ChunkCount(size, lo.chunkSize) {
		return 0, fmt.Errorf("%w: chunk %d of entry %d (%d bytes)", ErrBadRef, r.Chunk, r.Entry, size)
	}
	return manifest.ChunkLen(size, lo.chunkSize, int64(r.Chunk)), nil
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
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &ResumeLog{db: db, now: now, layouts: make(map[manifest.Hash]*layout)}, nil
}

// Close closes the file and releases its lock.
func (l *ResumeLog) Close() error {
	if err := l.db.Close(); err != nil {
		return fmt.Errorf("store: closing resume log: %w", err)
	}
	return nil
}

// transfer returns the bucket of root, or an error wrapping ErrNotFound.
func transfer(tx *bolt.Tx, root manifest.Hash) (*bolt.Bucket, error) {
	b := tx.Bucket(bucketTransfers).Bucket(root[:])
	if b == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, root.Short())
	}
	return b, nil
}

func getInfo(b *bolt.Bucket) (*info, error) {
	return decodeInfo(b.Get(keyInfo))
}

func putInfo(b *bolt.Bucket, in *info) error {
	return b.Put(keyInfo, encodeInfo(in))
}

// Begin records a transfer of m, whose root must be root, into dest. It is
// idempotent: for a root already in the log it keeps the done set and
// complete files and only updates Dest and Updated (m is then not read
// again). The manifest is stored in its canonical encoding in parts of at
// most 1 MiB; if it does not hash to root, nothing is stored and the error
// wraps ErrRootMismatch.
func (l *ResumeLog) Begin(root manifest.Hash, m *manifest.Manifest, dest string) error {
	now := l.now().UnixNano()
	stored := false
	err := l.db.Update(func(tx *bolt.Tx) error {
		top := tx.Bucket(bucketTransfers)
		if b := top.Bucket(root[:]); b != nil {
			in, err := getInfo(b)
			if err != nil {
				return err
			}
			in.dest, in.updated = dest, now
			return putInfo(b, in)
		}
		b, err := top.CreateBucket(root[:])
		if err != nil {
			return err
		}
		parts, err := b.CreateBucket(bucketManifest)
		if err != nil {
			return err
		}
		got, err := m.RootErr()
		if err != nil {
			return fmt.Errorf("encoding manifest: %w", err)
		}
		if got != root {
			return fmt.Errorf("%w: manifest hashes to %s, not %s", ErrRootMismatch, got.Short(), root.Short())
		}
		pw := &partWriter{b: parts}
		if err := manifest.Encode(pw, m); err != nil {
			return fmt.Errorf("encoding manifest: %w", err)
		}
		if err := pw.flush(); err != nil {
			return err
		}
		for _, name := range [][]byte{bucketDone, bucketComplete} {
			if _, err := b.CreateBucket(name); err != nil {
				return err
			}
		}
		stored = true
		return putInfo(b, &info{
			created: now, updated: now,
			files:       int64(m.Files()),
			totalBytes:  m.TotalSize(),
			totalChunks: m.TotalChunks(),
			chunkSize:   m.ChunkSize,
			dest:        dest,
		})
	})
	if err != nil {
		return fmt.Errorf("store: begin %s: %w", root.Short(), err)
	}
	if stored {
		l.mu.Lock()
		l.layouts[root] = newLayout(m)
		l.mu.Unlock()
	}
	return nil
}

// partWriter cuts a stream into numbered parts of at most maxPart bytes in
// a bucket. Each part gets its own buffer: bbolt
// needs values to stay valid until the transaction commits.
type partWriter struct {
	b   *bolt.Bucket
	buf []byte
	seq uint64
}

func (w *partWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if w.buf == nil {
			w.buf = make([]byte, 0, maxPart)
		}
		k := copy(w.buf[len(w.buf):maxPart], p)
		w.buf = w.buf[:len(w.buf)+k]
		p = p[k:]
		if len(w.buf) == maxPart {
			if err := w.flush(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

func (w *partWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	if err := w.b.Put(partKey(w.seq), w.buf); err != nil {
		return err
	}
	w.seq++
	w.buf = nil
	return nil
}

// partReader reads the parts of a manifest bucket in order. It is valid only
// inside the transaction of c.
type partReader struct {
	c    *bolt.Cursor
	cur  []byte
	seq  uint64
	done bool
	err  error
}

func newPartReader(b *bolt.Bucket) *partReader {
	r := &partReader{c: b.Cursor()}
	k, v := r.c.First()
	r.load(k, v)
	return r
}

func (r *partReader) load(k, v []byte) {
	switch {
	case k == nil:
		r.done = true
	case !bytes.Equal(k, partKey(r.seq)) || len(v) == 0:
		r.err = fmt.Errorf("%w: manifest part %d missing or empty", ErrCorrupt, r.seq)
	default:
		r.cur = v
		r.seq++
	}
}

func (r *partReader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.done {
			return 0, io.EOF
		}
		k, v := r.c.Next()
		r.load(k, v)
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// Manifest decodes the stored manifest of root and checks that it hashes
// to root (else the error wraps ErrCorrupt). Absent: ErrNotFound.
func (l *ResumeLog) Manifest(root manifest.Hash) (*manifest.Manifest, error) {
	var m *manifest.Manifest
	err := l.db.View(func(tx *bolt.Tx) error {
		b, err := transfer(tx, root)
		if err != nil {
			return err
		}
		parts := b.Bucket(bucketManifest)
		if parts == nil {
			return fmt.Errorf("%w: no manifest bucket", ErrCorrupt)
		}
		r := newPartReader(parts)
		dm, got, err := manifest.Decode(r, storedLimits)
		if err != nil {
			return fmt.Errorf("%w: stored manifest: %w", ErrCorrupt, err)
		}
		if got != root {
			return fmt.Errorf("%w: stored manifest hashes to %s", ErrCorrupt, got.Short())
		}
		if n, _ := r.Read(make([]byte, 1)); n != 0 {
			return fmt.Errorf("%w: bytes after the stored manifest", ErrCorrupt)
		}
		m = dm
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: manifest %s: %w", root.Short(), err)
	}
	return m, nil
}

// layoutOf returns the cached layout of root, decoding the stored manifest
// the first time after an open.
func (l *ResumeLog) layoutOf(root manifest.Hash) (*layout, error) {
	l.mu.Lock()
	lo := l.layouts[root]
	l.mu.Unlock()
	if lo != nil {
		return lo, nil
	}
	m, err := l.Manifest(root)
	if err != nil {
		return nil, err
	}
	lo = newLayout(m)
	l.mu.Lock()
	l.layouts[root] = lo
	l.mu.Unlock()
	return lo, nil
}

// MarkDone records refs as verified and durable, all in one write
// transaction: the caller must have fsynced their data first. It keeps
// DoneChunks/DoneBytes: a chunk already done counts once. A ref outside the
// manifest fails the whole batch with ErrBadRef.
func (l *ResumeLog) MarkDone(root manifest.Hash, refs []ChunkRef) error {
	return l.update("mark done", root, refs, true)
}

// Forget records refs as not done (a logged chunk was found corrupt on
// disk), in one write transaction. Their entries lose their complete mark
// and the transfer its finished flag. Forgetting a chunk not done is a
// no-op for the counters.
func (l *ResumeLog) Forget(root manifest.Hash, refs []ChunkRef) error {
	return l.update("forget", root, refs, false)
}

var empty = []byte{}

func (l *ResumeLog) update(op string, root manifest.Hash, refs []ChunkRef, mark bool) error {
	if len(refs) == 0 {
		return nil
	}
	lo, err := l.layoutOf(root)
	if err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	// Validate before opening the write transaction.
	lens := make([]int64, len(refs))
	for i, r := range refs {
		if lens[i], err = lo.chunkLen(r); err != nil {
			return fmt.Errorf("store: %s %s: %w", op, root.Short(), err)
		}
	}
	now := l.now().UnixNano()
	err = l.db.Update(func(tx *bolt.Tx) error {
		b, err := transfer(tx, root)
		if err != nil {
			return err
		}
		in, err := getInfo(b)
		if err != nil {
			return err
		}
		done, complete := b.Bucket(bucketDone), b.Bucket(bucketComplete)
		if done == nil || complete == nil {
			return fmt.Errorf("%w: missing done or complete bucket", ErrCorrupt)
		}
		done.FillPercent = 0.9 // keys arrive mostly in order
		c := done.Cursor()
		lastEntry := int64(-1)
		for i, r := range refs {
			k := chunkKey(r)
			got, _ := c.Seek(k[:])
			present := bytes.Equal(got, k[:])
			switch {
			case mark && !present:
				if err := done.Put(k[:], empty); err != nil {
					return err
				}
				in.doneChunks++
				in.doneBytes += lens[i]
			case !mark && present:
				if err := done.Delete(k[:]); err != nil {
					return err
				}
				in.doneChunks--
				in.doneBytes -= lens[i]
			}
			if !mark && int64(r.Entry) != lastEntry {
				lastEntry = int64(r.Entry)
				ek := entryKey(r.Entry)
				if err := complete.Delete(ek[:]); err != nil {
					return err
				}
			}
		}
		if !mark {
			in.finished = false
		}
		if in.doneChunks < 0 || in.doneBytes < 0 || in.doneChunks > in.totalChunks || in.doneBytes > in.totalBytes {
			return fmt.Errorf("%w: done counters out of range (%d chunks, %d bytes)", ErrCorrupt, in.doneChunks, in.doneBytes)
		}
		in.updated = now
		return putInfo(b, in)
	})
	if err != nil {
		return fmt.Errorf("store: %s %s: %w", op, root.Short(), err)
	}
	return nil
}

// Done calls fn for every chunk recorded done, in key order (entry, then
// chunk). It reads in batches, each in its own read transaction, and calls
// fn outside any transaction, so fn may call other methods of l; a
// concurrent change may or may not be seen. An error from fn stops the walk
// and is returned as is.
func (l *ResumeLog) Done(root manifest.Hash, fn func(ChunkRef) error) error {
	return l.iterate(root, bucketDone, func(k []byte) error {
		r, err := decodeChunkKey(k)
		if err != nil {
			return err
		}
		return fn(r)
	})
}

// MarkFileComplete records that entries were renamed into place with their
// mode and mtime applied, in one write transaction.
func (l *ResumeLog) MarkFileComplete(root manifest.Hash, entries []uint32) error {
	if len(entries) == 0 {
		return nil
	}
	lo, err := l.layoutOf(root)
	if err != nil {
		return fmt.Errorf("store: mark complete: %w", err)
	}
	for _, e := range entries {
		if int64(e) >= int64(len(lo.sizes)) {
			return fmt.Errorf("store: mark complete %s: %w: entry %d of %d", root.Short(), ErrBadRef, e, len(lo.sizes))
		}
	}
	now := l.now().UnixNano()
	err = l.db.Update(func(tx *bolt.Tx) error {
		b, err := transfer(tx, root)
		if err != nil {
			return err
		}
		complete := b.Bucket(bucketComplete)
		if complete == nil {
			return fmt.Errorf("%w: missing complete bucket", ErrCorrupt)
		}
		for _, e := range entries {
			k := entryKey(e)
			if err := complete.Put(k[:], empty); err != nil {
				return err
			}
		}
		return touch(b, now, false)
	})
	if err != nil {
		return fmt.Errorf("store: mark complete %s: %w", root.Short(), err)
	}
	return nil
}

// CompleteFiles calls fn for every entry recorded complete, in order, the
// way Done does.
func (l *ResumeLog) CompleteFiles(root manifest.Hash, fn func(entry uint32) error) error {
	return l.iterate(root, bucketComplete, func(k []byte) error {
		if len(k) != 4 {
			return fmt.Errorf("%w: entry key of %d bytes", ErrCorrupt, len(k))
		}
		return fn(uint32(k[0])<<24 | uint32(k[1])<<16 | uint32(k[2])<<8 | uint32(k[3]))
	})
}

// iterate calls fn for every key of root's sub-bucket name, reading
// iterBatch keys per read transaction.
func (l *ResumeLog) iterate(root manifest.Hash, name []byte, fn func(k []byte) error) error {
	var after []byte // last key handed out; nil before the first
	keys := make([][]byte, 0, iterBatch)
	for {
		keys = keys[:0]
		err := l.db.View(func(tx *bolt.Tx) error {
			b, err := transfer(tx, root)
			if err != nil {
				return err
			}
			sub := b.Bucket(name)
			if sub == nil {
				return fmt.Errorf("%w: missing %s bucket", ErrCorrupt, name)
			}
			c := sub.Cursor()
			var k []byte
			if after == nil {
				k, _ = c.First()
			} else if k, _ = c.Seek(after); bytes.Equal(k, after) {
				k, _ = c.Next()
			}
			for ; k != nil && len(keys) < iterBatch; k, _ = c.Next() {
				keys = append(keys, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("store: reading %s of %s: %w", name, root.Short(), err)
		}
		for _, k := range keys {
			if err := fn(k); err != nil {
				return err
			}
		}
		if len(keys) < iterBatch {
			return nil
		}
		after = keys[len(keys)-1]
	}
}

// touch sets Updated (and with finish, Finished) of a transfer bucket.
func touch(b *bolt.Bucket, now int64, finish bool) error {
	in, err := getInfo(b)
	if err != nil {
		return err
	}
	in.updated = now
	if finish {
		in.finished = true
	}
	return putInfo(b, in)
}

// Finish records that the whole transfer is verified and in place.
func (l *ResumeLog) Finish(root manifest.Hash) error {
	now := l.now().UnixNano()
	err := l.db.Update(func(tx *bolt.Tx) error {
		b, err := transfer(tx, root)
		if err != nil {
			return err
		}
		return touch(b, now, true)
	})
	if err != nil {
		return fmt.Errorf("store: finish %s: %w", root.Short(), err)
	}
	return nil
}

// Info returns the summary of root's transfer, or ErrNotFound.
func (l *ResumeLog) Info(root manifest.Hash) (TransferInfo, error) {
	var ti TransferInfo
	err := l.db.View(func(tx *bolt.Tx) error {
		b, err := transfer(tx, root)
		if err != nil {
			return err
		}
		in, err := getInfo(b)
		if err != nil {
			return err
		}
		ti = in.transferInfo(root)
		return nil
	})
	if err != nil {
		return TransferInfo{}, fmt.Errorf("store: info %s: %w", root.Short(), err)
	}
	return ti, nil
}

// List returns every transfer, most recently updated first (ties: most
// recently created first, then by root).
func (l *ResumeLog) List() ([]TransferInfo, error) {
	var list []TransferInfo
	err := l.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTransfers).ForEachBucket(func(k []byte) error {
			if len(k) != manifest.HashSize {
				return fmt.Errorf("%w: transfer key of %d bytes", ErrCorrupt, len(k))
			}
			root := manifest.Hash(k)
			in, err := getInfo(tx.Bucket(bucketTransfers).Bucket(k))
			if err != nil {
				return fmt.Errorf("transfer %s: %w", root.Short(), err)
			}
			list = append(list, in.transferInfo(root))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: list: %w", err)
	}
	slices.SortFunc(list, func(a, b TransferInfo) int {
		if c := b.Updated.Compare(a.Updated); c != 0 {
			return c
		}
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return bytes.Compare(a.Root[:], b.Root[:])
	})
	return list, nil
}

// Delete removes a transfer and everything recorded about it, or returns
// ErrNotFound.
func (l *ResumeLog) Delete(root manifest.Hash) error {
	err := l.db.Update(func(tx *bolt.Tx) error {
		err := tx.Bucket(bucketTransfers).DeleteBucket(root[:])
		if errors.Is(err, berrors.ErrBucketNotFound) {
			return fmt.Errorf("%w: %s", ErrNotFound, root.Short())
		}
		return err
	})
	l.mu.Lock()
	delete(l.layouts, root)
	l.mu.Unlock()
	if err != nil {
		return fmt.Errorf("store: delete %s: %w", root.Short(), err)
	}
	return nil
}
