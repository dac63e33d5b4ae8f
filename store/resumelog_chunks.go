package store

// Chunk sets: which chunks of each file are durable at the receiver.

import (
	"bytes"
	"fmt"
	"math/bits"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/pcp-p2p/pcp/manifest"
)

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
