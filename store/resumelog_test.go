package store

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"testing/iotest"

	"github.com/pcp-p2p/pcp/manifest"
)

func TestResumeLogPersistsAcrossReopen(t *testing.T) {
	path := logPath(t)
	m := testManifest(t, 3, 4, 100) // 3 files, 4 chunks each, last chunk 100 bytes
	root := m.Root()
	clk := newClock()

	l := openLog(t, path, ResumeLogOptions{Now: clk.Now})
	begin(t, l, m, "/dest/a")
	refs := []ChunkRef{{Entry: 1, Chunk: 0}, {Entry: 1, Chunk: 3}, {Entry: 3, Chunk: 2}}
	if err := l.MarkDone(root, refs); err != nil {
		t.Fatal(err)
	}
	// Entry 2 had no chunk marked: completing it counts it whole.
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
	if complete := completeSet(t, l, root); !slices.Equal(complete, []uint32{0, 2}) {
		t.Fatalf("complete = %v", complete)
	}
	info, err := l.Info(root)
	if err != nil {
		t.Fatal(err)
	}
	fileBytes := int64(3*testChunk + 100)
	wantInfo := TransferInfo{
		Root: root, Dest: "/dest/a", Files: 3,
		TotalBytes: 3 * fileBytes, TotalChunks: 12,
		DoneChunks: 3 + 4, DoneBytes: testChunk + 100 + testChunk + fileBytes,
	}
	info.Created, info.Updated = wantInfo.Created, wantInfo.Updated
	if info != wantInfo {
		t.Fatalf("info = %+v\nwant   %+v", info, wantInfo)
	}
	// Reads work without Begin; writes need it in every process.
	if done, err := l.DoneChunks(root, 1); err != nil || !slices.Equal(done, []uint64{1<<0 | 1<<3}) {
		t.Fatalf("DoneChunks(1) = %b, %v", done, err)
	}
	if err := l.MarkDone(root, []ChunkRef{{2, 3}}); !errors.Is(err, ErrNotBegun) {
		t.Fatalf("MarkDone before Begin in this handle: %v, want ErrNotBegun", err)
	}
	begin(t, l, m, "/dest/a")
	if err := l.MarkDone(root, []ChunkRef{{3, 3}}); err != nil {
		t.Fatal(err)
	}
	if info, _ = l.Info(root); info.DoneBytes != wantInfo.DoneBytes+100 || info.DoneChunks != 8 {
		t.Fatalf("after re-Begin: %d bytes %d chunks", info.DoneBytes, info.DoneChunks)
	}
	back := readBack(t, l, root)
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
	begin(t, l, m, "/one")
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
	// A second Begin keeps the done set and Created, updates Dest, and does
	// not read the encoding again.
	stored := raw(t, l, root)
	if err := l.Begin(&failingManifest{memManifest: m, err: errors.New("read again")}, "/two"); err != nil {
		t.Fatal(err)
	}
	info, _ = l.Info(root)
	if info.Dest != "/two" || info.DoneChunks != 2 || !info.Created.Equal(first.Created) || !info.Updated.After(first.Updated) {
		t.Fatalf("after second Begin: %+v", info)
	}
	if got := doneSet(t, l, root); !slices.Equal(got, []ChunkRef{{1, 0}, {1, 2}}) {
		t.Fatalf("done = %v", got)
	}
	if again := raw(t, l, root); !slices.Equal(again.partSizes, stored.partSizes) {
		t.Fatalf("parts changed: %v, were %v", again.partSizes, stored.partSizes)
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
	// A manifest with the same root but other totals is refused.
	liar := &lyingManifest{memManifest: m, root: root, files: 7}
	if err := l.Begin(liar, "/three"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Begin with other totals: %v, want ErrCorrupt", err)
	}
}

func TestResumeLogForget(t *testing.T) {
	m := testManifest(t, 2, 3, 10)
	root := m.Root()
	l := openLog(t, logPath(t), ResumeLogOptions{})
	begin(t, l, m, "/d")
	if err := l.MarkDone(root, []ChunkRef{{1, 0}, {1, 1}, {1, 2}, {2, 0}}); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkFileComplete(root, []uint32{1}); err != nil {
		t.Fatal(err)
	}
	if err := l.Finish(root); err != nil {
		t.Fatal(err)
	}
	if done, _ := l.DoneChunks(root, 1); done != nil {
		t.Fatalf("a complete file kept its done set %b", done)
	}
	// Forget a chunk of the complete file, and one never marked (no effect
	// on counters). The complete file loses its mark and, its set being
	// gone, all of its count.
	if err := l.Forget(root, []ChunkRef{{1, 2}, {2, 1}}); err != nil {
		t.Fatal(err)
	}
	if got := doneSet(t, l, root); !slices.Equal(got, []ChunkRef{{2, 0}}) {
		t.Fatalf("done = %v", got)
	}
	info, _ := l.Info(root)
	if info.DoneChunks != 1 || info.DoneBytes != testChunk || info.Finished {
		t.Fatalf("after forget: %+v", info)
	}
	if c := completeSet(t, l, root); len(c) != 0 {
		t.Fatalf("still complete after a chunk was forgotten: %v", c)
	}
	// Re-marking counts again.
	if err := l.MarkDone(root, []ChunkRef{{1, 2}}); err != nil {
		t.Fatal(err)
	}
	if info, _ = l.Info(root); info.DoneChunks != 2 || info.DoneBytes != testChunk+10 {
		t.Fatalf("after re-mark: %+v", info)
	}
	// Forgetting a chunk of a file not complete only clears that chunk.
	if err := l.Forget(root, []ChunkRef{{2, 0}}); err != nil {
		t.Fatal(err)
	}
	if info, _ = l.Info(root); info.DoneChunks != 1 || info.DoneBytes != 10 {
		t.Fatalf("after second forget: %+v", info)
	}
	if done, _ := l.DoneChunks(root, 2); done != nil {
		t.Fatalf("an emptied set is %b, want nil", done)
	}
}

// TestResumeLogRepairCounts follows a repair: a complete file found damaged
// gets its good chunks marked, is fetched, and is completed again.
func TestResumeLogRepairCounts(t *testing.T) {
	m := testManifest(t, 2, 4, 10)
	root := m.Root()
	l := openLog(t, logPath(t), ResumeLogOptions{})
	begin(t, l, m, "/d")
	if err := l.MarkFileComplete(root, []uint32{1, 2}); err != nil {
		t.Fatal(err)
	}
	counts := func() [2]int64 {
		t.Helper()
		info, err := l.Info(root)
		if err != nil {
			t.Fatal(err)
		}
		return [2]int64{info.DoneChunks, info.DoneBytes}
	}
	full, _ := l.Info(root)
	if full.DoneBytes != full.TotalBytes || full.DoneChunks != full.TotalChunks {
		t.Fatalf("all complete: %+v", full)
	}
	want := counts()
	if err := l.MarkDone(root, []ChunkRef{{2, 0}, {2, 3}}); err != nil {
		t.Fatal(err)
	}
	if got := counts(); got != want {
		t.Fatalf("marking chunks of a complete file changed the counters to %v", got)
	}
	if done, _ := l.DoneChunks(root, 2); !slices.Equal(done, []uint64{0b1001}) {
		t.Fatalf("done set of a file under repair: %b", done)
	}
	if ok, _ := l.IsComplete(root, 2); !ok {
		t.Fatal("marking chunks uncompleted a file")
	}
	if err := l.MarkFileComplete(root, []uint32{2}); err != nil {
		t.Fatal(err)
	}
	if done, _ := l.DoneChunks(root, 2); done != nil {
		t.Fatalf("completing again kept %b", done)
	}
	if got := counts(); got != want {
		t.Fatalf("completing again changed the counters to %v", got)
	}
	if rt := raw(t, l, root); rt.chunkKeys != 0 || rt.intervals != 1 {
		t.Fatalf("%d chunk sets, %d intervals", rt.chunkKeys, rt.intervals)
	}
}

func TestResumeLogRejects(t *testing.T) {
	m := testManifest(t, 2, 3, 10)
	root := m.Root()
	l := openLog(t, logPath(t), ResumeLogOptions{})
	var other manifest.Hash
	other[0] = 1
	liar := &lyingManifest{memManifest: m, root: other}
	if err := l.Begin(liar, "/d"); !errors.Is(err, ErrRootMismatch) {
		t.Fatalf("Begin with wrong root: %v", err)
	}
	if _, err := l.Info(other); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a failed Begin left a transfer: %v", err)
	}
	if rt := raw(t, l, other); rt.info != nil {
		t.Fatal("a failed Begin left a bucket")
	}
	for name, f := range map[string]func() error{
		"MarkDone":         func() error { return l.MarkDone(other, []ChunkRef{{1, 0}}) },
		"Forget":           func() error { return l.Forget(other, []ChunkRef{{1, 0}}) },
		"Done":             func() error { return l.Done(other, func(ChunkRef) error { return nil }) },
		"DoneChunks":       func() error { _, err := l.DoneChunks(other, 1); return err },
		"IsComplete":       func() error { _, err := l.IsComplete(other, 1); return err },
		"CompleteFiles":    func() error { return l.CompleteFiles(other, func(uint32) error { return nil }) },
		"MarkFileComplete": func() error { return l.MarkFileComplete(other, []uint32{1}) },
		"Finish":           func() error { return l.Finish(other) },
		"ReadManifest":     func() error { return l.ReadManifest(other, func(io.Reader) error { return nil }) },
		"Delete":           func() error { return l.Delete(other) },
	} {
		if err := f(); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s on an unknown root: %v, want ErrNotFound", name, err)
		}
	}
	begin(t, l, m, "/d")
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
	if err := l.MarkFileComplete(root, []uint32{1, 3}); !errors.Is(err, ErrBadRef) {
		t.Fatalf("MarkFileComplete past the end: %v", err)
	}
	if c := completeSet(t, l, root); len(c) != 0 {
		t.Fatalf("a rejected batch completed %v", c)
	}
	if _, err := l.DoneChunks(root, 3); !errors.Is(err, ErrBadRef) {
		t.Fatalf("DoneChunks past the end: %v", err)
	}
	if _, err := l.IsComplete(root, 3); !errors.Is(err, ErrBadRef) {
		t.Fatalf("IsComplete past the end: %v", err)
	}
	stop := errors.New("stop")
	if err := l.MarkDone(root, []ChunkRef{{1, 0}, {1, 1}}); err != nil {
		t.Fatal(err)
	}
	calls := 0
	if err := l.Done(root, func(ChunkRef) error { calls++; return stop }); err != stop || calls != 1 {
		t.Fatalf("Done did not stop on the callback's error: %v after %d calls", err, calls)
	}
	if err := l.ReadManifest(root, func(io.Reader) error { return stop }); err != stop {
		t.Fatalf("ReadManifest did not return the callback's error: %v", err)
	}
}

