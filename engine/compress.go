package engine

import (
	"time"

	"github.com/klauspost/compress/zstd"
)

// compressor decides, chunk by chunk, whether zstd pays on this stream.
//
// Compression pays when the link (or the peer) is the bottleneck, and costs
// when this side's CPU is: on loopback or a fast LAN, compressing ordinary
// text at ~400 MB/s per core is slower than sending it raw over TLS at
// ~1.3 GB/s. So the compressor watches two things:
//
//   - blocked, the fraction of wall time this stream spends blocked in Write:
//     when the peer or the link cannot keep up, writes block and every byte
//     saved is time saved;
//   - the cost of compressing relative to the stream's pace: when zstd runs
//     far faster than the stream moves data (highly repetitive data, several
//     GB/s), it pays even when the CPU is the limit.
//
// Incompressible data (ratio above 0.9) is sent raw; a probe every
// probeEvery chunks keeps the estimates fresh as the data or link changes.
type compressor struct {
	enc *zstd.Encoder

	n        int     // chunks seen
	ratio    float64 // EWMA of compressed/raw
	compRate float64 // EWMA bytes/s compressing
	blocked  float64 // EWMA fraction of wall time spent in Write
	pace     float64 // EWMA bytes/s of the stream, wall time
	last     time.Time
}

const (
	probeEvery     = 32
	blockedPays    = 0.5 // writes blocked this much of the time: the link is the limit
	cheapCompress  = 4.0 // zstd this many times faster than the stream: pays anyway
	incompressible = 0.9
)

func newCompressor() *compressor {
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(1),
		zstd.WithZeroFrames(true),
		zstd.WithEncoderCRC(false)) // BLAKE3 verifies every chunk already
	if err != nil {
		panic(err) // only on invalid options
	}
	return &compressor{enc: enc, ratio: 0.5}
}

// shouldTry reports whether to attempt compressing the next chunk.
func (c *compressor) shouldTry() bool {
	c.n++
	if c.n <= 2 || c.n%probeEvery == 0 {
		return true
	}
	if c.ratio > incompressible {
		return false
	}
	if c.blocked > blockedPays {
		return true
	}
	return c.pace > 0 && c.compRate > cheapCompress*c.pace
}

// compress appends the zstd encoding of src to dst and records the figures.
// ok is false when the result is not worth sending.
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
	return out, r <= incompressible
}

// wrote records a chunk of raw bytes sent with a Write that took d and
// ended at now.
func (c *compressor) wrote(raw int, d time.Duration, now time.Time) {
	if !c.last.IsZero() {
		if wall := now.Sub(c.last); wall > 0 {
			c.blocked = ewma(c.blocked, min(1, d.Seconds()/wall.Seconds()), false)
			c.pace = ewma(c.pace, float64(raw)/wall.Seconds(), c.pace == 0)
		}
	}
	c.last = now
}

func ewma(old, v float64, first bool) float64 {
	if first {
		return v
	}
	return old*0.8 + v*0.2
}
