package manifest

import (
	"errors"
	"testing"
)

func TestStreamRoot(t *testing.T) {
	const cs = MinChunkSize
	a, b := HashChunk([]byte("a")), HashChunk([]byte("b"))
	r1, err := StreamRoot(cs, cs+1, []Hash{a, b})
	if err != nil {
		t.Fatal(err)
	}
	// Incremental and whole agree; every input changes the root.
	s, _ := NewStreamHasher(cs)
	s.Add(a)
	s.Add(b)
	if r2, err := s.Sum(cs + 1); err != nil || r2 != r1 {
		t.Fatalf("incremental root %x, %v; want %x", r2, err, r1)
	}
	for name, got := range map[string]func() (Hash, error){
		"order":      func() (Hash, error) { return StreamRoot(cs, cs+1, []Hash{b, a}) },
		"size":       func() (Hash, error) { return StreamRoot(cs, 2*cs, []Hash{a, b}) },
		"chunk size": func() (Hash, error) { return StreamRoot(2*cs, 2*cs+1, []Hash{a, b}) },
	} {
		r, err := got()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if r == r1 {
			t.Errorf("%s: same root", name)
		}
	}
	// Sizes that do not fit the chunks are refused.
	for _, size := range []uint64{cs, 2*cs + 1, 0} {
		if _, err := StreamRoot(cs, size, []Hash{a, b}); !errors.Is(err, ErrInvalid) {
			t.Errorf("size %d with 2 chunks: %v, want ErrInvalid", size, err)
		}
	}
	if _, err := StreamRoot(cs, 0, nil); err != nil {
		t.Errorf("empty stream: %v", err)
	}
	if _, err := NewStreamHasher(cs + 1); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad chunk size: %v", err)
	}
}
