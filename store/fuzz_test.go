package store

import (
	"bytes"
	"testing"

	"github.com/pcp-p2p/pcp/manifest"
)

// FuzzDecodeInfo: the transfer record decoder never panics, and what it
// accepts re-encodes to the same bytes.
func FuzzDecodeInfo(f *testing.F) {
	f.Add(encodeInfo(&info{created: 1, updated: 2, entries: 4, files: 3, totalBytes: 10, doneBytes: 5, totalChunks: 4, doneChunks: 2, finished: true, chunkSize: 1 << 20, dest: "/x"}))
	f.Add(encodeInfo(&info{entries: 1, pending: true}))
	f.Add(encodeInfo(&info{}))
	f.Add([]byte{infoVersion})
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := decodeInfo(b)
		if err != nil {
			return
		}
		if !bytes.Equal(encodeInfo(in), b) {
			t.Fatalf("re-encoding differs")
		}
	})
}

// FuzzDecodeCacheRec: the cache record decoder never panics, and what it
// accepts re-encodes to the same bytes.
func FuzzDecodeCacheRec(f *testing.F) {
	f.Add(encodeCacheRec(&cacheRec{size: 5, mtime: 6, inode: 7, dev: 8, chunkSize: 1 << 20, lastUsed: 9, hashes: make([]manifest.Hash, 1)}))
	f.Add(encodeCacheRec(&cacheRec{}))
	f.Add(make([]byte, cacheFixedLen+31))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeCacheRec(b, true)
		if err != nil {
			return
		}
		if !bytes.Equal(encodeCacheRec(r), b) {
			t.Fatalf("re-encoding differs")
		}
		if _, err := decodeCacheRec(b, false); err != nil {
			t.Fatalf("decoding without hashes fails: %v", err)
		}
	})
}

// FuzzDecodeSegKey: keys decode only at 8 bytes and round-trip.
func FuzzDecodeSegKey(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 2})
	f.Add([]byte{0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, seg, err := decodeSegKey(b)
		if err != nil {
			return
		}
		if !bytes.Equal(segKey(e, seg), b) {
			t.Fatalf("round trip differs")
		}
	})
}

// FuzzDecodeSeg: the bitset decoder never panics, accepts only what
// encodeSeg produces, and counts within the segment's chunks.
func FuzzDecodeSeg(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 1}, uint32(0), int64(1))
	f.Add(encodeSeg([]uint64{0, 1 << 63, 5}), uint32(1), int64(3*segChunks*testChunk))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0}, uint32(0), int64(0))
	f.Fuzz(func(t *testing.T, b []byte, seg uint32, size int64) {
		words := make([]uint64, segWords)
		if err := decodeSeg(b, words); err != nil {
			return
		}
		if !bytes.Equal(encodeSeg(words), b) {
			t.Fatalf("re-encoding differs")
		}
		if size < 0 || seg > 1<<18 {
			return
		}
		n, nb := segCount(words, seg, size, testChunk)
		if n < 0 || n > segChunks || nb < 0 || nb > n*testChunk {
			t.Fatalf("segCount = %d chunks %d bytes", n, nb)
		}
	})
}

// FuzzDecodeInterval: intervals decode only at 4+4 bytes, non-empty.
func FuzzDecodeInterval(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1}, []byte{0, 0, 0, 2})
	f.Add([]byte{0, 0, 0, 2}, []byte{0, 0, 0, 2})
	f.Fuzz(func(t *testing.T, k, v []byte) {
		iv, err := decodeInterval(k, v)
		if err != nil {
			return
		}
		if iv.end <= iv.start || !bytes.Equal(entryKey(uint32(iv.start)), k) || !bytes.Equal(encodeEnd(iv.end), v) {
			t.Fatalf("round trip of %v differs", iv)
		}
	})
}
