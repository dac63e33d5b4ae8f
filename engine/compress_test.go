package engine

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// simLink is a simulated stream: a link of linkRate bytes/s, and a CPU that
// reads and hashes raw data at readRate, encrypts wire bytes at tlsRate and
// compresses at zstdRate (bytes/s). A chunk takes as long as its slower
// resource, the link or the CPU.
type simLink struct{ linkRate, readRate, tlsRate, zstdRate float64 }

// drive feeds n chunks of data through the policy on the simulated link and
// returns how many were sent compressed.
func drive(t *testing.T, data []byte, n int, l simLink) int {
	t.Helper()
	c, enc := newCompressor(), newEncoder(1<<20)
	dec, _ := zstd.NewReader(nil)
	defer dec.Close()
	now := time.Unix(0, 0)
	c.wrote(0, now)
	sent := 0
	for i := 0; i < n; i++ {
		wire, cpu := float64(len(data)), float64(len(data))/l.readRate
		if c.shouldTry() {
			out, ok := c.compress(enc, nil, data)
			cpu += float64(len(data)) / l.zstdRate
			if ok {
				sent++
				wire = float64(len(out))
				if got, err := dec.DecodeAll(out, nil); err != nil || !bytes.Equal(got, data) {
					t.Fatalf("round trip failed: %v", err)
				}
			}
		}
		took := max(wire/l.linkRate, cpu+wire/l.tlsRate)
		now = now.Add(time.Duration(took * float64(time.Second)))
		c.wrote(len(data), now)
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
	const n = 256
	// Random data is never sent compressed, whatever the link.
	if got := drive(t, random, n, simLink{2.5e6, 3e9, 1e9, 400e6}); got != 0 {
		t.Errorf("random data: %d chunks sent compressed", got)
	}
	// A 20 Mbit link: text is compressed almost always.
	if got := drive(t, text, n, simLink{2.5e6, 3e9, 1e9, 400e6}); got < n*8/10 {
		t.Errorf("text on a slow link: %d of %d compressed", got, n)
	}
	// Loopback, CPU-bound: compressing text is slower than sending it raw,
	// so only the first epoch and the explorations compress.
	if got := drive(t, text, n, simLink{5e9, 3e9, 1e9, 400e6}); got > n*25/100 {
		t.Errorf("text on a fast link: %d of %d compressed", got, n)
	}
	// Zeros compress at GB/s: worth it even on a fast link.
	if got := drive(t, zeros, n, simLink{5e9, 3e9, 1e9, 5e9}); got < n*8/10 {
		t.Errorf("zeros on a fast link: %d of %d compressed", got, n)
	}
}