func TestResumeLogManifestInParts(t *testing.T) {
	s := newSynthManifest(t, 800, 100) // ~5.6 MB: 6 parts in 2 batches
	root := s.Root()
	path := logPath(t)
	l := openLog(t, path, ResumeLogOptions{})
	begin(t, l, s, "/big")
	rt := raw(t, l, root)
	sizes := rt.partSizes
	if len(sizes) < partsPerTx+1 {
		t.Fatalf("%d parts (%d bytes): the manifest was not split in batches", len(sizes), s.encSize)
	}
	total := 0
	for i, n := range sizes {
		if n > maxPart || n == 0 || (i < len(sizes)-1 && n != maxPart) {
			t.Fatalf("part %d is %d bytes", i, n)
		}
		total += n
	}
	if int64(total) != s.encSize {
		t.Fatalf("parts hold %d bytes, the encoding has %d", total, s.encSize)
	}
	for i, n := range rt.batches {
		if n == 0 || n > partsPerTx || (i < len(rt.batches)-1 && n != partsPerTx) {
			t.Fatalf("batches %v", rt.batches)
		}
	}
	l.Close()
	l = openLog(t, path, ResumeLogOptions{})
	back := readBack(t, l, root)
	if len(back.Entries) != s.Len() {
		t.Fatalf("round trip: %d entries, want %d", len(back.Entries), s.Len())
	}
	for _, i := range []int{0, 1, 2, s.Len() - 1} {
		want, _ := s.Entry(i)
		got := back.Entries[i]
		got.Chunks = nil
		if !entryEqual(got, want) {
			t.Fatalf("entry %d = %+v, want %+v", i, got, want)
		}
	}
	t.Logf("%d entries, %d bytes in %d parts, %d batches", s.Len(), s.encSize, len(sizes), len(rt.batches))
}

