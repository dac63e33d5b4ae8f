package swarm

import (
	"fmt"
	"math/bits"

	"github.com/pcp-p2p/pcp/engine/wire"
)

// Set is a set of global chunk indexes in [0, Len()): one bit per chunk of
// the manifest. A source's have-map, the chunks wanted and the chunks
// waiting are Sets. It is not safe for concurrent use.
type Set struct {
	n uint32
	w []uint64
}

// NewSet returns an empty set over n chunks.
func NewSet(n uint32) *Set {
	return &Set{n: n, w: make([]uint64, (uint64(n)+63)/64)}
}

// FullSet returns the set of all n chunks.
func FullSet(n uint32) *Set {
	s := NewSet(n)
	for i := range s.w {
		s.w[i] = ^uint64(0)
	}
	if r := n % 64; r != 0 {
		s.w[len(s.w)-1] = 1<<r - 1
	}
	return s
}

// Len is the number of chunks the set ranges over.
func (s *Set) Len() uint32 { return s.n }

// Has reports whether i is in the set; false for i >= Len().
func (s *Set) Has(i uint32) bool { return i < s.n && s.w[i/64]&(1<<(i%64)) != 0 }

// Add adds i, which must be below Len().
func (s *Set) Add(i uint32) { s.w[i/64] |= 1 << (i % 64) }

// Remove removes i, which must be below Len().
func (s *Set) Remove(i uint32) { s.w[i/64] &^= 1 << (i % 64) }

// Count returns how many chunks are in the set.
func (s *Set) Count() int {
	n := 0
	for _, w := range s.w {
		n += bits.OnesCount64(w)
	}
	return n
}

// Clone returns a copy of s.
func (s *Set) Clone() *Set {
	return &Set{n: s.n, w: append([]uint64(nil), s.w...)}
}

// AddHaveMap adds the chunks a decoded HaveMap frame says are held.
func (s *Set) AddHaveMap(h wire.HaveMap) error {
	if uint64(h.Start)+uint64(h.Span) > uint64(s.n) || len(h.Bits) < int((uint64(h.Span)+7)/8) {
		return fmt.Errorf("have-map of chunks [%d, %d+%d) for a manifest of %d", h.Start, h.Start, h.Span, s.n)
	}
	for j := uint32(0); j < h.Span; j++ {
		if h.Bits[j/8]&(0x80>>(j%8)) != 0 {
			s.Add(h.Start + j)
		}
	}
	return nil
}

// HaveMap returns the part [start, start+span) of s as a HaveMap frame's
// content, for a source that tells others what it holds. span must be at
// most wire.MaxHaveSpan, and start+span at most Len().
func (s *Set) HaveMap(start, span uint32) wire.HaveMap {
	h := wire.HaveMap{Start: start, Span: span, Bits: make([]byte, (uint64(span)+7)/8)}
	for j := uint32(0); j < span; j++ {
		if s.Has(start + j) {
			h.Bits[j/8] |= 0x80 >> (j % 8)
		}
	}
	return h
}
