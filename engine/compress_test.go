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
// compresses at zstdRate (bytes/s) at the fastest level, slower at the
// stronger ones (slowdown). A chunk takes as long as its slower resource,
// the link or the CPU.
type simLink struct{ linkRate, readRate, tlsRate, zstdRate float64 }

// simResult is what drive saw: chunks sent compressed, wire bytes, and
// chunks compressed at each level.
type simResult struct {
	compressed int
	wire       float64
	byLevel    map[zstd.EncoderLevel]int
}

// drive feeds n chunks of data through the compressor c on the simulated
// link l(i) for chunk i, from time now, and returns what it sent and the
// clock after.
func drive(t *testing.T, c *compressor, data []byte, n int, l func(i int) simLink, now time.Time) (simResult, time.Time) {
	t.Helper()
	encs := map[zstd.EncoderLevel]*zstd.Encoder{}
	dec, _ := zstd.NewReader(nil)
	defer dec.Close()
	if c.n == 0 {
		c.wrote(0, 0, 0, now)
	}
	res := simResult{byLevel: map[zstd.EncoderLevel]int{}}
	for i := 0; i < n; i++ {
		link := l(i)
		wire, cpu := float64(len(data)), float64(len(data))/link.readRate
		var busy float64
		if c.shouldTry() {
			if encs[c.level] == nil {
				encs[c.level] = newEncoder(1<<20, c.level)
			}
			out, ok := c.compress(encs[c.level], nil, data)
			busy = float64(len(data)) / link.zstdRate
			for j, lv := range levels {
				if lv == c.level {
					for _, s := range slowdown[:j+1] {
						busy *= s
					}
				}
			}
			cpu += busy
			if ok {
				res.compressed++
				res.byLevel[c.level]++
				wire = float64(len(out))
				if got, err := dec.DecodeAll(out, nil); err != nil || !bytes.Equal(got, data) {
					t.Fatalf("round trip failed: %v", err)
				}
			}
		}
		res.wire += wire
		took := max(wire/link.linkRate, cpu+wire/link.tlsRate)
		now = now.Add(time.Duration(took * float64(time.Second)))
		c.wrote(len(data), int(wire), time.Duration(busy*float64(time.Second)), now)
	}
	return res, now
}

func steady(l simLink) func(int) simLink { return func(int) simLink { return l } }

func textChunk() []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < 1<<20; i++ {
		fmt.Fprintf(&b, "2026-01-01T00:00:%02d INFO [worker-%02d] request %d served in %dms\n", i%60, i%16, i*7919, i%900)
	}
	return b.Bytes()[:1<<20]
}

var (
	slow20Mbit = simLink{2.5e6, 3e9, 1e9, 400e6}
	loopback5G = simLink{5e9, 3e9, 1e9, 400e6}
)

func TestCompressionPolicy(t *testing.T) {
	random := make([]byte, 1<<20)
	rand.Read(random)
	zeros := make([]byte, 1<<20)
	text := textChunk()
	const n = 256
	t0 := time.Unix(0, 0)
	// Random data is never sent compressed, whatever the link.
	if r, _ := drive(t, newCompressor(), random, n, steady(slow20Mbit), t0); r.compressed != 0 {
		t.Errorf("random data: %d chunks sent compressed", r.compressed)
	}
	// A 20 Mbit link: text is compressed from the start, but for one raw
	// epoch that measures the guessed raw pace, at a stronger level than
	// the fastest.
	r, _ := drive(t, newCompressor(), text, n, steady(slow20Mbit), t0)
	if r.compressed < n-epochLen {
		t.Errorf("text on a slow link: %d of %d compressed", r.compressed, n)
	}
	if r.byLevel[zstd.SpeedFastest] > r.compressed/4 {
		t.Errorf("text on a slow link: %v chunks by level, want mostly stronger than fastest", r.byLevel)
	}
	// Loopback, CPU-bound: compressing text is slower than sending it raw,
	// so only the first epoch and the explorations compress, at the
	// fastest level.
	r, _ = drive(t, newCompressor(), text, n, steady(loopback5G), t0)
	if r.compressed > n*25/100 {
		t.Errorf("text on a fast link: %d of %d compressed", r.compressed, n)
	}
	if r.byLevel[zstd.SpeedBetterCompression] > 0 {
		t.Errorf("text on a fast link: %v chunks by level", r.byLevel)
	}
	// Zeros compress at GB/s: worth it even on a fast link.
	if r, _ := drive(t, newCompressor(), zeros, n, steady(simLink{5e9, 3e9, 1e9, 5e9}), t0); r.compressed < n*8/10 {
		t.Errorf("zeros on a fast link: %d of %d compressed", r.compressed, n)
	}
}