func entryEqual(a, b manifest.Entry) bool {
	return a.Path == b.Path && a.Kind == b.Kind && a.Mode == b.Mode && a.MTime == b.MTime &&
		a.Size == b.Size && a.Target == b.Target && len(a.Chunks) == len(b.Chunks)
}

// TestSynthManifest checks the test generator against the real decoder.
func TestSynthManifest(t *testing.T) {
	s := newSynthManifest(t, 3, 5)
	m, root, err := manifest.Decode(s.Encoding(), manifest.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if root != s.Root() || len(m.Entries) != s.Len() || int64(m.Files()) != s.Files() ||
		m.TotalSize() != s.TotalSize() || m.TotalChunks() != s.TotalChunks() {
		t.Fatalf("decoded %d entries, root %s; synth says %d, %s", len(m.Entries), root.Short(), s.Len(), s.Root().Short())
	}
	for i, e := range m.Entries {
		want, _ := s.Entry(i)
		e.Chunks = nil
		if !entryEqual(e, want) || s.isFile(i) != (e.Kind == manifest.KindFile) {
			t.Fatalf("entry %d = %+v, want %+v", i, e, want)
		}
	}
}

// TestBeginCrashLeavesPending stops a Begin in the middle, the way a crash
// would (a panic from the encoding's reader, after some parts were
// committed), then checks that the pending transfer is invisible and that
// the next Begin replaces it.
func TestBeginCrashLeavesPending(t *testing.T) {
	s := newSynthManifest(t, 1000, 100) // ~7 MB
	s.stallAt = partsPerTx*maxPart + 1000
	s.stall = func() error { panic("crash") }
	root := s.Root()
	l := openLog(t, logPath(t), ResumeLogOptions{})
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("Begin did not reach the crash")
			}
		}()
		l.Begin(s, "/d")
	}()
	rt := raw(t, l, root)
	if rt.info == nil || !rt.info.pending || len(rt.batches) == 0 {
		t.Fatalf("after the crash: info %+v, batches %v; want a pending transfer with parts", rt.info, rt.batches)
	}
	checkInvisible(t, l, root)

	// Another transfer's Begin drops it too; here the same root begins again.
	s.stall = nil
	begin(t, l, s, "/d")
	if rt = raw(t, l, root); rt.info.pending {
		t.Fatal("still pending after Begin")
	}
	if back := readBack(t, l, root); len(back.Entries) != s.Len() {
		t.Fatalf("%d entries read back", len(back.Entries))
	}
	if list, _ := l.List(); len(list) != 1 || list[0].Root != root {
		t.Fatalf("List = %+v", list)
	}
}

