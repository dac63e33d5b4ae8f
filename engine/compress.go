package engine

import (
	"time"

	"github.com/klauspost/compress/zstd"
)

// compressor decides, stream by stream, whether zstd pays, by measuring it.
//
// Whether compression pays depends on the link as much as on the data: on
// loopback or a fast LAN, compressing ordinary text at ~400 MB/s per core is
// slower than sending it raw over TLS, while on a 100 Mbit link it is several
// times faster, and highly repetitive data compresses at GB/s and pays
// everywhere. Neither write timings nor CPU figures tell these cases apart
// reliably (a peer short of CPU looks like a slow link), so the compressor
// runs an experiment instead: it sends epochs of epochLen chunks in one mode,
// measures the pace (raw bytes per wall second) of each mode, uses the faster
// one, and re-tries the other every exploreEvery epochs in case the link or
// the data changed.
//
// Data whose compressed size is above incompressible of the raw size is
// always sent raw: a probe every probeEvery chunks tracks the ratio cheaply
// (zstd detects random input at GB/s), so incompressible data costs next to
// nothing.
//
// The encoder is not the compressor's: it comes with the chunk buffers the
// stream borrows for each chunk (servedata.go), so that encoders, like
// buffers, are bounded by the sender's slots and not by its streams.
type compressor struct {
	n     int     // chunks seen
	ratio float64 // EWMA of compressed/raw, from probes and compressed chunks

	zstd        bool       // the mode of the current epoch
	pace        [2]float64 // EWMA raw bytes/s, [raw, zstd]; 0 = not measured
	epochs      int
	epochChunks int
	epochBytes  int64
	epochStart  time.Time
}

const (
	epochLen       = 8
	exploreEvery   = 8
	probeEvery     = 32
	incompressible = 0.9
)

func newCompressor() *compressor { return &compressor{ratio: 1} }

// newEncoder returns a zstd encoder for EncodeAll of chunks of up to cs
// bytes: it starts no goroutines and needs no Close. Each chunk is a frame
// of its own, so a window past the chunk finds nothing more to match; the
// default window (8 MiB of history per encoder) was most of what a data
// stream cost the sender.
func newEncoder(cs uint32) *zstd.Encoder {
	w := zstd.MinWindowSize
	for w < int(cs) && w < zstd.MaxWindowSize {
		w <<= 1
	}
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithWindowSize(w),
		zstd.WithLowerEncoderMem(true),
		zstd.WithEncoderConcurrency(1),
		zstd.WithZeroFrames(true),
		zstd.WithEncoderCRC(false)) // BLAKE3 verifies every chunk already
	if err != nil {
		panic(err) // only on invalid options
	}
	return enc
}

// shouldTry reports whether to compress the next chunk.
func (c *compressor) shouldTry() bool {
	c.n++
	if c.n == 1 || c.n%probeEvery == 0 {
		return true // a ratio probe
	}
	return c.zstd && c.ratio <= incompressible
}

// compress appends the zstd encoding of src to dst, made by enc, and
// records the ratio. ok is false when the result is not worth sending.
func (c *compressor) compress(enc *zstd.Encoder, dst, src []byte) (out []byte, ok bool) {
	out = enc.EncodeAll(src, dst)
	r := float64(len(out)-len(dst)) / float64(max(len(src), 1))
	c.ratio = ewma(c.ratio, r, c.n <= 1)
	return out, r <= incompressible
}

// wrote records that a chunk of raw bytes was sent, at time now.
func (c *compressor) wrote(raw int, now time.Time) {
	if c.epochStart.IsZero() {
		c.epochStart = now
		return // the first write starts the clock
	}
	c.epochChunks++
	c.epochBytes += int64(raw)
	if c.epochChunks < epochLen {
		return
	}
	if el := now.Sub(c.epochStart).Seconds(); el > 0 {
		m := b2i(c.zstd)
		c.pace[m] = ewma(c.pace[m], float64(c.epochBytes)/el, c.pace[m] == 0)
	}
	c.epochs++
	c.epochChunks, c.epochBytes, c.epochStart = 0, 0, now
	switch {
	case c.ratio > incompressible:
		c.zstd = false
	case c.pace[1] == 0:
		c.zstd = true // not measured yet
	case c.epochs%exploreEvery == 0:
		c.zstd = !c.zstd
	default:
		c.zstd = c.pace[1] > c.pace[0]
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func ewma(old, v float64, first bool) float64 {
	if first {
		return v
	}
	return old*0.7 + v*0.3
}
