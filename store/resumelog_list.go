package store

// Reading a transfer in batches, and the transfers' lifecycle: finish,
// info, list, delete.

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/pcp-p2p/pcp/manifest"
)

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
