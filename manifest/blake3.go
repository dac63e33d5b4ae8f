package manifest

import "github.com/zeebo/blake3"

// sum256 is BLAKE3-256 of b, on the calling goroutine, without allocating.
//
// Why github.com/zeebo/blake3: pcp hashes every chunk three times (the
// sender's walk, its check before serving, the receiver's verify), and a
// tree of small files is mostly chunks of a few KiB. On amd64 this
// library hashes 1 KiB BLAKE3 chunks eight at a time with AVX2 (SSE4.1
// below that) and compresses parent nodes in assembly too; measured
// beside lukechampine.com/blake3 v1.4.1 (with the serial tree builder pcp
// used over its AVX-512 kernel, which pays for 16 lanes and compresses
// parents in Go), on the 2-core test machine, zero allocations for both:
//
//	4 KiB     1.7 GB/s against 0.47 GB/s
//	64 KiB    4.0 GB/s against 2.0 GB/s
//	1 MiB     3.9 GB/s against 3.3 GB/s
//
// (BenchmarkSum256). Checked against the BLAKE3 team's published test
// vectors (blake3_test.go).
func sum256(b []byte) Hash { return blake3.Sum256(b) }
