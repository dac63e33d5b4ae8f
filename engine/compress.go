package engine

import (
	"time"

	"github.com/klauspost/compress/zstd"
)

// compressor decides, chunk by chunk, whether zstd pays on this stream. It
// compresses only when the link, not the CPU, is the bottleneck:
//
//	sending raw costs n/W seconds; compressed costs n/C + r*n/W,
//
// where W is the stream's measured write rate, C the measured compression
// rate and r the compressed/raw ratio. Compression pays when W < C*(1-r).
// Both sides of that are measured on this stream; a probe every probeEvery
// chunks keeps the estimates fresh when the data or the link changes.
// Incompressible data is detected at zstd's fast path (PERF.md: about
// 5 GB/s for random input at the default level), so it costs next to nothing.
type compressor struct {
	enc *zstd.Encoder
	out []byte

	n          int     // chunks seen
	ratio      float64 // EWMA of compressed/raw
	compRate   float64 // EWMA bytes/s compressing
	writeRate  float64 // EWMA bytes/s writing to the stream
	probeEvery int
}

const probeEvery = 32

func newCompressor() *compressor {
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(1),
		zstd.WithZeroFrames(true),
		zstd.WithEncoderCRC(false)) // BLAKE3 verifies every chunk already
	if err != nil {
		panic(err) // only on invalid options
	}
	return &compressor{enc: enc, ratio: 0.5, probeEvery: probeEvery}
}

// shouldTry reports whether to attempt compressing the next chunk.
func (c *compressor) shouldTry() bool {
	c.n++
	if c.n <= 2 || c.n%c.probeEvery == 0 {
		return true
	}
	if c.ratio > 0.9 {
		return false // incompressible
	}
	if c.writeRate == 0 || c.compRate == 0 {
		return true
	}
	return c.writeRate < c.compRate*(1-c.ratio)
}

// compress appends the zstd encoding of src to dst and records the figures.
// ok is false when the result is not smaller enough to be worth sending.
func (c *compressor) compress(dst, src []byte) (out []byte, ok bool) {
	start := time.Now()
	out = c.enc.EncodeAll(src, dst)
	el := time.Since(start).Seconds()
	n := len(out) - len(dst)
	r := float64(n) / float64(max(len(src), 1))
	c.ratio = ewma(c.ratio, r, c.n <= 1)
	if el > 0 {
		c.compRate = ewma(c.compRate, float64(len(src))/el, c.compRate == 0)
	}
	return out, n < len(src)-len(src)/16
}

// wrote records a write of n bytes that took d.
func (c *compressor) wrote(n int, d time.Duration) {
	if d <= 0 || n < 64<<10 {
		return
	}
	c.writeRate = ewma(c.writeRate, float64(n)/d.Seconds(), c.writeRate == 0)
}

func ewma(old, v float64, first bool) float64 {
	if first {
		return v
	}
	return old*0.8 + v*0.2
}
