package engine

import (
	"time"

	"github.com/klauspost/compress/zstd"
)

// compressor decides, stream by stream, whether zstd pays and at which
// level, by measuring it.
//
// Whether compression pays depends on the link as much as on the data: on
// loopback or a fast LAN, compressing ordinary text at ~400 MB/s per core is
// slower than sending it raw over TLS, while on a 100 Mbit link it is several
// times faster, and highly repetitive data compresses at GB/s and pays
// everywhere. Neither write timings nor CPU figures alone tell these cases
// apart (a peer short of CPU looks like a slow link), so the compressor runs
// an experiment: it sends epochs of epochLen chunks in one mode, measures the
// pace (raw bytes per wall second) of each mode, and uses the faster one
// (policy). Compressible data starts in zstd; when that epoch spent little
// of its time compressing, the raw pace is first guessed from it (the wire
// bytes over the time not spent compressing: what the link took), so that
// a slow link does not spend an epoch raw to learn that raw is slow (the
// first epochs, which include the stream's start, are not trusted to say
// otherwise: warmingUp); the guess is replaced by a measurement within 32
// epochs. The slower mode is
// tried again now and then, rarely when the winner leads by far, and at
// once when the pace of the current mode jumps or falls by rateJump (a
// relay giving way to a direct path, or a link that got busy; a new path
// also brings new data streams, each with a new compressor).
//
// While zstd wins, the level follows the share of each epoch spent
// compressing: little means the link, not the CPU, is the bottleneck, and a
// stronger level costs nothing in delivered bytes; much means the CPU is,
// and the level steps down. Every chunk is still a zstd frame of its own,
// decompressed and verified alone.
//
// Data whose compressed size is above incompressible of the raw size is
// always sent raw: a probe every probeEvery chunks tracks the ratio cheaply
// (zstd detects random input at GB/s), so incompressible data costs next to
// nothing.
//
// The encoders are not the compressor's: they come with the chunk buffers
// the stream borrows for each chunk (servedata.go, servelimits.go), so that
// encoders, like buffers, are bounded by the sender's slots and not by its
// streams.
type compressor struct {
	n     int     // chunks seen
	ratio float64 // EWMA of compressed/raw, from probes and compressed chunks

	zstd         bool // the mode of the current epoch
	level        zstd.EncoderLevel
	pace         [2]float64 // EWMA raw bytes/s, [raw, zstd]; 0 = not measured
	sinceExplore int        // epochs since the losing mode was last tried
	epochChunks  int
	epochBytes   int64
	epochWire    int64
	// rawGuessed: pace[0] is an estimate from a zstd epoch (guessBusy),
	// not a measurement.
	rawGuessed bool
	epochBusy  time.Duration // spent compressing in this epoch
	epochStart time.Time
	// epochs and sent count the stream's ended epochs and its wire bytes,
	// for warmingUp.
	epochs int
	sent   int64
}

const (
	epochLen       = 8
	probeEvery     = 32
	incompressible = 0.9
	// rateJump: an epoch this many times faster or slower than its mode's
	// average means the link changed; the other mode is measured again.
	rateJump = 4
	// guessBusy: a zstd epoch that spent less than this share of its time
	// compressing was held back by the link (or the reading, or the peer),
	// not by compression: the raw pace is then guessed as the wire bytes
	// over the rest of the time, and zstd cost at most 1/(1-guessBusy) of
	// the pace even where the guess is wrong.
	guessBusy = 0.25
)

func newCompressor() *compressor { return &compressor{ratio: 1, level: zstd.SpeedFastest} }