// checkInvisible fails unless root is absent to every public method.
func checkInvisible(t *testing.T, l *ResumeLog, root manifest.Hash) {
	t.Helper()
	if list, err := l.List(); err != nil || len(list) != 0 {
		t.Fatalf("List shows %+v, %v", list, err)
	}
	if _, err := l.Info(root); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Info: %v, want ErrNotFound", err)
	}
	if err := l.ReadManifest(root, func(io.Reader) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ReadManifest: %v, want ErrNotFound", err)
	}
	if _, err := l.DoneChunks(root, 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("DoneChunks: %v, want ErrNotFound", err)
	}
	if err := l.MarkDone(root, []ChunkRef{{2, 0}}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("MarkDone: %v, want ErrNotFound", err)
	}
	if err := l.Delete(root); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Delete: %v, want ErrNotFound", err)
	}
}

// TestBeginReadErrorCleansUp: a Begin that fails (not crashes) removes what
// it stored.
func TestBeginReadErrorCleansUp(t *testing.T) {
	s := newSynthManifest(t, 1000, 100)
	s.stallAt = partsPerTx*maxPart + 1000
	boom := errors.New("boom")
	s.stall = func() error { return boom }
	l := openLog(t, logPath(t), ResumeLogOptions{})
	if err := l.Begin(s, "/d"); !errors.Is(err, boom) {
		t.Fatalf("Begin: %v, want the reader's error", err)
	}
	if rt := raw(t, l, s.Root()); rt.info != nil {
		t.Fatalf("a failed Begin left %+v", rt.info)
	}
	checkInvisible(t, l, s.Root())
}

