package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
	"lukechampine.com/blake3"

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

// storeManifest stores m's encoding into the pending transfer root, hashing
// it on the way, and checks the hash against root. Each write transaction
// adds one batch bucket of up to partsPerTx parts: a new bucket, so that
// bbolt never rewrites (nor reads back) a part stored earlier.
func (l *ResumeLog) storeManifest(root manifest.Hash, m Manifest) error {
	r := m.Encoding()
	h := blake3.New(manifest.HashSize, nil)
	var bufs [partsPerTx][]byte
	var seq, batch uint64
	for eof := false; !eof; batch++ {
		n := 0
		for n < partsPerTx && !eof {
			if bufs[n] == nil {
				bufs[n] = make([]byte, maxPart)
			}
			k, err := io.ReadFull(r, bufs[n][:maxPart])
			switch {
			case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
				eof = true
			case err != nil:
				return fmt.Errorf("reading the manifest: %w", err)
			}
			if k > 0 {
				h.Write(bufs[n][:k])
				bufs[n] = bufs[n][:k]
				n++
			}
		}
		if n == 0 {
			break
		}
		err := l.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketTransfers).Bucket(root[:])
			if b == nil {
				return fmt.Errorf("%w: pending transfer vanished", ErrCorrupt)
			}
			parts, err := sub(b, bucketManifest)
			if err != nil {
				return err
			}
			pb, err := parts.CreateBucket(partKey(batch))
			if err != nil {
				return err
			}
			pb.FillPercent = 1 // appended in order, never changed
			for i := range n {
				if err := pb.Put(partKey(seq+uint64(i)), bufs[i]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		seq += uint64(n)
	}
	var got manifest.Hash
	h.Sum(got[:0])
	if got != root {
		return fmt.Errorf("%w: the encoding hashes to %s", ErrRootMismatch, got.Short())
	}
	return nil
}

// ReadManifest calls fn with a reader of root's stored encoding (the bytes
// Begin checked against root; they are not hashed again, so compare the root
// of what you decode). The reader copies one part (at most 1 MiB) at a time
// out of the log, each in its own read transaction, so fn may run as long as
// it likes; it must not be used after fn returns. A transfer deleted while
// fn reads makes the reader fail with ErrNotFound. An absent or pending root:
// ErrNotFound, and fn is not called. fn's own error is returned as is.
func (l *ResumeLog) ReadManifest(root manifest.Hash, fn func(r io.Reader) error) error {
	pr := &partReader{l: l, root: root}
	if err := pr.load(); err != nil {
		return err
	}
	return fn(pr)
}

// partReader reads the parts of a stored manifest in order, one read
// transaction per part.
type partReader struct {
	l       *ResumeLog
	root    manifest.Hash
	buf     []byte
	cur     []byte // unread rest of buf
	batch   uint64 // batch of the next part
	seq     uint64 // number of the next part
	inBatch int    // parts read from batch so far
	eof     bool
}

func (r *partReader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.eof {
			return 0, io.EOF
		}
		if err := r.load(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// load copies the next part into buf, or sets eof after the last.
func (r *partReader) load() error {
	err := r.l.db.View(func(tx *bolt.Tx) error {
		b, _, err := transfer(tx, r.root)
		if err != nil {
			return err
		}
		parts, err := sub(b, bucketManifest)
		if err != nil {
			return err
		}
		for {
			pb := parts.Bucket(partKey(r.batch))
			if pb == nil {
				// The end, if nothing follows: parts are numbered without gaps.
				if k, _ := parts.Cursor().Seek(partKey(r.batch)); k != nil || r.seq == 0 {
					return fmt.Errorf("%w: manifest batch %d missing", ErrCorrupt, r.batch)
				}
				r.eof = true
				return nil
			}
			v := pb.Get(partKey(r.seq))
			if v == nil {
				// The batch is done if parts were read from it and it has
				// no later part.
				if k, _ := pb.Cursor().Seek(partKey(r.seq)); k != nil || r.inBatch == 0 {
					return fmt.Errorf("%w: manifest part %d missing", ErrCorrupt, r.seq)
				}
				r.batch, r.inBatch = r.batch+1, 0
				continue
			}
			if len(v) == 0 || len(v) > maxPart {
				return fmt.Errorf("%w: manifest part %d of %d bytes", ErrCorrupt, r.seq, len(v))
			}
			if r.buf == nil {
				r.buf = make([]byte, 0, maxPart)
			}
			r.cur = append(r.buf[:0], v...)
			dropMapped(tx)
			r.seq++
			r.inBatch++
			return nil
		}
	})
	if err != nil {
		return fmt.Errorf("store: reading manifest %s: %w", r.root.Short(), err)
	}
	return nil
}

// layout returns the manifest Begin recorded for root in this handle. If
// there is none the error wraps ErrNotFound (no such transfer) or
// ErrNotBegun.
func (l *ResumeLog) layout(root manifest.Hash) (Manifest, error) {
	l.mu.Lock()
	m := l.layouts[root]
	l.mu.Unlock()
	if m != nil {
		return m, nil
	}
	err := l.db.View(func(tx *bolt.Tx) error {
		_, _, err := transfer(tx, root)
		return err
	})
	if err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("%w: %s", ErrNotBegun, root.Short())
}

// fileRefs are the refs of one batch that fall in one file, with the file's
// size and chunk count.
type fileRefs struct {
	entry  uint32
	size   int64
	chunks []uint32 // sorted, distinct
}

// groupRefs sorts and dedups refs by file and checks them against m.
func groupRefs(m Manifest, refs []ChunkRef) ([]fileRefs, error) {
	rs := slices.Clone(refs)
	slices.SortFunc(rs, func(a, b ChunkRef) int {
		if a.Entry != b.Entry {
			return cmpU32(a.Entry, b.Entry)
		}
		return cmpU32(a.Chunk, b.Chunk)
	})
	rs = slices.Compact(rs)
	var files []fileRefs
	for i := 0; i < len(rs); {
		j := i
		for j < len(rs) && rs[j].Entry == rs[i].Entry {
			j++
		}
		size, err := fileSize(m, rs[i].Entry)
		if err != nil {
			return nil, err
		}
		f := fileRefs{entry: rs[i].Entry, size: size, chunks: make([]uint32, 0, j-i)}
		n := manifest.ChunkCount(size, m.ChunkSize())
		for _, r := range rs[i:j] {
			if int64(r.Chunk) >= n {
				return nil, fmt.Errorf("%w: chunk %d of entry %d (%d bytes)", ErrBadRef, r.Chunk, r.Entry, size)
			}
			f.chunks = append(f.chunks, r.Chunk)
		}
		files = append(files, f)
		i = j
	}
	return files, nil
}

func cmpU32(a, b uint32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// fileSize returns the size of entry e of m: 0 for what is not a regular
// file. An entry past the end wraps ErrBadRef.
func fileSize(m Manifest, e uint32) (int64, error) {
	if int64(e) >= int64(m.Len()) {
		return 0, fmt.Errorf("%w: entry %d of %d", ErrBadRef, e, m.Len())
	}
	ent, err := m.Entry(int(e))
	if err != nil {
		return 0, fmt.Errorf("manifest entry %d: %w", e, err)
	}
	if ent.Kind != manifest.KindFile {
		return 0, nil
	}
	return ent.Size, nil
}

// MarkDone records refs as verified and durable, all in one write
// transaction: the caller must have fsynced their data first. A ref outside
// the manifest fails the whole batch with ErrBadRef. Marking a chunk twice
// counts once. A chunk of a file recorded complete is recorded in the file's
// set (DoneChunks shows it: a repair marks the good chunks of a complete file
// before moving it back into staging) but changes no counter: a complete
// file counts whole. Begin must have run in this handle (else ErrNotBegun).
func (l *ResumeLog) MarkDone(root manifest.Hash, refs []ChunkRef) error {
	return l.update("mark done", root, refs, true)
}

// Forget records refs as not done (a logged chunk was found corrupt on
// disk), in one write transaction. A file recorded complete loses that
// mark, and then counts only the chunks left in its set (usually none: a
// complete file's set is dropped); the transfer loses its finished flag.
// Forgetting a chunk not done changes nothing else. Begin must have run in
// this handle (else ErrNotBegun).
func (l *ResumeLog) Forget(root manifest.Hash, refs []ChunkRef) error {
	return l.update("forget", root, refs, false)
}

func (l *ResumeLog) update(op string, root manifest.Hash, refs []ChunkRef, mark bool) error {
	if len(refs) == 0 {
		return nil
	}
	m, err := l.layout(root)
	if err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	// Validate and look sizes up before opening the write transaction.
	files, err := groupRefs(m, refs)
	if err != nil {
		return fmt.Errorf("store: %s %s: %w", op, root.Short(), err)
	}
	cs := m.ChunkSize()
	now := l.now().UnixNano()
	err = l.db.Update(func(tx *bolt.Tx) error {
		b, in, chunks, complete, err := progressBuckets(tx, root)
		if err != nil {
			return err
		}
		words := make([]uint64, segWords)
		for _, f := range files {
			wasComplete, err := isComplete(complete, f.entry)
			if err != nil {
				return err
			}
			for i := 0; i < len(f.chunks); {
				seg := f.chunks[i] >> segShift
				key := segKey(f.entry, seg)
				if v := chunks.Get(key); v == nil {
					clear(words)
				} else if err := decodeSeg(v, words); err != nil {
					return err
				}
				for ; i < len(f.chunks) && f.chunks[i]>>segShift == seg; i++ {
					c := f.chunks[i]
					w, bit := (c&(segChunks-1))/wordBits, uint64(1)<<(c%wordBits)
					if (words[w]&bit != 0) == mark {
						continue
					}
					words[w] ^= bit
					if !wasComplete {
						d := manifest.ChunkLen(f.size, cs, int64(c))
						if mark {
							in.doneChunks++
							in.doneBytes += d
						} else {
							in.doneChunks--
							in.doneBytes -= d
						}
					}
				}
				if v := encodeSeg(words); v == nil {
					err = chunks.Delete(key)
				} else {
					err = chunks.Put(key, v)
				}
				if err != nil {
					return err
				}
			}
			if !mark && wasComplete {
				// It counted whole; now it counts what is left in its set.
				if err := removeComplete(complete, f.entry); err != nil {
					return err
				}
				if err := putIdents(b, []uint32{f.entry}, nil); err != nil {
					return err
				}
				n, nb, err := fileSet(chunks, f.entry, f.size, cs, false)
				if err != nil {
					return err
				}
				in.doneChunks -= manifest.ChunkCount(f.size, cs) - n
				in.doneBytes -= f.size - nb
			}
		}
		if !mark {
			in.finished = false
		}
		if err := checkCounters(in); err != nil {
			return err
		}
		in.updated = now
		return putInfo(b, in)
	})
	if err != nil {
		return fmt.Errorf("store: %s %s: %w", op, root.Short(), err)
	}
	return nil
}

func checkCounters(in *info) error {
	if in.doneChunks < 0 || in.doneBytes < 0 || in.doneChunks > in.totalChunks || in.doneBytes > in.totalBytes {
		return fmt.Errorf("%w: done counters out of range (%d chunks, %d bytes)", ErrCorrupt, in.doneChunks, in.doneBytes)
	}
	return nil
}

// fileSet counts the chunks and bytes in the stored set of entry (a file of
// size bytes), and with drop deletes the set.
func fileSet(chunks *bolt.Bucket, entry uint32, size int64, cs uint32, drop bool) (n, nb int64, err error) {
	words := make([]uint64, segWords)
	prefix := entryKey(entry)
	var keys [][]byte
	c := chunks.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		_, seg, err := decodeSegKey(k)
		if err != nil {
			return 0, 0, err
		}
		if err := decodeSeg(v, words); err != nil {
			return 0, 0, err
		}
		sn, sb := segCount(words, seg, size, cs)
		n, nb = n+sn, nb+sb
		if drop {
			keys = append(keys, bytes.Clone(k))
		}
	}
	// Deleted after the walk: a bbolt cursor must not delete as it goes.
	for _, k := range keys {
		if err := chunks.Delete(k); err != nil {
			return 0, 0, err
		}
	}
	return n, nb, nil
}

// DoneChunks returns the set of chunks of file entry recorded done: bit c%64
// of word c/64 is chunk c. Trailing zero words may be left out, so the slice
// can be shorter than the file's chunk count needs; a file with none is nil.
// A file recorded complete normally has none (MarkFileComplete drops its
// set). It works on any transfer in the log, begun in this handle or not.
func (l *ResumeLog) DoneChunks(root manifest.Hash, entry uint32) ([]uint64, error) {
	var out []uint64
	err := l.db.View(func(tx *bolt.Tx) error {
		chunks, err := entryBucket(tx, root, entry, bucketChunks)
		if err != nil {
			return err
		}
		words := make([]uint64, segWords)
		prefix := entryKey(entry)
		c := chunks.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			_, seg, err := decodeSegKey(k)
			if err != nil {
				return err
			}
			if err := decodeSeg(v, words); err != nil {
				return err
			}
			base := int(seg) * segWords
			out = slices.Grow(out, base+len(v)/8-len(out))
			for len(out) < base {
				out = append(out, 0)
			}
			out = append(out, words[:len(v)/8]...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: done chunks %s: %w", root.Short(), err)
	}
	return out, nil
}

// Done calls fn for every chunk in the files' done sets, in order (entry,
// then chunk). A complete file's chunks are all done by definition and its
// set was dropped, so Done reports the chunks of files not recorded
// complete (plus any marked on a complete file since, see MarkDone). It
// reads in batches, each in its own read transaction, and calls fn outside
// any transaction, so fn may call other methods of l; a concurrent change
// may or may not be seen. An error from fn stops the walk and is returned
// as is.
func (l *ResumeLog) Done(root manifest.Hash, fn func(ChunkRef) error) error {
	words := make([]uint64, segWords)
	return l.iterate(root, bucketChunks, func(k, v []byte) error {
		entry, seg, err := decodeSegKey(k)
		if err != nil {
			return err
		}
		if err := decodeSeg(v, words); err != nil {
			return err
		}
		base := seg << segShift
		for w, word := range words[:len(v)/8] {
			for word != 0 {
				bit := uint32(bits.TrailingZeros64(word))
				word &= word - 1
				if err := fn(ChunkRef{Entry: entry, Chunk: base + uint32(w)*wordBits + bit}); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// MarkFileComplete records that entries were renamed into place with their
// mode and mtime applied, in one write transaction, and drops their done
// sets. A file not complete before now counts whole: its chunks not yet
// counted are added to DoneChunks and DoneBytes, so DoneBytes == TotalBytes
// once every file is complete. Complete files are kept as intervals of
// entries, merged on insert; so that a tree completed in order stays one
// interval, an interval also takes in the directories and symlinks (up to 64
// in a row) between two runs of complete files. So for an entry that is not
// a regular file, IsComplete and CompleteFiles mean nothing. An entry past
// the manifest's end fails the batch with ErrBadRef. Begin must have run in
// this handle (else ErrNotBegun).
func (l *ResumeLog) MarkFileComplete(root manifest.Hash, entries []uint32) error {
	return l.markComplete(root, entries, nil)
}

func (l *ResumeLog) markComplete(root manifest.Hash, entries []uint32, ids []FileID) error {
	if len(entries) == 0 {
		return nil
	}
	m, err := l.layout(root)
	if err != nil {
		return fmt.Errorf("store: mark complete: %w", err)
	}
	runs, sizes, err := completeRuns(m, entries)
	if err != nil {
		return fmt.Errorf("store: mark complete %s: %w", root.Short(), err)
	}
	cs := m.ChunkSize()
	now := l.now().UnixNano()
	err = l.db.Update(func(tx *bolt.Tx) error {
		b, in, chunks, complete, err := progressBuckets(tx, root)
		if err != nil {
			return err
		}
		k := 0 // index into sizes
		for _, r := range runs {
			ivs, err := touching(complete, r.lo, r.hi)
			if err != nil {
				return err
			}
			j := 0 // ivs[j] is the first interval that may hold e
			for e := r.start; e < r.end; e, k = e+1, k+1 {
				for j < len(ivs) && ivs[j].end <= e {
					j++
				}
				was := j < len(ivs) && ivs[j].start <= e
				size := sizes[k]
				n, nb, err := fileSet(chunks, uint32(e), size, cs, true)
				if err != nil {
					return err
				}
				if !was {
					in.doneChunks += manifest.ChunkCount(size, cs) - n
					in.doneBytes += size - nb
				}
			}
			iv := interval{r.start, r.end}
			for _, o := range ivs {
				iv.start, iv.end = min(iv.start, o.start), max(iv.end, o.end)
				if err := complete.Delete(entryKey(uint32(o.start))); err != nil {
					return err
				}
			}
			if err := complete.Put(entryKey(uint32(iv.start)), encodeEnd(iv.end)); err != nil {
				return err
			}
		}
		if err := putIdents(b, entries, ids); err != nil {
			return err
		}
		if err := checkCounters(in); err != nil {
			return err
		}
		in.updated = now
		return putInfo(b, in)
	})
	if err != nil {
		return fmt.Errorf("store: mark complete %s: %w", root.Short(), err)
	}
	return nil
}

// completeRun is a run [start, end) of entries to record complete; [lo, hi]
// is how far it may reach for a neighbouring interval: the entries in
// [lo, start) and [end, hi) are all directories or symlinks.
type completeRun struct{ start, end, lo, hi uint64 }

// completeRuns sorts and dedups entries into runs and looks their sizes up
// (sizes[k] is the size of the k-th entry of the runs, in order).
func completeRuns(m Manifest, entries []uint32) ([]completeRun, []int64, error) {
	es := slices.Clone(entries)
	slices.Sort(es)
	es = slices.Compact(es)
	sizes := make([]int64, len(es))
	for k, e := range es {
		var err error
		if sizes[k], err = fileSize(m, e); err != nil {
			return nil, nil, err
		}
	}
	var runs []completeRun
	for i := 0; i < len(es); {
		j := i + 1
		for j < len(es) && es[j] == es[j-1]+1 {
			j++
		}
		r := completeRun{start: uint64(es[i]), end: uint64(es[j-1]) + 1}
		var err error
		if r.lo, r.hi, err = bridge(m, r.start, r.end); err != nil {
			return nil, nil, err
		}
		runs = append(runs, r)
		i = j
	}
	return runs, sizes, nil
}

// bridge returns how far the run [start, end) reaches over directories and
// symlinks on either side, at most bridgeMax entries each way.
func bridge(m Manifest, start, end uint64) (lo, hi uint64, err error) {
	notFile := func(i uint64) (bool, error) {
		e, err := m.Entry(int(i))
		if err != nil {
			return false, fmt.Errorf("manifest entry %d: %w", i, err)
		}
		return e.Kind != manifest.KindFile, nil
	}
	for lo = start; lo > 0 && start-lo < bridgeMax; lo-- {
		ok, err := notFile(lo - 1)
		if err != nil {
			return 0, 0, err
		}
		if !ok {
			break
		}
	}
	for hi = end; hi < uint64(m.Len()) && hi-end < bridgeMax; hi++ {
		ok, err := notFile(hi)
		if err != nil {
			return 0, 0, err
		}
		if !ok {
			break
		}
	}
	return lo, hi, nil
}

// touching returns, in order, the intervals that overlap or touch [lo, hi]:
// those that end at or after lo and start at or before hi.
func touching(complete *bolt.Bucket, lo, hi uint64) ([]interval, error) {
	var out []interval
	c := complete.Cursor()
	k, v := c.Seek(entryKey(uint32(lo)))
	// The interval starting before lo may reach it.
	var pk, pv []byte
	if k == nil {
		pk, pv = c.Last()
	} else {
		pk, pv = c.Prev()
	}
	if pk != nil {
		iv, err := decodeInterval(pk, pv)
		if err != nil {
			return nil, err
		}
		if iv.end >= lo {
			out = append(out, iv)
		}
	}
	for k, v = c.Seek(entryKey(uint32(lo))); k != nil; k, v = c.Next() {
		iv, err := decodeInterval(k, v)
		if err != nil {
			return nil, err
		}
		if iv.start > hi {
			break
		}
		out = append(out, iv)
	}
	return out, nil
}

// containing returns the interval holding entry e, if any.
func containing(complete *bolt.Bucket, e uint32) (interval, bool, error) {
	c := complete.Cursor()
	k, v := c.Seek(entryKey(e))
	if k == nil || !bytes.Equal(k, entryKey(e)) {
		if k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
	}
	if k == nil {
		return interval{}, false, nil
	}
	iv, err := decodeInterval(k, v)
	if err != nil {
		return interval{}, false, err
	}
	return iv, iv.start <= uint64(e) && uint64(e) < iv.end, nil
}

func isComplete(complete *bolt.Bucket, e uint32) (bool, error) {
	_, ok, err := containing(complete, e)
	return ok, err
}

// removeComplete takes entry e, which must be complete, out of its
// interval.
func removeComplete(complete *bolt.Bucket, e uint32) error {
	iv, ok, err := containing(complete, e)
	if err != nil || !ok {
		return err
	}
	if err := complete.Delete(entryKey(uint32(iv.start))); err != nil {
		return err
	}
	if iv.start < uint64(e) {
		if err := complete.Put(entryKey(uint32(iv.start)), encodeEnd(uint64(e))); err != nil {
			return err
		}
	}
	if uint64(e)+1 < iv.end {
		if err := complete.Put(entryKey(e+1), encodeEnd(iv.end)); err != nil {
			return err
		}
	}
	return nil
}

// IsComplete reports whether entry is recorded complete (meaningful for
// regular files only, see MarkFileComplete). It works on any transfer in
// the log, begun in this handle or not.
func (l *ResumeLog) IsComplete(root manifest.Hash, entry uint32) (bool, error) {
	var ok bool
	err := l.db.View(func(tx *bolt.Tx) error {
		complete, err := entryBucket(tx, root, entry, bucketComplete)
		if err != nil {
			return err
		}
		ok, err = isComplete(complete, entry)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store: is complete %s: %w", root.Short(), err)
	}
	return ok, nil
}

// CompleteFiles calls fn for every entry recorded complete, in order, the
// way Done does. It yields the directories and symlinks an interval took in
// too (see MarkFileComplete): skip what is not a regular file.
func (l *ResumeLog) CompleteFiles(root manifest.Hash, fn func(entry uint32) error) error {
	return l.iterate(root, bucketComplete, func(k, v []byte) error {
		iv, err := decodeInterval(k, v)
		if err != nil {
			return err
		}
		for e := iv.start; e < iv.end; e++ {
			if err := fn(uint32(e)); err != nil {
				return err
			}
		}
		return nil
	})
}

// iterate calls fn for every key and value of root's sub-bucket name,
// reading at most iterKeys keys or about iterBytes bytes per read
// transaction and calling fn outside it.
func (l *ResumeLog) iterate(root manifest.Hash, name []byte, fn func(k, v []byte) error) error {
	var after []byte // last key handed out; nil before the first
	var kvs [][2][]byte
	for {
		kvs = kvs[:0]
		more := false
		err := l.db.View(func(tx *bolt.Tx) error {
			b, _, err := transfer(tx, root)
			if err != nil {
				return err
			}
			s, err := sub(b, name)
			if err != nil {
				return err
			}
			c := s.Cursor()
			var k, v []byte
			if after == nil {
				k, v = c.First()
			} else if k, v = c.Seek(after); bytes.Equal(k, after) {
				k, v = c.Next()
			}
			size := 0
			for ; k != nil; k, v = c.Next() {
				if len(kvs) == iterKeys || size >= iterBytes {
					more = true
					break
				}
				kvs = append(kvs, [2][]byte{bytes.Clone(k), bytes.Clone(v)})
				size += len(k) + len(v)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("store: reading %s of %s: %w", name, root.Short(), err)
		}
		for _, kv := range kvs {
			if err := fn(kv[0], kv[1]); err != nil {
				return err
			}
		}
		if !more {
			return nil
		}
		after = kvs[len(kvs)-1][0]
	}
}

// Finish records that the whole transfer is verified and in place.
func (l *ResumeLog) Finish(root manifest.Hash) error {
	now := l.now().UnixNano()
	err := l.db.Update(func(tx *bolt.Tx) error {
		b, in, err := transfer(tx, root)
		if err != nil {
			return err
		}
		in.updated, in.finished = now, true
		return putInfo(b, in)
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
		_, in, err := transfer(tx, root)
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

// List returns every transfer (not the pending ones), most recently updated
// first (ties: most recently created first, then by root).
func (l *ResumeLog) List() ([]TransferInfo, error) {
	var list []TransferInfo
	err := l.db.View(func(tx *bolt.Tx) error {
		top := tx.Bucket(bucketTransfers)
		return top.ForEachBucket(func(k []byte) error {
			if len(k) != manifest.HashSize {
				return fmt.Errorf("%w: transfer key of %d bytes", ErrCorrupt, len(k))
			}
			root := manifest.Hash(k)
			in, err := getInfo(top.Bucket(k))
			if err != nil {
				return fmt.Errorf("transfer %s: %w", root.Short(), err)
			}
			if !in.pending {
				list = append(list, in.transferInfo(root))
			}
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

// Delete removes a transfer and everything recorded about it, and forgets
// its layout; an absent or pending root: ErrNotFound.
func (l *ResumeLog) Delete(root manifest.Hash) error {
	err := l.db.Update(func(tx *bolt.Tx) error {
		if _, _, err := transfer(tx, root); err != nil {
			return err
		}
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
