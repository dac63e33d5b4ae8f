package engine

import (
	"testing"

	"github.com/pcp-p2p/pcp/engine/wire"
)

func TestServedFiles(t *testing.T) {
	var f servedFiles
	// File 0 has 3 chunks, file 1 one; chunk 1 of file 0 is served twice.
	for _, r := range []wire.Ref{{Entry: 0, Chunk: 0}, {Entry: 0, Chunk: 1}, {Entry: 0, Chunk: 1}, {Entry: 1, Chunk: 0}} {
		n := int64(3)
		if r.Entry == 1 {
			n = 1
		}
		f.served(r, n)
	}
	if got := f.count(); got != 1 {
		t.Fatalf("after file 1 and 2 of 3 chunks of file 0: %d files, want 1", got)
	}
	f.served(wire.Ref{Entry: 0, Chunk: 2}, 3)
	f.served(wire.Ref{Entry: 0, Chunk: 0}, 3) // again, after completion
	f.served(wire.Ref{Entry: 1, Chunk: 0}, 1)
	if got := f.count(); got != 2 {
		t.Fatalf("both files served (some chunks again): %d files, want 2", got)
	}
	// 130 chunks: more than one word of the bitset.
	for c := uint32(0); c < 130; c++ {
		f.served(wire.Ref{Entry: 7, Chunk: c}, 130)
	}
	if got := f.count(); got != 3 {
		t.Fatalf("a 130-chunk file: %d files, want 3", got)
	}
}
