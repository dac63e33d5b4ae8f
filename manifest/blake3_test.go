package manifest

import (
	"crypto/rand"
	"fmt"
	"testing"

	"lukechampine.com/blake3"
)

// TestSum256MatchesLibrary: every length up to 40 KiB (all partial-chunk
// and subtree shapes up to 2.5 SIMD buffers), and lengths around the
// power-of-two boundaries up to 4 MiB, hash as the library hashes them.
func TestSum256MatchesLibrary(t *testing.T) {
	data := make([]byte, 4<<20+1025)
	rand.Read(data)
	check := func(n int) {
		if got, want := sum256(data[:n]), Hash(blake3.Sum256(data[:n])); got != want {
			t.Fatalf("sum256 of %d bytes = %s, library %s", n, got, want)
		}
	}
	for n := 0; n <= 40<<10; n++ {
		check(n)
	}
	for p := 15; p <= 22; p++ {
		for _, d := range []int{-1025, -1024, -1, 0, 1, 1023, 1024, 1025} {
			check(1<<p + d)
		}
	}
	check(len(data))
}

func BenchmarkSum256(b *testing.B) {
	for _, n := range []int{4 << 10, 64 << 10, 1 << 20} {
		data := make([]byte, n)
		rand.Read(data)
		b.Run(fmt.Sprintf("serial/%d", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				sum256(data)
			}
		})
		b.Run(fmt.Sprintf("library/%d", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				blake3.Sum256(data)
			}
		})
	}
}
