package engine

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/manifest"
	"github.com/pcp-p2p/pcp/store"
)

// TestSeedChunks: a receiver part-way through a transfer (one file in
// place, two chunks of another staged, all in a real resume log) offers
// exactly those chunks, reads them verified, and refuses what it does not
// hold or what changed since.
func TestSeedChunks(t *testing.T) {
	const cs = manifest.MinChunkSize
	src := t.TempDir()
	writeRandom(t, filepath.Join(src, "a"), 3*cs+10) // 4 chunks
	writeRandom(t, filepath.Join(src, "b"), cs+1)    // 2 chunks
	ms, err := manifest.Walk(t.Context(), []string{filepath.Join(src, "a"), filepath.Join(src, "b")},
		manifest.WalkOptions{ChunkSize: cs, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	tab := ms.Table
	entry := map[string]uint32{}
	for i := range tab.Len() {
		e, _ := tab.Entry(i)
		entry[e.Path] = uint32(i)
	}
	destDir := t.TempDir()
	dest, err := os.OpenRoot(destDir)
	if err != nil {
		t.Fatal(err)
	}
	defer dest.Close()
	rlog, err := store.OpenResumeLog(filepath.Join(t.TempDir(), "resume.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer rlog.Close()
	if err := rlog.Begin(tab, destDir); err != nil {
		t.Fatal(err)
	}
	// b is complete, in place; a has chunks 0 and 2 staged.
	srcA, _ := os.ReadFile(filepath.Join(src, "a"))
	srcB, _ := os.ReadFile(filepath.Join(src, "b"))
	writeFile(t, filepath.Join(destDir, "b"), srcB)
	if err := rlog.MarkFileComplete(tab.Root(), []uint32{entry["b"]}); err != nil {
		t.Fatal(err)
	}
	stage := ".pcp-partial-test"
	staged := make([]byte, len(srcA))
	copy(staged[0:cs], srcA[0:cs])
	copy(staged[2*cs:3*cs], srcA[2*cs:3*cs])
	writeFile(t, filepath.Join(destDir, stage, strconv.Itoa(int(entry["a"]))), staged)
	if err := rlog.MarkDone(tab.Root(), []store.ChunkRef{{Entry: entry["a"], Chunk: 0}, {Entry: entry["a"], Chunk: 2}}); err != nil {
		t.Fatal(err)
	}

	s := &seedChunks{t: tab, root: tab.Root(), cs: cs, dest: dest, stage: stage}
	s.log.Store(rlog)
	idx, err := swarmIndex(tab)
	if err != nil {
		t.Fatal(err)
	}
	set, err := s.held(idx)
	if err != nil {
		t.Fatal(err)
	}
	held := func(e, c uint32) bool {
		i, _ := idx.Global(wire.Ref{Entry: e, Chunk: c})
		return set.Has(i)
	}
	if set.Count() != 4 || !held(entry["a"], 0) || !held(entry["a"], 2) || !held(entry["b"], 0) || !held(entry["b"], 1) {
		t.Errorf("held %d chunks, want a's 0 and 2 and both of b's", set.Count())
	}
	buf := make([]byte, cs)
	for _, c := range []struct {
		e, c uint32
		want []byte
	}{{entry["a"], 2, srcA[2*cs : 3*cs]}, {entry["b"], 1, srcB[cs:]}} {
		got, err := s.read(wire.Ref{Entry: c.e, Chunk: c.c}, buf)
		if err != nil || !bytes.Equal(got, c.want) {
			t.Errorf("read %d/%d: %d bytes, %v", c.e, c.c, len(got), err)
		}
	}
	// Not held (zeros in the staging file), then a file edited in place.
	if _, err := s.read(wire.Ref{Entry: entry["a"], Chunk: 1}, buf); !errors.Is(err, wire.ErrNotHeld) {
		t.Errorf("unheld chunk: err = %v, want ErrNotHeld", err)
	}
	edited := bytes.Clone(srcB)
	edited[0] ^= 1
	writeFile(t, filepath.Join(destDir, "b"), edited)
	if _, err := s.read(wire.Ref{Entry: entry["b"], Chunk: 0}, buf); !errors.Is(err, wire.ErrNotHeld) {
		t.Errorf("edited file: err = %v, want ErrNotHeld", err)
	}
	// A staging file replaced by a symlink out of the destination is not
	// followed.
	outside := filepath.Join(t.TempDir(), "x")
	writeFile(t, outside, srcA)
	stagedPath := filepath.Join(destDir, stage, strconv.Itoa(int(entry["a"])))
	os.Remove(stagedPath)
	if err := os.Symlink(outside, stagedPath); err != nil {
		t.Fatal(err)
	}
	if _, err := s.read(wire.Ref{Entry: entry["a"], Chunk: 0}, buf); !errors.Is(err, wire.ErrNotHeld) {
		t.Errorf("staging symlink out of the destination: err = %v, want ErrNotHeld", err)
	}
	// Finished: every chunk of every file is held.
	s.log.Store(nil)
	if set, err = s.held(idx); err != nil || set.Count() != int(idx.Total()) {
		t.Errorf("after the transfer: %d of %d chunks held, %v", set.Count(), idx.Total(), err)
	}
}
