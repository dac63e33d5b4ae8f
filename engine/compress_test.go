package engine

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// drive feeds n chunks of data through the policy on a simulated stream
// whose writes block for blocked of each interval and which moves pace
// bytes/s, and returns how many chunks were sent compressed.
func drive(t *testing.T, data []byte, n int, blocked float64, pace float64) int {
	t.Helper()
	c := newCompressor()
	defer c.enc.Close()
	now := time.Unix(0, 0)
	interval := time.Duration(float64(len(data)) / pace * float64(time.Second))
	sent := 0
	for i := 0; i < n; i++ {
		if c.shouldTry() {
			if out, ok := c.compress(nil, data); ok {
				sent++
				dec, _ := zstd.NewReader(nil)
				got, err := dec.DecodeAll(out, nil)
				dec.Close()
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("round trip failed: %v", err)
				}
			}
		}
		now = now.Add(interval)
		c.wrote(len(data), time.Duration(blocked*float64(interval)), now)
	}
	return sent
}

func textChunk() []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < 1<<20; i++ {
		fmt.Fprintf(&b, "2026-01-01T00:00:%02d INFO [worker-%02d] request %d served in %dms\n", i%60, i%16, i*7919, i%900)
	}
	return b.Bytes()[:1<<20]
}

func TestCompressionPolicy(t *testing.T) {
	random := make([]byte, 1<<20)
	rand.Read(random)
	zeros := make([]byte, 1<<20)
	text := textChunk()
	const n = 96
	// Random data is never worth it, whatever the link: only the probes try.
	if got := drive(t, random, n, 0.9, 10e6); got != 0 {
		t.Errorf("random data: %d chunks sent compressed", got)
	}
	// A slow link (writes block most of the time): text is compressed.
	if got := drive(t, text, n, 0.9, 2.5e6); got < n*9/10 {
		t.Errorf("text on a blocked link: %d of %d compressed", got, n)
	}
	// A fast stream that never blocks (loopback, CPU-bound): ordinary text is
	// sent raw, since compressing it is slower than sending it.
	if got := drive(t, text, n, 0, 5e9); got > n/10 {
		t.Errorf("text on a fast stream: %d of %d compressed", got, n)
	}
	// Zeros compress at GB/s: worth it even when the CPU is the limit.
	if got := drive(t, zeros, n, 0, 50e6); got < n*9/10 {
		t.Errorf("zeros on a CPU-bound stream: %d of %d compressed", got, n)
	}
}
