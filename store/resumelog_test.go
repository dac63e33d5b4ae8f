package store

import (
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/pcp-p2p/pcp/manifest"
)

func TestResumeLogPersistsAcrossReopen(t *testing.T) {
	path := logPath(t)
	m := testManifest(t, 3, 4, 100) // 3 files, 4 chunks each, last chunk 100 bytes
	root := m.Root()
	clk := newClock()

	l := openLog(t, path, ResumeLogOptions{Now: clk.Now})
	if err := l.Begin(root, m, "/dest/a"); err != nil {
		t.Fatal(err)
	}
	refs := []ChunkRef{{Entry: 1, Chunk: 0}, {Entry: 1, Chunk: 3}, {Entry: 3, Chunk: 2}}
	if err := l.MarkDone(root, refs); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkFileComplete(root, []uint32{2, 0}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file mode: %v %v", fi.Mode(), err)
	}

	l = openLog(t, path, ResumeLogOptions{Now: clk.Now})
	got := doneSet(t, l, root)
	want := []ChunkRef{{1, 0}, {1, 3}, {3, 2}}
	if !slices.Equal(got, want) {
		t.Fatalf("done after reopen = %v, want %v", got, want)
	}
	var complete []uint32
	if err := l.CompleteFiles(root, func(e uint32) error { complete = append(complete, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(complete, []uint32{0, 2}) {
		t.Fatalf("complete = %v", complete)
	}
	info, err := l.Info(root)
	if err != nil {
		t.Fatal(err)
	}
	wantInfo := TransferInfo{
		Root: root, Dest: "/dest/a", Files: 3,
		TotalBytes: 3 * (3*testChunk + 100), TotalChunks: 12,
		DoneChunks: 3, DoneBytes: testChunk + 100 + testChunk,
	}
	info.Created, info.Updated = wantInfo.Created, wantInfo.Updated
	if info != wantInfo {
		t.Fatalf("info = %+v\nwant   %+v", info, wantInfo)
	}
	// The layout cache is empty after reopen: MarkDone must load it from the
	// stored manifest and still count bytes right.
	if err := l.MarkDone(root, []ChunkRef{{2, 3}}); err != nil {
		t.Fatal(err)
	}
	if info, _ = l.Info(root); info.DoneBytes != 2*testChunk+200 || info.DoneChunks != 4 {
		t.Fatalf("after reload: %d bytes %d chunks", info.DoneBytes, info.DoneChunks)
	}
	back, err := l.Manifest(root)
	if err != nil {
		t.Fatal(err)
	}
	if back.Root() != root || len(back.Entries) != len(m.Entries) {
		t.Fatal("manifest did not round-trip")
	}
	if err := l.Finish(root); err != nil {
		t.Fatal(err)
	}
	if info, _ = l.Info(root); !info.Finished {
		t.Fatal("Finish not recorded")
	}
}

func TestResumeLogIdempotent(t *testing.T) {
	m := testManifest(t, 2, 3, 1)
	root := m.Root()
	clk := newClock()
	l := openLog(t, logPath(t), ResumeLogOptions{Now: clk.Now})
	if err := l.Begin(root, m, "/one"); err != nil {
		t.Fatal(err)
	}
	first, _ := l.Info(root)
	batch := []ChunkRef{{1, 0}, {1, 2}, {1, 2}} // duplicate within the batch too
	for range 3 {
		if err := l.MarkDone(root, batch); err != nil {
			t.Fatal(err)
		}
	}
	info, _ := l.Info(root)
	if info.DoneChunks != 2 || info.DoneBytes != testChunk+1 {
		t.Fatalf("counters after repeated marks: %d chunks %d bytes", info.DoneChunks, info.DoneBytes)
	}
	// A second Begin keeps the done set and Created, and updates Dest.
	if err := l.Begin(root, m, "/two"); err != nil {
		t.Fatal(err)
	}
	info, _ = l.Info(root)
	if info.Dest != "/two" || info.DoneChunks != 2 || !info.Created.Equal(first.Created) || !info.Updated.After(first.Updated) {
		t.Fatalf("after second Begin: %+v", info)
	}
	if got := doneSet(t, l, root); !slices.Equal(got, []ChunkRef{{1, 0}, {1, 2}}) {
		t.Fatalf("done = %v", got)
	}
	// Marking everything reaches the totals exactly.
	var all []ChunkRef
	for e := uint32(1); e <= 2; e++ {
		for c := range uint32(3) {
			all = append(all, ChunkRef{e, c})
		}
	}
	if err := l.MarkDone(root, all); err != nil {
		t.Fatal(err)
	}
	info, _ = l.Info(root)
	if info.DoneChunks != info.TotalChunks || info.DoneBytes != info.TotalBytes {
		t.Fatalf("all marked: %+v", info)
	}
}

func TestResumeLogForget(t *testing.T) {
	m := testManifest(t, 2, 3, 10)
	root := m.Root()
	l := openLog(t, logPath(t), ResumeLogOptions{})
	if err := l.Begin(root, m, "/d"); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkDone(root, []ChunkRef{{1, 0}, {1, 1}, {1, 2}, {2, 0}}); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkFileComplete(root, []uint32{1}); err != nil {
		t.Fatal(err)
	}
	if err := l.Finish(root); err != nil {
		t.Fatal(err)
	}
	// Forget one done chunk, and one never marked (no effect on counters).
	if err := l.Forget(root, []ChunkRef{{1, 2}, {2, 1}}); err != nil {
		t.Fatal(err)
	}
	if got := doneSet(t, l, root); !slices.Equal(got, []ChunkRef{{1, 0}, {1, 1}, {2, 0}}) {
		t.Fatalf("done = %v", got)
	}
	info, _ := l.Info(root)
	if info.DoneChunks != 3 || info.DoneBytes != 3*testChunk || info.Finished {
		t.Fatalf("after forget: %+v", info)
	}
	n := 0
	if err := l.CompleteFiles(root, func(uint32) error { n++; return nil }); err != nil || n != 0 {
		t.Fatalf("entry 1 still complete after a chunk was forgotten (%d, %v)", n, err)
	}
	// Re-marking the forgotten chunk counts again.
	if err := l.MarkDone(root, []ChunkRef{{1, 2}}); err != nil {
		t.Fatal(err)
	}
	if info, _ = l.Info(root); info.DoneChunks != 4 || info.DoneBytes != 3*testChunk+10 {
		t.Fatalf("after re-mark: %+v", info)
	}
}

func TestResumeLogRejects(t *testing.T) {
	m := testManifest(t, 2, 3, 10)
	root := m.Root()
	l := openLog(t, logPath(t), ResumeLogOptions{})
	var other manifest.Hash
	other[0] = 1
	if err := l.Begin(other, m, "/d"); !errors.Is(err, ErrRootMismatch) {
		t.Fatalf("Begin with wrong root: %v", err)
	}
	if _, err := l.Info(other); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a failed Begin left a transfer: %v", err)
	}
	for name, f := range map[string]func() error{
		"MarkDone":         func() error { return l.MarkDone(other, []ChunkRef{{1, 0}}) },
		"Forget":           func() error { return l.Forget(other, []ChunkRef{{1, 0}}) },
		"Done":             func() error { return l.Done(other, func(ChunkRef) error { return nil }) },
		"CompleteFiles":    func() error { return l.CompleteFiles(other, func(uint32) error { return nil }) },
		"MarkFileComplete": func() error { return l.MarkFileComplete(other, []uint32{1}) },
		"Finish":           func() error { return l.Finish(other) },
		"Manifest":         func() error { _, err := l.Manifest(other); return err },
		"Delete":           func() error { return l.Delete(other) },
	} {
		if err := f(); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s on an unknown root: %v, want ErrNotFound", name, err)
		}
	}
	if err := l.Begin(root, m, "/d"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]ChunkRef{
		{{0, 0}},         // a directory has no chunks
		{{1, 3}},         // past the last chunk
		{{3, 0}},         // past the last entry
		{{1, 0}, {9, 9}}, // one bad ref fails the whole batch
	} {
		if err := l.MarkDone(root, bad); !errors.Is(err, ErrBadRef) {
			t.Errorf("MarkDone(%v) = %v, want ErrBadRef", bad, err)
		}
	}
	if got := doneSet(t, l, root); len(got) != 0 {
		t.Fatalf("a rejected batch left %v", got)
	}
	if err := l.MarkFileComplete(root, []uint32{3}); !errors.Is(err, ErrBadRef) {
		t.Fatalf("MarkFileComplete past the end: %v", err)
	}
	stop := errors.New("stop")
	if err := l.MarkDone(root, []ChunkRef{{1, 0}, {1, 1}}); err != nil {
		t.Fatal(err)
	}
	calls := 0
	if err := l.Done(root, func(ChunkRef) error { calls++; return stop }); err != stop || calls != 1 {
		t.Fatalf("Done did not stop on the callback's error: %v after %d calls", err, calls)
	}
}

func TestResumeLogLargeManifestInParts(t *testing.T) {
	if testing.Short() {
		t.Skip("200,000 entries")
	}
	m := testManifest(t, 200_000, 1, 7)
	root := m.Root()
	path := logPath(t)
	l := openLog(t, path, ResumeLogOptions{})
	if err := l.Begin(root, m, "/big"); err != nil {
		t.Fatal(err)
	}
	sizes := partSizes(t, l, root)
	if len(sizes) < 2 {
		t.Fatalf("%d parts: the manifest was not split", len(sizes))
	}
	for i, s := range sizes {
		if s > maxPart || s == 0 || (i < len(sizes)-1 && s != maxPart) {
			t.Fatalf("part %d is %d bytes", i, s)
		}
	}
	l.Close()
	l = openLog(t, path, ResumeLogOptions{})
	back, err := l.Manifest(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Entries) != len(m.Entries) || back.Root() != root {
		t.Fatalf("round trip: %d entries, root %s want %s", len(back.Entries), back.Root().Short(), root.Short())
	}
	if e := back.Entries[200_000]; e.Path != "d/f199999" || e.Size != 7 || e.Chunks[0] != m.Entries[200_000].Chunks[0] {
		t.Fatalf("last entry = %+v", e)
	}
	t.Logf("%d entries in %d parts", len(m.Entries), len(sizes))
}

func TestResumeLogListAndDelete(t *testing.T) {
	clk := newClock()
	l := openLog(t, logPath(t), ResumeLogOptions{Now: clk.Now})
	if list, err := l.List(); err != nil || len(list) != 0 {
		t.Fatalf("empty log lists %v, %v", list, err)
	}
	var roots []manifest.Hash
	for i := range 3 {
		m := testManifest(t, i+1, 1, 1)
		roots = append(roots, m.Root())
		if err := l.Begin(roots[i], m, "/d"); err != nil {
			t.Fatal(err)
		}
	}
	order := func() []manifest.Hash {
		list, err := l.List()
		if err != nil {
			t.Fatal(err)
		}
		var got []manifest.Hash
		for _, ti := range list {
			got = append(got, ti.Root)
		}
		return got
	}
	if got := order(); !slices.Equal(got, []manifest.Hash{roots[2], roots[1], roots[0]}) {
		t.Fatal("List is not newest first")
	}
	// Activity on the oldest moves it to the front.
	if err := l.MarkDone(roots[0], []ChunkRef{{1, 0}}); err != nil {
		t.Fatal(err)
	}
	if got := order(); !slices.Equal(got, []manifest.Hash{roots[0], roots[2], roots[1]}) {
		t.Fatal("List does not follow Updated")
	}
	if err := l.Delete(roots[2]); err != nil {
		t.Fatal(err)
	}
	if got := order(); !slices.Equal(got, []manifest.Hash{roots[0], roots[1]}) {
		t.Fatal("Delete did not remove the transfer from List")
	}
	if _, err := l.Info(roots[2]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Info after Delete: %v", err)
	}
	if err := l.Delete(roots[2]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Delete: %v", err)
	}
	// A deleted transfer can begin again, from nothing.
	m := testManifest(t, 3, 1, 1)
	if err := l.Begin(roots[2], m, "/again"); err != nil {
		t.Fatal(err)
	}
	if info, _ := l.Info(roots[2]); info.DoneChunks != 0 || info.Dest != "/again" {
		t.Fatalf("re-begun: %+v", info)
	}
}

func TestResumeLogLocked(t *testing.T) {
	path := logPath(t)
	l := openLog(t, path, ResumeLogOptions{})
	if _, err := OpenResumeLog(path); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open while open: %v, want ErrLocked", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2, err := OpenResumeLog(path)
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	l2.Close()
}

func TestDoneStreamsInBatches(t *testing.T) {
	// More than iterBatch chunks, so Done crosses read transactions; the
	// callback writes to the log, which must not deadlock.
	m := testManifest(t, 3, 3000, 1)
	root := m.Root()
	l := openLog(t, logPath(t), ResumeLogOptions{})
	if err := l.Begin(root, m, "/d"); err != nil {
		t.Fatal(err)
	}
	var want []ChunkRef
	for e := uint32(1); e <= 3; e++ {
		for c := uint32(0); c < 3000; c += 1 + e%2 {
			want = append(want, ChunkRef{e, c})
		}
	}
	if err := l.MarkDone(root, want); err != nil {
		t.Fatal(err)
	}
	var got []ChunkRef
	err := l.Done(root, func(r ChunkRef) error {
		got = append(got, r)
		if len(got) == iterBatch {
			return l.MarkFileComplete(root, []uint32{r.Entry})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Done yielded %d refs, want %d (or out of order)", len(got), len(want))
	}
}

func BenchmarkMarkDone(b *testing.B) {
	const batch = 256
	m := testManifest(b, 1024, 256, testChunk) // 262,144 chunks = 1024 batches
	root := m.Root()
	l := openLog(b, logPath(b), ResumeLogOptions{})
	if err := l.Begin(root, m, "/d"); err != nil {
		b.Fatal(err)
	}
	refs := make([]ChunkRef, batch)
	next := 0 // batch index
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if next == 1024 {
			b.StopTimer()
			if err := l.Delete(root); err != nil {
				b.Fatal(err)
			}
			if err := l.Begin(root, m, "/d"); err != nil {
				b.Fatal(err)
			}
			next = 0
			b.StartTimer()
		}
		for j := range refs {
			refs[j] = ChunkRef{Entry: uint32(next + 1), Chunk: uint32(j)}
		}
		next++
		if err := l.MarkDone(root, refs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "chunks/s")
}
