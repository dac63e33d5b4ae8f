package swarm

import (
	"testing"

	"github.com/pcp-p2p/pcp/engine/wire"
)

func TestIndex(t *testing.T) {
	// A directory, a 3-chunk file, an empty file, a 1-chunk file, a
	// symlink, a 2-chunk file.
	x, err := NewIndex([]int64{0, 3, 0, 1, 0, 2})
	if err != nil {
		t.Fatal(err)
	}
	want := []wire.Ref{{Entry: 1, Chunk: 0}, {Entry: 1, Chunk: 1}, {Entry: 1, Chunk: 2}, {Entry: 3, Chunk: 0}, {Entry: 5, Chunk: 0}, {Entry: 5, Chunk: 1}}
	if x.Total() != uint32(len(want)) {
		t.Fatalf("total %d, want %d", x.Total(), len(want))
	}
	for i, ref := range want {
		if got := x.Ref(uint32(i)); got != ref {
			t.Errorf("Ref(%d) = %v, want %v", i, got, ref)
		}
		if g, ok := x.Global(ref); !ok || g != uint32(i) {
			t.Errorf("Global(%v) = %d, %v; want %d", ref, g, ok, i)
		}
	}
	for _, ref := range []wire.Ref{{Entry: 0, Chunk: 0}, {Entry: 1, Chunk: 3}, {Entry: 2, Chunk: 0}, {Entry: 5, Chunk: 2}, {Entry: 6, Chunk: 0}} {
		if _, ok := x.Global(ref); ok {
			t.Errorf("Global(%v) accepted a chunk the manifest lacks", ref)
		}
	}
	if _, err := NewIndex([]int64{1 << 31, 1 << 31}); err == nil {
		t.Fatal("a manifest of 2^32 chunks was indexed")
	}
}