// A stream's first epoch includes its start: on a slow link it can look
// CPU-bound (TCP slow start, the other streams compressing their first
// chunks). That epoch is measured again, not trusted: no raw epoch is spent
// to learn that raw is slow. It used to send 8 MiB raw per stream.
func TestCompressionStartIsWarmUp(t *testing.T) {
	text := textChunk()
	start := func(i int) simLink {
		if i <= epochLen { // the clock starts at the first write
			return loopback5G
		}
		return slow20Mbit
	}
	const n = 64
	if r, _ := drive(t, newCompressor(), text, n, start, time.Unix(0, 0)); r.compressed != n {
		t.Errorf("text on a slow link after a CPU-bound start: %d of %d chunks compressed, want all", r.compressed, n)
	}
}

// A link that changes under a running stream (a relay giving way to a
// direct path, then the reverse) is measured again within a few epochs.
func TestCompressionRelinks(t *testing.T) {
	text := textChunk()
	c := newCompressor()
	now := time.Unix(0, 0)
	// Slow first: zstd wins by far, and explorations become rare.
	r, now := drive(t, c, text, 256, steady(slow20Mbit), now)
	if r.compressed < 256-2*epochLen {
		t.Fatalf("slow link: %d of 256 compressed", r.compressed)
	}
	// Fast: raw must win again within a few epochs, not 128.
	r, now = drive(t, c, text, 64, steady(loopback5G), now)
	if c.zstd || r.compressed > 5*epochLen {
		t.Errorf("after moving to a fast link: zstd %v, %d of 64 chunks compressed", c.zstd, r.compressed)
	}
	// And back.
	r, _ = drive(t, c, text, 64, steady(slow20Mbit), now)
	if !c.zstd || r.compressed < 64-5*epochLen {
		t.Errorf("after moving back to a slow link: zstd %v, %d of 64 chunks compressed", c.zstd, r.compressed)
	}
}

func TestPolicyTable(t *testing.T) {
	const (
		F = zstd.SpeedFastest
		D = zstd.SpeedDefault
		B = zstd.SpeedBetterCompression
	)
	cases := []struct {
		name string
		in   policyIn
		want policyOut
	}{
		{"incompressible goes raw", policyIn{ratio: 0.95, pace: [2]float64{100, 0}, level: F}, policyOut{level: F}},
		{"zstd not measured yet", policyIn{ratio: 0.2, pace: [2]float64{100, 0}, level: F}, policyOut{zstd: true, level: F}},
		{"raw not measured (link changed)", policyIn{ratio: 0.2, pace: [2]float64{0, 100}, zstd: true, level: D}, policyOut{level: D}},
		{"zstd wins", policyIn{ratio: 0.2, pace: [2]float64{100, 120}, zstd: true, busy: 0.6, level: F}, policyOut{zstd: true, level: F}},
		{"raw wins", policyIn{ratio: 0.2, pace: [2]float64{1000, 400}, level: F}, policyOut{level: F}},
		{"close race explores every 8th", policyIn{ratio: 0.2, pace: [2]float64{100, 120}, zstd: true, busy: 0.6, level: F, sinceExplore: 7},
			policyOut{level: F, explore: true}},
		{"large lead does not explore at 8", policyIn{ratio: 0.2, pace: [2]float64{25, 125}, zstd: true, busy: 0.3, level: F, sinceExplore: 7},
			policyOut{zstd: true, level: F}},
		{"large lead explores at 128", policyIn{ratio: 0.2, pace: [2]float64{25, 125}, zstd: true, busy: 0.3, level: F, sinceExplore: 127},
			policyOut{level: F, explore: true}},
		{"idle CPU steps up", policyIn{ratio: 0.2, pace: [2]float64{25, 125}, zstd: true, busy: 0.1, level: F}, policyOut{zstd: true, level: D}},
		{"idle CPU steps up again", policyIn{ratio: 0.2, pace: [2]float64{25, 125}, zstd: true, busy: 0.1, level: D}, policyOut{zstd: true, level: B}},
		{"strongest stays", policyIn{ratio: 0.2, pace: [2]float64{25, 125}, zstd: true, busy: 0.01, level: B}, policyOut{zstd: true, level: B}},
		{"moderate CPU holds", policyIn{ratio: 0.2, pace: [2]float64{25, 125}, zstd: true, busy: 0.3, level: D}, policyOut{zstd: true, level: D}},
		{"busy CPU steps down", policyIn{ratio: 0.2, pace: [2]float64{25, 125}, zstd: true, busy: 0.7, level: B}, policyOut{zstd: true, level: D}},
		{"fastest is the floor", policyIn{ratio: 0.2, pace: [2]float64{100, 120}, zstd: true, busy: 0.9, level: F}, policyOut{zstd: true, level: F}},
		{"a guessed raw pace is measured within 32", policyIn{ratio: 0.2, pace: [2]float64{25, 125}, rawGuessed: true, zstd: true, busy: 0.3, level: F, sinceExplore: 31},
			policyOut{level: F, explore: true}},
		{"raw epoch keeps the level", policyIn{ratio: 0.2, pace: [2]float64{25, 125}, busy: 0, level: D}, policyOut{zstd: true, level: D}},
	}
	for _, c := range cases {
		if got := policy(c.in); got != c.want {
			t.Errorf("%s: policy(%+v) = %+v, want %+v", c.name, c.in, got, c.want)
		}
	}
}
