package manifest

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
)

// randomBytes returns n reproducible pseudo-random bytes.
func randomBytes(n int) []byte {
	rng := rand.New(rand.NewPCG(1, 1))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := rng.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// BenchmarkHashChunkSizes hashes 256 MiB at several chunk sizes (one
// goroutine, one reused buffer, as a Walk worker does).
func BenchmarkHashChunkSizes(b *testing.B) {
	const total = 256 << 20
	data := randomBytes(total)
	for _, cs := range []uint32{256 << 10, 1 << 20, 4 << 20} {
		b.Run(fmt.Sprintf("%dKiB", cs>>10), func(b *testing.B) {
			b.SetBytes(total)
			for b.Loop() {
				if _, err := HashChunks(b.Context(), bytes.NewReader(data), total, cs, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHashChunks hashes 64 MiB at DefaultChunkSize.
func BenchmarkHashChunks(b *testing.B) {
	const total = 64 << 20
	data := randomBytes(total)
	b.SetBytes(total)
	for b.Loop() {
		if _, err := HashChunks(b.Context(), bytes.NewReader(data), total, DefaultChunkSize, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeDecode encodes and decodes a 100,000-entry manifest.
func BenchmarkEncodeDecode(b *testing.B) {
	m := randManifest(b, rand.New(rand.NewPCG(2, 2)), 100_000)
	enc := encodeBytes(b, m)
	b.Run("Encode", func(b *testing.B) {
		b.SetBytes(int64(len(enc)))
		for b.Loop() {
			if err := Encode(io.Discard, m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Decode", func(b *testing.B) {
		b.SetBytes(int64(len(enc)))
		for b.Loop() {
			if _, _, err := Decode(bytes.NewReader(enc), Limits{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Root", func(b *testing.B) {
		b.SetBytes(int64(len(enc)))
		for b.Loop() {
			m.Root()
		}
	})
}
