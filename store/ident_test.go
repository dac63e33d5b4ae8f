package store

import (
	"testing"
)

// TestFileIdentity: MarkFileCompleteAs records an identity that Completion
// returns across a reopen; MarkFileComplete and Forget of a chunk drop it.
func TestFileIdentity(t *testing.T) {
	m := testManifest(t, 3, 2, 10)
	root := m.Root()
	path := logPath(t)
	l := openLog(t, path, ResumeLogOptions{})
	begin(t, l, m, "/d")
	a := FileID{Size: testChunk + 10, MTime: 1, Inode: 42, CTime: 7}
	b := FileID{Size: testChunk + 10, MTime: 2, Inode: 43, CTime: 8}
	if err := l.MarkFileCompleteAs(root, []uint32{2, 1}, []FileID{b, a}); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkFileCompleteAs(root, []uint32{3}, nil); err == nil {
		t.Fatal("identities must match entries one to one")
	}
	l.Close()
	l = openLog(t, path, ResumeLogOptions{})
	begin(t, l, m, "/d")
	for e, want := range map[uint32]FileID{1: a, 2: b} {
		if got, ok, err := l.Completion(root, e); err != nil || !ok || got != want {
			t.Fatalf("entry %d: %+v %v %v, want %+v", e, got, ok, err, want)
		}
	}
	if _, ok, err := l.Completion(root, 3); err != nil || ok {
		t.Fatalf("entry 3 never completed: ok=%v err=%v", ok, err)
	}
	// Completed without an identity: never matches.
	if err := l.MarkFileComplete(root, []uint32{2}); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := l.Completion(root, 2); ok {
		t.Fatal("MarkFileComplete kept an identity")
	}
	// A forgotten chunk un-completes the file and drops its identity.
	if err := l.Forget(root, []ChunkRef{{1, 0}}); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := l.Completion(root, 1); ok {
		t.Fatal("Forget kept the identity of a file no longer complete")
	}
}

// TestDropChunks: a file's whole done set goes, with its counts; a
// complete file stays complete and counted.
func TestDropChunks(t *testing.T) {
	m := testManifest(t, 2, 3, 10)
	root := m.Root()
	l := openLog(t, logPath(t), ResumeLogOptions{})
	begin(t, l, m, "/d")
	if err := l.MarkDone(root, []ChunkRef{{1, 0}, {1, 2}, {2, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkFileCompleteAs(root, []uint32{2}, []FileID{{Inode: 1}}); err != nil {
		t.Fatal(err)
	}
	// A repair marks chunks on the complete file 2.
	if err := l.MarkDone(root, []ChunkRef{{2, 0}}); err != nil {
		t.Fatal(err)
	}
	before, _ := l.Info(root)
	for _, e := range []uint32{1, 2} {
		if err := l.DropChunks(root, e); err != nil {
			t.Fatal(err)
		}
		if done, _ := l.DoneChunks(root, e); done != nil {
			t.Fatalf("entry %d kept %b", e, done)
		}
	}
	info, _ := l.Info(root)
	if want := before.DoneBytes - testChunk - 10; info.DoneBytes != want || info.DoneChunks != before.DoneChunks-2 {
		t.Fatalf("after drop: %+v, want %d bytes", info, want)
	}
	if _, ok, _ := l.Completion(root, 2); !ok {
		t.Fatal("DropChunks un-completed a complete file")
	}
}
