package store

// The manifest a transfer was begun with, stored in the log in parts, and
// read back as a stream or as a layout (sizes and chunk counts).

import (
	"errors"
	"fmt"
	"io"

	"github.com/zeebo/blake3"
	bolt "go.etcd.io/bbolt"

	"github.com/pcp-p2p/pcp/manifest"
)

// storeManifest stores m's encoding into the pending transfer root, hashing
// it on the way, and checks the hash against root. Each write transaction
// adds one batch bucket of up to partsPerTx parts: a new bucket, so that
// bbolt never rewrites (nor reads back) a part stored earlier.
func (l *ResumeLog) storeManifest(root manifest.Hash, m Manifest) error {
	r := m.Encoding()
	h := blake3.New()
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
