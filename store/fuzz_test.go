package store

import (
	"bytes"
	"testing"

	"github.com/pcp-p2p/pcp/manifest"
)

// FuzzDecodeInfo: the transfer record decoder never panics, and what it
// accepts re-encodes to the same bytes.
func FuzzDecodeInfo(f *testing.F) {
	f.Add(encodeInfo(&info{created: 1, updated: 2, files: 3, totalBytes: 10, doneBytes: 5, totalChunks: 4, doneChunks: 2, finished: true, chunkSize: 1 << 20, dest: "/x"}))
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

// FuzzDecodeChunkKey: keys decode only at 8 bytes and round-trip.
func FuzzDecodeChunkKey(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 2})
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeChunkKey(b)
		if err != nil {
			return
		}
		if k := chunkKey(r); !bytes.Equal(k[:], b) {
			t.Fatalf("round trip differs")
		}
	})
}