// newEncoder returns a zstd encoder at level for EncodeAll of chunks of up
// to cs bytes: it starts no goroutines and needs no Close. Each chunk is a
// frame of its own, so a window past the chunk finds nothing more to match;
// the default window (8 MiB of history per encoder) was most of what a data
// stream cost the sender.
func newEncoder(cs uint32, level zstd.EncoderLevel) *zstd.Encoder {
	w := zstd.MinWindowSize
	for w < int(cs) && w < zstd.MaxWindowSize {
		w <<= 1
	}
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(level),
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

// A stream's first epochs include its start: TCP slow start, the other
// streams compressing their first chunks on the same CPU, and socket
// buffers that take megabytes before the link holds a write back. There a
// zstd epoch can look CPU-bound on a 200 Mbit link, and trusted, it made
// the next epoch raw: 8 MiB raw per stream, a tenth more bytes on the wire
// for 256 MiB of Go source. So until a stream has sent warmUpWire, or for
// at most warmUpEpochs, a zstd epoch that looked CPU-bound is measured
// again before raw is. On a link that is truly fast, that costs at most
// warmUpEpochs more epochs in zstd where raw would have been faster.
const (
	warmUpWire   = 4 << 20
	warmUpEpochs = 4
)

func (c *compressor) warmingUp() bool { return c.epochs < warmUpEpochs && c.sent < warmUpWire }

// shouldTry reports whether to compress the next chunk.
func (c *compressor) shouldTry() bool {
	c.n++
	if c.n == 1 || c.n%probeEvery == 0 {
		return true // a ratio probe
	}
	return c.zstd && c.ratio <= incompressible
}

// compress appends the zstd encoding of src to dst, made by enc (an
// encoder at c.level), and records the ratio. ok is false when the result
// is not worth sending.
func (c *compressor) compress(enc *zstd.Encoder, dst, src []byte) (out []byte, ok bool) {
	out = enc.EncodeAll(src, dst)
	r := float64(len(out)-len(dst)) / float64(max(len(src), 1))
	c.ratio = ewma(c.ratio, r, c.n <= 1)
	if c.n <= 1 {
		c.zstd = r <= incompressible // the first epoch: zstd if it may pay
	}
	return out, r <= incompressible
}

// wrote records that a chunk of raw bytes was sent as wire bytes, at time
// now, after busy spent compressing it (0 if it was not).
func (c *compressor) wrote(raw, wire int, busy time.Duration, now time.Time) {
	if c.epochStart.IsZero() {
		c.epochStart = now
		return // the first write starts the clock
	}
	c.epochBusy += busy
	c.epochChunks++
	c.epochBytes += int64(raw)
	c.epochWire += int64(wire)
	if c.epochChunks < epochLen {
		return
	}
	share := 0.0
	warming := c.warmingUp()
	c.epochs++
	c.sent += c.epochWire
	if el := now.Sub(c.epochStart).Seconds(); el > 0 {
		m, p := b2i(c.zstd), float64(c.epochBytes)/el
		share = c.epochBusy.Seconds() / el
		switch old := c.pace[m]; {
		case warming && c.zstd && share >= guessBusy:
			// Not trusted: pace[1] stays unmeasured, so the next epoch
			// is zstd again.
		case m == 0 && c.rawGuessed:
			c.pace[0], c.rawGuessed = p, false // measured at last
		case old > 0 && (p > old*rateJump || p < old/rateJump):
			c.pace[1-m] = 0 // the link changed: measure the other mode again
			c.pace[m] = p
		default:
			c.pace[m] = ewma(old, p, old == 0)
		}
		if idle := el - c.epochBusy.Seconds(); c.zstd && c.pace[0] == 0 && share < guessBusy && idle > 0 {
			c.pace[0], c.rawGuessed = float64(c.epochWire)/idle, true
		}
	}
	d := policy(policyIn{ratio: c.ratio, pace: c.pace, rawGuessed: c.rawGuessed, zstd: c.zstd, busy: share,
		level: c.level, sinceExplore: c.sinceExplore})
	if d.explore {
		c.sinceExplore = 0
	} else {
		c.sinceExplore++
	}
	c.zstd, c.level = d.zstd, d.level
	c.epochChunks, c.epochBytes, c.epochWire, c.epochBusy, c.epochStart = 0, 0, 0, 0, now
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

// newChunkDecoder is the decoder of one data stream on the receiving side
// (files, streams, swarm sources): single-threaded, and bounded to twice
// the chunk size cs, whatever a frame claims (a chunk's own length is
// checked by each caller).
func newChunkDecoder(cs uint64) (*zstd.Decoder, error) {
	return zstd.NewReader(nil, zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderMaxMemory(cs*2), zstd.WithDecoderMaxWindow(cs*2))
}