// TestBeginDropsOtherPending: a pending transfer of another root goes at
// the next Begin.
func TestBeginDropsOtherPending(t *testing.T) {
	s := newSynthManifest(t, 1000, 100)
	s.stallAt = partsPerTx*maxPart + 1000
	s.stall = func() error { panic("crash") }
	l := openLog(t, logPath(t), ResumeLogOptions{})
	func() {
		defer func() { recover() }()
		l.Begin(s, "/d")
	}()
	if rt := raw(t, l, s.Root()); rt.info == nil {
		t.Fatal("no pending transfer")
	}
	m := testManifest(t, 1, 1, 1)
	begin(t, l, m, "/e")
	if rt := raw(t, l, s.Root()); rt.info != nil {
		t.Fatal("the pending transfer survived another Begin")
	}
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
		begin(t, l, m, "/d")
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
	// Delete also forgets the layout.
	if err := l.MarkDone(roots[2], []ChunkRef{{1, 0}}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("MarkDone after Delete: %v", err)
	}
	// A deleted transfer can begin again, from nothing.
	m := testManifest(t, 3, 1, 1)
	begin(t, l, m, "/again")
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

func TestDoneChunksSegments(t *testing.T) {
	const n = 2*segChunks + 5000 // three segments, the last one short
	m := testManifest(t, 2, n, 7)
	root := m.Root()
	l := openLog(t, logPath(t), ResumeLogOptions{})
	begin(t, l, m, "/d")
	marks := []uint32{0, 63, 64, segChunks - 1, segChunks, 2 * segChunks, n - 1}
	var refs []ChunkRef
	for _, c := range marks {
		refs = append(refs, ChunkRef{2, c})
	}
	if err := l.MarkDone(root, refs); err != nil {
		t.Fatal(err)
	}
	check := func(want []uint32) {
		t.Helper()
		done, err := l.DoneChunks(root, 2)
		if err != nil {
			t.Fatal(err)
		}
		var got []uint32
		for c := range uint32(len(done) * 64) {
			if done[c/64]&(1<<(c%64)) != 0 {
				got = append(got, c)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("DoneChunks = %v, want %v", got, want)
		}
		if len(want) > 0 && len(done) != int(want[len(want)-1]/64+1) {
			t.Fatalf("%d words for a last chunk %d: trailing zero words not trimmed", len(done), want[len(want)-1])
		}
		var fromDone []uint32
		for _, r := range doneSet(t, l, root) {
			fromDone = append(fromDone, r.Chunk)
		}
		if !slices.Equal(fromDone, want) {
			t.Fatalf("Done = %v, want %v", fromDone, want)
		}
	}
	check(marks)
	info, _ := l.Info(root)
	if info.DoneChunks != int64(len(marks)) || info.DoneBytes != int64(len(marks)-1)*testChunk+7 {
		t.Fatalf("counters %d chunks %d bytes", info.DoneChunks, info.DoneBytes)
	}
	if rt := raw(t, l, root); rt.chunkKeys != 3 {
		t.Fatalf("%d segment keys, want 3", rt.chunkKeys)
	}
	// Emptying the middle segment deletes its key.
	if err := l.Forget(root, []ChunkRef{{2, segChunks}}); err != nil {
		t.Fatal(err)
	}
	check([]uint32{0, 63, 64, segChunks - 1, 2 * segChunks, n - 1})
	if rt := raw(t, l, root); rt.chunkKeys != 2 {
		t.Fatalf("%d segment keys, want 2", rt.chunkKeys)
	}
	if err := l.Forget(root, []ChunkRef{{2, n - 1}, {2, 2 * segChunks}}); err != nil {
		t.Fatal(err)
	}
	check([]uint32{0, 63, 64, segChunks - 1})
	if info, _ = l.Info(root); info.DoneChunks != 4 || info.DoneBytes != 4*testChunk {
		t.Fatalf("counters %d chunks %d bytes", info.DoneChunks, info.DoneBytes)
	}
	if done, _ := l.DoneChunks(root, 1); done != nil {
		t.Fatalf("untouched file has %b", done)
	}
	// Completing the file counts it whole and drops every segment.
	if err := l.MarkFileComplete(root, []uint32{2}); err != nil {
		t.Fatal(err)
	}
	if info, _ = l.Info(root); info.DoneChunks != n || info.DoneBytes != (n-1)*testChunk+7 {
		t.Fatalf("complete: %d chunks %d bytes", info.DoneChunks, info.DoneBytes)
	}
	if rt := raw(t, l, root); rt.chunkKeys != 0 {
		t.Fatalf("%d segment keys left", rt.chunkKeys)
	}
}

// TestCompleteIntervals completes 1000 files in shuffled batches and checks
// IsComplete, the intervals and the counters against a model after each.
func TestCompleteIntervals(t *testing.T) {
	const files = 1000
	m := testManifest(t, files, 2, 3)
	root := m.Root()
	l := openLog(t, logPath(t), ResumeLogOptions{})
	begin(t, l, m, "/d")
	rng := rand.New(rand.NewPCG(1, 2))
	order := make([]uint32, files)
	for i := range order {
		order[i] = uint32(i + 1)
	}
	rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	model := make([]bool, files+1)
	// Half the files have one chunk done before they complete.
	for _, e := range order[:files/2] {
		if err := l.MarkDone(root, []ChunkRef{{e, 1}}); err != nil {
			t.Fatal(err)
		}
	}
	for len(order) > 0 {
		n := min(1+rng.IntN(120), len(order))
		batch := order[:n]
		order = order[n:]
		if err := l.MarkFileComplete(root, append(slices.Clone(batch), batch[0])); err != nil { // a duplicate too
			t.Fatal(err)
		}
		for _, e := range batch {
			model[e] = true
		}
		checkComplete(t, l, root, model)
	}
	rt := raw(t, l, root)
	if rt.intervals != 1 || rt.intervalList[0] != (interval{1, files + 1}) || rt.chunkKeys != 0 {
		t.Fatalf("intervals %v, %d chunk sets left", rt.intervalList, rt.chunkKeys)
	}
	info, _ := l.Info(root)
	if info.DoneBytes != info.TotalBytes || info.DoneChunks != info.TotalChunks {
		t.Fatalf("all complete: %+v", info)
	}
	// Forgetting a chunk of one file splits the interval around it.
	if err := l.Forget(root, []ChunkRef{{500, 0}}); err != nil {
		t.Fatal(err)
	}
	model[500] = false
	checkComplete(t, l, root, model)
	if rt = raw(t, l, root); !slices.Equal(rt.intervalList, []interval{{1, 500}, {501, files + 1}}) {
		t.Fatalf("intervals after forget: %v", rt.intervalList)
	}
	if info, _ = l.Info(root); info.TotalBytes-info.DoneBytes != testChunk+3 || info.TotalChunks-info.DoneChunks != 2 {
		t.Fatalf("after forget: %+v", info)
	}
	if err := l.MarkFileComplete(root, []uint32{500}); err != nil {
		t.Fatal(err)
	}
	if rt = raw(t, l, root); rt.intervals != 1 {
		t.Fatalf("intervals after re-complete: %v", rt.intervalList)
	}
}

// checkComplete compares IsComplete, CompleteFiles and the stored
// intervals with model.
func checkComplete(t *testing.T, l *ResumeLog, root manifest.Hash, model []bool) {
	t.Helper()
	var want []uint32
	var runs []interval
	for e, ok := range model {
		got, err := l.IsComplete(root, uint32(e))
		if err != nil {
			t.Fatal(err)
		}
		if got != ok {
			t.Fatalf("IsComplete(%d) = %v, want %v", e, got, ok)
		}
		if !ok {
			continue
		}
		want = append(want, uint32(e))
		if n := len(runs); n > 0 && runs[n-1].end == uint64(e) {
			runs[n-1].end++
		} else {
			runs = append(runs, interval{uint64(e), uint64(e) + 1})
		}
	}
	if got := completeSet(t, l, root); !slices.Equal(got, want) {
		t.Fatalf("CompleteFiles = %v, want %v", got, want)
	}
	if rt := raw(t, l, root); !slices.Equal(rt.intervalList, runs) {
		t.Fatalf("intervals %v, want %v", rt.intervalList, runs)
	}
}

// TestCompleteBridgesDirectories: directories between complete files join
// their intervals, up to bridgeMax of them in a row.
func TestCompleteBridgesDirectories(t *testing.T) {
	for _, tc := range []struct {
		dirs      int
		intervals int
	}{{bridgeMax - 1, 1}, {bridgeMax + 5, 2}} {
		t.Run(fmt.Sprint(tc.dirs), func(t *testing.T) {
			// "a" (file), "b", "b/000".. (dirs: 1+tc.dirs in a row), "c" (file)
			mm := &manifest.Manifest{ChunkSize: testChunk}
			mm.Entries = append(mm.Entries, manifest.Entry{Path: "a", Kind: manifest.KindFile, Size: 1, Chunks: make([]manifest.Hash, 1)})
			mm.Entries = append(mm.Entries, manifest.Entry{Path: "b", Kind: manifest.KindDir})
			for i := range tc.dirs {
				mm.Entries = append(mm.Entries, manifest.Entry{Path: fmt.Sprintf("b/%03d", i), Kind: manifest.KindDir})
			}
			mm.Entries = append(mm.Entries, manifest.Entry{Path: "c", Kind: manifest.KindFile, Size: 1, Chunks: make([]manifest.Hash, 1)})
			if err := mm.Validate(manifest.Limits{}); err != nil {
				t.Fatal(err)
			}
			m := newMemManifest(t, mm)
			l := openLog(t, logPath(t), ResumeLogOptions{})
			begin(t, l, m, "/d")
			last := uint32(len(mm.Entries) - 1)
			for _, e := range []uint32{last, 0} {
				if err := l.MarkFileComplete(m.Root(), []uint32{e}); err != nil {
					t.Fatal(err)
				}
			}
			rt := raw(t, l, m.Root())
			if rt.intervals != tc.intervals {
				t.Fatalf("intervals %v, want %d of them", rt.intervalList, tc.intervals)
			}
			for _, e := range []uint32{0, last} {
				if ok, _ := l.IsComplete(m.Root(), e); !ok {
					t.Fatalf("entry %d not complete", e)
				}
			}
			if info, _ := l.Info(m.Root()); info.DoneBytes != 2 || info.DoneChunks != 2 {
				t.Fatalf("counters: %+v", info)
			}
		})
	}
}

func TestDoneStreamsInBatches(t *testing.T) {
	// More than iterKeys sets, so Done crosses read transactions; the
	// callback writes to the log, which must not deadlock.
	const files = iterKeys + 500
	m := testManifest(t, files, 3, 1)
	root := m.Root()
	l := openLog(t, logPath(t), ResumeLogOptions{})
	begin(t, l, m, "/d")
	var want []ChunkRef
	for e := uint32(1); e <= files; e++ {
		for c := uint32(0); c < 3; c += 1 + e%2 {
			want = append(want, ChunkRef{e, c})
		}
	}
	if err := l.MarkDone(root, want); err != nil {
		t.Fatal(err)
	}
	var got []ChunkRef
	err := l.Done(root, func(r ChunkRef) error {
		got = append(got, r)
		if len(got) == 10 {
			return l.MarkDone(root, []ChunkRef{{r.Entry, 1}})
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

// failingManifest's encoding fails at once.
type failingManifest struct {
	*memManifest
	err error
}

func (f *failingManifest) Encoding() io.Reader { return iotest.ErrReader(f.err) }

// lyingManifest claims another root or another file count.
type lyingManifest struct {
	*memManifest
	root  manifest.Hash
	files int64
}

func (lm *lyingManifest) Root() manifest.Hash { return lm.root }

func (lm *lyingManifest) Files() int64 {
	if lm.files != 0 {
		return lm.files
	}
	return lm.memManifest.Files()
}

func BenchmarkMarkDone(b *testing.B) {
	const batch = 256
	m := testManifest(b, 1024, 256, testChunk) // 262,144 chunks = 1024 batches
	root := m.Root()
	l := openLog(b, logPath(b), ResumeLogOptions{})
	begin(b, l, m, "/d")
	refs := make([]ChunkRef, batch)
	next := 0 // batch index
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if next == 1024 {
			b.StopTimer()
			if err := l.Delete(root); err != nil {
				b.Fatal(err)
			}
			begin(b, l, m, "/d")
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
