package engine

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestSymlinkSkippedOnExFAT receives a tree with symlinks onto a real file
// system without symlinks (exFAT through FUSE: symlink(2) says ENOSYS).
// Each symlink is reported with the reason and skipped, nothing is put in
// its place (not its target as a file), and the rest of the transfer
// finishes, durably, with the resume log recording it complete.
func TestSymlinkSkippedOnExFAT(t *testing.T) {
	mnt := mountExFAT(t)
	dest := filepath.Join(mnt, "in")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeRandom(t, filepath.Join(src, "big.bin"), 3<<20+17)
	writeFile(t, filepath.Join(src, "sub", "x.txt"), []byte("hello"))
	writeFile(t, filepath.Join(src, "empty"), nil)
	for link, target := range map[string]string{"link": "sub/x.txt", "sub/up": "../big.bin"} {
		if err := os.Symlink(target, filepath.Join(src, link)); err != nil {
			t.Fatal(err)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pass := testPass(t)
	addrs, res := startSender(t, ctx, SendOptions{Paths: []string{src}, Passphrase: pass})
	ro := recvOpts(pass, dest, addrs)
	ro.ResumeLogPath = filepath.Join(dir, "resume.db") // the durable path: syncs
	var mu sync.Mutex
	var skipped []SymlinkSkippedEvent
	ro.Events = func(e Event) {
		if s, ok := e.(SymlinkSkippedEvent); ok {
			mu.Lock()
			skipped = append(skipped, s)
			mu.Unlock()
		}
	}
	sum, err := Receive(ctx, ro)
	cancel()
	<-res
	if err != nil {
		t.Fatalf("Receive onto exFAT: %v", err)
	}
	want := map[string]string{"src/link": "sub/x.txt", "src/sub/up": "../big.bin"}
	if len(skipped) != len(want) {
		t.Fatalf("skipped %+v, want both symlinks", skipped)
	}
	for _, s := range skipped {
		if want[s.Path] != s.Target || s.Reason != reasonNoSymlinks {
			t.Errorf("skipped %+v, want target %q and reason %q", s, want[s.Path], reasonNoSymlinks)
		}
		if _, err := os.Lstat(filepath.Join(dest, filepath.FromSlash(s.Path))); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: something is in the skipped symlink's place (%v)", s.Path, err)
		}
	}
	if sum.Files != 3 {
		t.Errorf("summary: %d files, want 3", sum.Files)
	}
	for _, f := range []string{"big.bin", "sub/x.txt", "empty"} {
		if !sameBytes(t, filepath.Join(src, f), filepath.Join(dest, "src", f)) {
			t.Errorf("%s differs after the transfer", f)
		}
	}
	if names, _ := os.ReadDir(filepath.Join(dest)); len(names) != 1 {
		t.Errorf("destination holds %v, want only src (no staging directory left)", names)
	}
}
