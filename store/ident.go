package store

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/pcp-p2p/pcp/manifest"
)

// FileID is what the receiver records of a file when it puts it in place,
// so that a later run can tell whether anyone touched it since: a write, a
// chmod, a new hard link or a re-creation changes the ctime or the inode,
// even when size and mtime are put back. On Windows Inode is the file index
// and CTime the change time (FILE_BASIC_INFO), read through a handle; the
// engine says where a platform has no identity (engine/fileid.go).
type FileID struct {
	Size  int64
	MTime int64 // Unix ns
	Inode uint64
	CTime int64 // Unix ns
}

// identVersion is the first byte of an identity record:
//
//	version u8 (=1) | size i64 | mtime i64 | inode u64 | ctime i64
const (
	identVersion = 1
	identLen     = 1 + 4*8
)

func encodeIdent(id FileID) []byte {
	b := make([]byte, identLen)
	b[0] = identVersion
	for k, v := range [4]uint64{uint64(id.Size), uint64(id.MTime), id.Inode, uint64(id.CTime)} {
		binary.BigEndian.PutUint64(b[1+8*k:], v)
	}
	return b
}

func decodeIdent(b []byte) (FileID, error) {
	if len(b) != identLen || b[0] != identVersion {
		return FileID{}, fmt.Errorf("%w: identity record of %d bytes, version %d", ErrCorrupt, len(b), firstByte(b))
	}
	u := func(k int) uint64 { return binary.BigEndian.Uint64(b[1+8*k:]) }
	return FileID{Size: int64(u(0)), MTime: int64(u(1)), Inode: u(2), CTime: int64(u(3))}, nil
}

func firstByte(b []byte) int {
	if len(b) == 0 {
		return -1
	}
	return int(b[0])
}

// MarkFileCompleteAs is MarkFileComplete that also records, in the same
// transaction, ids[k] as the identity of entries[k] as it stands in place.
// Completion returns it. MarkFileComplete records no identity (and drops
// one recorded before): such a file never matches.
func (l *ResumeLog) MarkFileCompleteAs(root manifest.Hash, entries []uint32, ids []FileID) error {
	if len(ids) != len(entries) {
		return fmt.Errorf("store: mark complete %s: %d identities for %d entries", root.Short(), len(ids), len(entries))
	}
	return l.markComplete(root, entries, ids)
}

// putIdents records ids[k] for entries[k], or with ids nil drops theirs.
func putIdents(b *bolt.Bucket, entries []uint32, ids []FileID) error {
	ident, err := sub(b, bucketIdent)
	if err != nil {
		return err
	}
	for k, e := range entries {
		if ids == nil {
			err = ident.Delete(entryKey(e))
		} else {
			err = ident.Put(entryKey(e), encodeIdent(ids[k]))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Completion returns the identity recorded for file entry when it was last
// put in place. ok is false unless the file is recorded complete with an
// identity (MarkFileCompleteAs). It works on any transfer in the log.
func (l *ResumeLog) Completion(root manifest.Hash, entry uint32) (id FileID, ok bool, err error) {
	err = l.db.View(func(tx *bolt.Tx) error {
		complete, err := entryBucket(tx, root, entry, bucketComplete)
		if err != nil {
			return err
		}
		if ok, err = isComplete(complete, entry); err != nil || !ok {
			return err
		}
		b, _, err := transfer(tx, root)
		if err != nil {
			return err
		}
		ident, err := sub(b, bucketIdent)
		if err != nil {
			return err
		}
		v := ident.Get(entryKey(entry))
		if ok = v != nil; !ok {
			return nil
		}
		id, err = decodeIdent(v)
		return err
	})
	if err != nil {
		return FileID{}, false, fmt.Errorf("store: completion %s: %w", root.Short(), err)
	}
	return id, ok, nil
}

// DropChunks forgets the whole done set of file entry in one write
// transaction: its staging file is gone or cannot be trusted, so none of
// its chunks is on disk any more. A file recorded complete stays complete
// (its set counted nothing); otherwise the counters lose the set's chunks.
// Begin must have run in this handle (else ErrNotBegun).
func (l *ResumeLog) DropChunks(root manifest.Hash, entry uint32) error {
	m, err := l.layout(root)
	if err != nil {
		return fmt.Errorf("store: drop chunks: %w", err)
	}
	size, err := fileSize(m, entry)
	if err != nil {
		return fmt.Errorf("store: drop chunks %s: %w", root.Short(), err)
	}
	now := l.now().UnixNano()
	err = l.db.Update(func(tx *bolt.Tx) error {
		b, in, chunks, complete, err := progressBuckets(tx, root)
		if err != nil {
			return err
		}
		was, err := isComplete(complete, entry)
		if err != nil {
			return err
		}
		n, nb, err := fileSet(chunks, entry, size, m.ChunkSize(), true)
		if err != nil || n == 0 {
			return err
		}
		if !was {
			in.doneChunks -= n
			in.doneBytes -= nb
			in.finished = false
		}
		if err := checkCounters(in); err != nil {
			return err
		}
		in.updated = now
		return putInfo(b, in)
	})
	if err != nil {
		return fmt.Errorf("store: drop chunks %s: %w", root.Short(), err)
	}
	return nil
}
