package engine

import (
	"bytes"
	"testing"
)

// countingWriter records every write it is given.
type countingWriter struct {
	bytes.Buffer
	writes []int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.writes = append(w.writes, len(p))
	return w.Buffer.Write(p)
}

// TestCoalescer: small frames are held and written together, a large one
// goes out at once after what is held, nothing is written twice or out of
// order, and Flush writes what is left.
func TestCoalescer(t *testing.T) {
	var w countingWriter
	c := &coalescer{w: &w}
	var want bytes.Buffer
	write := func(n int, b byte) {
		p := bytes.Repeat([]byte{b}, n)
		want.Write(p)
		if k, err := c.Write(p); k != n || err != nil {
			t.Fatalf("Write(%d) = %d, %v", n, k, err)
		}
	}
	for i := range 20 { // 20 x 4 KiB: 16 fill the buffer, then the rest
		write(4<<10, byte(i))
	}
	if len(w.writes) != 1 || w.writes[0] != coalesceSize {
		t.Fatalf("after 20 small frames: writes %v, want one of %d", w.writes, coalesceSize)
	}
	write(1<<20, 'L') // large: the 4 held frames, then it
	if got := w.writes[1:]; len(got) != 2 || got[0] != 4*4<<10 || got[1] != 1<<20 {
		t.Fatalf("a large frame after small ones: writes %v", w.writes)
	}
	write(100, 'a')
	write(200, 'b')
	if len(w.writes) != 3 {
		t.Fatalf("small frames written before Flush: %v", w.writes)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(); err != nil || len(w.writes) != 4 || w.writes[3] != 300 {
		t.Fatalf("Flush: writes %v, %v", w.writes, err)
	}
	if !bytes.Equal(w.Bytes(), want.Bytes()) {
		t.Fatal("bytes written differ from the frames, in order")
	}
}
