package engine

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/pcp-p2p/pcp/manifest"
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

// TestHeldFramesWrittenBeforeSlotWait: a stream that must wait for a chunk
// slot (all borrowed by other streams) first writes out the small frames
// it holds, so the receiver is not kept waiting for chunks already served.
func TestHeldFramesWrittenBeforeSlotWait(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := manifest.Walk(t.Context(), []string{filepath.Join(dir, "f")}, manifest.WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	srv := newServer(testPass(t), "", 3, nil, discard(nil))
	srv.setSource(src)
	var w countingWriter
	held := &coalescer{w: &w}
	held.Write([]byte("a small frame"))
	var taken []*chunkSlot
	for range slotCount(srv.chunkSize()) { // every slot borrowed
		sl, err := srv.getSlot(t.Context(), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		taken = append(taken, sl)
	}
	writesAtWait := make(chan int, 1)
	srv.serving.onWait = func() { writesAtWait <- len(w.writes) }
	got := make(chan error, 1)
	go func() {
		sl, err := srv.getSlot(t.Context(), held)
		if err == nil {
			srv.putSlot(sl)
		}
		got <- err
	}()
	if n := <-writesAtWait; n != 1 || w.String() != "a small frame" {
		t.Fatalf("when the stream began to wait for a slot: %d writes, %q", n, w.String())
	}
	srv.putSlot(taken[0])
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	for _, sl := range taken[1:] {
		srv.putSlot(sl)
	}
}
