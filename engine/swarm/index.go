package swarm

import (
	"fmt"
	"math"
	"sort"

	"github.com/pcp-p2p/pcp/engine/wire"
)

// Index maps global chunk indexes to wire.Refs and back for one manifest:
// global index = the chunks of all earlier entries + the chunk's index in
// its file. It holds one u32 per entry.
type Index struct {
	first []uint32 // first[e]: the global index of entry e's chunk 0
	total uint32
}

// NewIndex builds the index from each entry's chunk count, in entry order
// (0 for directories, symlinks and empty files). A manifest of 2^32 chunks
// or more has no global indexes.
func NewIndex(counts []int64) (*Index, error) {
	x := &Index{first: make([]uint32, len(counts))}
	var sum int64
	for e, n := range counts {
		if n < 0 || n >= math.MaxUint32 || sum+n >= math.MaxUint32 {
			return nil, fmt.Errorf("swarm: a manifest of more than %d chunks cannot be swarmed", uint32(math.MaxUint32-1))
		}
		x.first[e] = uint32(sum)
		sum += n
	}
	x.total = uint32(sum)
	return x, nil
}

// Total is the manifest's chunk count.
func (x *Index) Total() uint32 { return x.total }

// Global returns ref's global index, and false if the manifest lacks it.
func (x *Index) Global(ref wire.Ref) (uint32, bool) {
	e := int(ref.Entry)
	if e >= len(x.first) {
		return 0, false
	}
	end := x.total
	if e+1 < len(x.first) {
		end = x.first[e+1]
	}
	if uint64(ref.Chunk) >= uint64(end-x.first[e]) {
		return 0, false
	}
	return x.first[e] + ref.Chunk, true
}

// Ref returns the chunk with global index i, which must be below Total.
func (x *Index) Ref(i uint32) wire.Ref {
	// The last entry whose first chunk is at or before i: entries without
	// chunks share their successor's first, so this is the one holding i.
	e := sort.Search(len(x.first), func(e int) bool { return x.first[e] > i }) - 1
	return wire.Ref{Entry: uint32(e), Chunk: i - x.first[e]}
}
