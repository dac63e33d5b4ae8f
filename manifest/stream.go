package manifest

import (
	"encoding/binary"
	"fmt"
	"hash"

	"github.com/zeebo/blake3"
)

// A stream (pcp send -) has no manifest up front: its chunks are announced
// as they are read, and a root covers the whole once it ends. StreamRoot
// is that root:
//
//	BLAKE3-256( "pcp stream root v1" | chunk size u32 | hash of chunk 0 | ... | hash of chunk n-1 | size u64 | n u64 )
//
// integers big-endian. Every chunk has exactly the chunk size, but the last,
// which has 1 to chunk size bytes; an empty stream has no chunk (n = 0,
// size = 0). The root can be computed as the chunks arrive (StreamHasher):
// no one has to hold the list of hashes.

const streamRootDomain = "pcp stream root v1"

// StreamHasher computes a StreamRoot incrementally.
type StreamHasher struct {
	h  hash.Hash
	cs uint32
	n  uint64
}

// NewStreamHasher starts the root of a stream cut into chunks of cs bytes.
func NewStreamHasher(cs uint32) (*StreamHasher, error) {
	if err := checkChunkSize(cs); err != nil {
		return nil, err
	}
	h := blake3.New()
	h.Write([]byte(streamRootDomain))
	h.Write(binary.BigEndian.AppendUint32(nil, cs))
	return &StreamHasher{h: h, cs: cs}, nil
}

// Add appends the hash of the next chunk.
func (s *StreamHasher) Add(chunk Hash) {
	s.h.Write(chunk[:])
	s.n++
}

// Chunks is the number of chunk hashes added.
func (s *StreamHasher) Chunks() uint64 { return s.n }

// Sum is the root of a stream of size bytes made of the chunks added so
// far. It fails when size does not fit them (each chunk but the last full,
// the last 1 to chunk size bytes). The hasher may not be used after Sum.
func (s *StreamHasher) Sum(size uint64) (Hash, error) {
	if want := StreamChunks(size, s.cs); want != s.n {
		return Hash{}, fmt.Errorf("%w: a stream of %d bytes has %d chunks of %d bytes, not %d", ErrInvalid, size, want, s.cs, s.n)
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], size)
	binary.BigEndian.PutUint64(b[8:], s.n)
	s.h.Write(b[:])
	var root Hash
	s.h.Sum(root[:0])
	return root, nil
}

// StreamChunks is the number of chunks of a stream of size bytes.
func StreamChunks(size uint64, cs uint32) uint64 {
	return (size + uint64(cs) - 1) / uint64(cs)
}

// StreamRoot is the root of a stream with these chunk hashes and size.
func StreamRoot(cs uint32, size uint64, chunks []Hash) (Hash, error) {
	s, err := NewStreamHasher(cs)
	if err != nil {
		return Hash{}, err
	}
	for _, c := range chunks {
		s.Add(c)
	}
	return s.Sum(size)
}

// CheckChunkSize reports whether cs is a chunk size a manifest or a stream
// may have: a power of two within MinChunkSize..MaxChunkSize.
func CheckChunkSize(cs uint32) error { return checkChunkSize(cs) }
