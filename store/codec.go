package store

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/pcp-p2p/pcp/manifest"
)

// Record format versions (first byte of every record).
const (
	infoVersion  = 1
	cacheVersion = 1
)

// info is the stored transfer record; TransferInfo is built from it.
type info struct {
	created, updated int64 // Unix ns
	files            int64
	totalBytes       int64
	doneBytes        int64
	totalChunks      int64
	doneChunks       int64
	finished         bool
	chunkSize        uint32
	dest             string
}

const infoFixedLen = 1 + 7*8 + 1 + 4

func encodeInfo(in *info) []byte {
	b := make([]byte, infoFixedLen, infoFixedLen+len(in.dest))
	b[0] = infoVersion
	for i, v := range []int64{in.created, in.updated, in.files, in.totalBytes, in.doneBytes, in.totalChunks, in.doneChunks} {
		binary.BigEndian.PutUint64(b[1+8*i:], uint64(v))
	}
	if in.finished {
		b[57] = 1
	}
	binary.BigEndian.PutUint32(b[58:], in.chunkSize)
	return append(b, in.dest...)
}

func decodeInfo(b []byte) (*info, error) {
	if len(b) < infoFixedLen {
		return nil, fmt.Errorf("%w: transfer record of %d bytes", ErrCorrupt, len(b))
	}
	if b[0] != infoVersion {
		return nil, fmt.Errorf("%w: transfer record version %d", ErrCorrupt, b[0])
	}
	var v [7]int64
	for i := range v {
		v[i] = int64(binary.BigEndian.Uint64(b[1+8*i:]))
		if i >= 2 && v[i] < 0 {
			return nil, fmt.Errorf("%w: negative counter in transfer record", ErrCorrupt)
		}
	}
	if b[57] > 1 {
		return nil, fmt.Errorf("%w: finished flag %d", ErrCorrupt, b[57])
	}
	in := &info{
		created: v[0], updated: v[1], files: v[2],
		totalBytes: v[3], doneBytes: v[4], totalChunks: v[5], doneChunks: v[6],
		finished:  b[57] == 1,
		chunkSize: binary.BigEndian.Uint32(b[58:]),
		dest:      string(b[infoFixedLen:]),
	}
	if in.doneBytes > in.totalBytes || in.doneChunks > in.totalChunks {
		return nil, fmt.Errorf("%w: done counters exceed totals", ErrCorrupt)
	}
	return in, nil
}

func (in *info) transferInfo(root manifest.Hash) TransferInfo {
	return TransferInfo{
		Root:        root,
		Dest:        in.dest,
		Created:     time.Unix(0, in.created),
		Updated:     time.Unix(0, in.updated),
		Files:       in.files,
		TotalBytes:  in.totalBytes,
		DoneBytes:   in.doneBytes,
		TotalChunks: in.totalChunks,
		DoneChunks:  in.doneChunks,
		Finished:    in.finished,
	}
}

// chunkKey is the done/ key of a chunk: entry u32 BE | chunk u32 BE, so key
// order is manifest order.
func chunkKey(r ChunkRef) [8]byte {
	var k [8]byte
	binary.BigEndian.PutUint32(k[:4], r.Entry)
	binary.BigEndian.PutUint32(k[4:], r.Chunk)
	return k
}

func decodeChunkKey(k []byte) (ChunkRef, error) {
	if len(k) != 8 {
		return ChunkRef{}, fmt.Errorf("%w: chunk key of %d bytes", ErrCorrupt, len(k))
	}
	return ChunkRef{Entry: binary.BigEndian.Uint32(k), Chunk: binary.BigEndian.Uint32(k[4:])}, nil
}

func entryKey(e uint32) [4]byte {
	var k [4]byte
	binary.BigEndian.PutUint32(k[:], e)
	return k
}

func partKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, seq)
}

// cacheRec is one hash cache record.
type cacheRec struct {
	size, mtime int64
	inode, dev  uint64
	chunkSize   uint32
	lastUsed    int64
	hashes      []manifest.Hash
}

const cacheFixedLen = 1 + 8 + 8 + 8 + 8 + 4 + 8

func encodeCacheRec(r *cacheRec) []byte {
	b := make([]byte, cacheFixedLen, cacheFixedLen+len(r.hashes)*manifest.HashSize)
	b[0] = cacheVersion
	binary.BigEndian.PutUint64(b[1:], uint64(r.size))
	binary.BigEndian.PutUint64(b[9:], uint64(r.mtime))
	binary.BigEndian.PutUint64(b[17:], r.inode)
	binary.BigEndian.PutUint64(b[25:], r.dev)
	binary.BigEndian.PutUint32(b[33:], r.chunkSize)
	binary.BigEndian.PutUint64(b[37:], uint64(r.lastUsed))
	for i := range r.hashes {
		b = append(b, r.hashes[i][:]...)
	}
	return b
}

// decodeCacheRec decodes a record; with hashes false it skips copying the
// hashes (but still checks their length).
func decodeCacheRec(b []byte, hashes bool) (*cacheRec, error) {
	if len(b) < cacheFixedLen {
		return nil, fmt.Errorf("%w: cache record of %d bytes", ErrCorrupt, len(b))
	}
	if b[0] != cacheVersion {
		return nil, fmt.Errorf("%w: cache record version %d", ErrCorrupt, b[0])
	}
	rest := b[cacheFixedLen:]
	if len(rest)%manifest.HashSize != 0 {
		return nil, fmt.Errorf("%w: cache record hashes of %d bytes", ErrCorrupt, len(rest))
	}
	r := &cacheRec{
		size:      int64(binary.BigEndian.Uint64(b[1:])),
		mtime:     int64(binary.BigEndian.Uint64(b[9:])),
		inode:     binary.BigEndian.Uint64(b[17:]),
		dev:       binary.BigEndian.Uint64(b[25:]),
		chunkSize: binary.BigEndian.Uint32(b[33:]),
		lastUsed:  int64(binary.BigEndian.Uint64(b[37:])),
	}
	if r.size < 0 {
		return nil, fmt.Errorf("%w: negative size in cache record", ErrCorrupt)
	}
	if hashes {
		n := len(rest) / manifest.HashSize
		r.hashes = make([]manifest.Hash, n)
		for i := range n {
			r.hashes[i] = manifest.Hash(rest[i*manifest.HashSize:])
		}
	}
	return r, nil
}

// setCacheLastUsed returns a copy of the encoded record b with lastUsed set.
func setCacheLastUsed(b []byte, t int64) []byte {
	c := append([]byte(nil), b...)
	binary.BigEndian.PutUint64(c[37:], uint64(t))
	return c
}
