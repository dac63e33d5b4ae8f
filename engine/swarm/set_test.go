package swarm

import (
	"testing"

	"github.com/pcp-p2p/pcp/engine/wire"
)

func TestSet(t *testing.T) {
	for _, n := range []uint32{0, 1, 63, 64, 65, 1000} {
		f := FullSet(n)
		if f.Count() != int(n) || f.Has(n) {
			t.Fatalf("FullSet(%d): count %d, has(n) %v", n, f.Count(), f.Has(n))
		}
		s := NewSet(n)
		if n > 1 {
			s.Add(n - 1)
			s.Add(0)
			s.Remove(0)
			if s.Count() != 1 || !s.Has(n-1) || s.Has(0) {
				t.Fatalf("NewSet(%d) after add/remove: count %d", n, s.Count())
			}
		}
	}
}

// A Set travels as HaveMap frames, split at MaxHaveSpan-sized spans, and
// arrives equal.
func TestSetHaveMapRoundTrip(t *testing.T) {
	const n = 5000
	src := NewSet(n)
	for i := uint32(0); i < n; i++ {
		if i < 1200 || i%7 == 3 {
			src.Add(i)
		}
	}
	dst := NewSet(n)
	for _, span := range [][2]uint32{{0, 2000}, {2000, 3000}} {
		p, err := wire.AppendHaveMap(nil, n, src.HaveMap(span[0], span[1]))
		if err != nil {
			t.Fatal(err)
		}
		h, err := wire.DecodeHaveMap(p, n)
		if err != nil {
			t.Fatal(err)
		}
		if err := dst.AddHaveMap(h); err != nil {
			t.Fatal(err)
		}
	}
	for i := uint32(0); i < n; i++ {
		if src.Has(i) != dst.Has(i) {
			t.Fatalf("chunk %d: sent %v, received %v", i, src.Has(i), dst.Has(i))
		}
	}
	if err := NewSet(10).AddHaveMap(wire.HaveMap{Start: 5, Span: 6, Bits: []byte{0xff}}); err == nil {
		t.Fatal("a have-map past the set was accepted")
	}
}
