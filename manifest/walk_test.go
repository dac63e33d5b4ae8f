package manifest

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

// writeFile creates path (and parents) with data.
func writeFile(tb testing.TB, path string, data []byte) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// buildTree makes a tree under dir/tree and returns its path.
func buildTree(tb testing.TB, dir string) string {
	tb.Helper()
	root := filepath.Join(dir, "tree")
	big := bytes.Repeat([]byte("0123456789abcdef"), 3*MinChunkSize/16+5) // 3 chunks + 80 bytes
	writeFile(tb, filepath.Join(root, "big.bin"), big)
	writeFile(tb, filepath.Join(root, "empty"), nil)
	writeFile(tb, filepath.Join(root, "sub", "deeper", "x.txt"), []byte("hello"))
	writeFile(tb, filepath.Join(root, "a b", "c"), []byte("spaces"))
	must(tb, os.MkdirAll(filepath.Join(root, "emptydir"), 0o700))
	must(tb, os.Symlink("deeper/x.txt", filepath.Join(root, "sub", "link")))
	must(tb, os.Symlink("../big.bin", filepath.Join(root, "sub", "uplink")))
	must(tb, os.Symlink("../../outside", filepath.Join(root, "sub", "escape")))
	must(tb, os.Symlink("/etc/passwd", filepath.Join(root, "abs")))
	must(tb, syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644))
	must(tb, os.Chmod(filepath.Join(root, "empty"), 0o4751)) // setuid is stripped
	return root
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// countingCache is an in-memory HashCache that counts its calls.
type countingCache struct {
	mu            sync.Mutex
	m             map[FileKey][]Hash
	lookups, hits int
	stores        int
}

func (c *countingCache) Lookup(k FileKey) ([]Hash, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lookups++
	h, ok := c.m[k]
	if ok {
		c.hits++
	}
	return h, ok
}

func (c *countingCache) Store(k FileKey, h []Hash) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[FileKey][]Hash{}
	}
	c.m[k] = h
	c.stores++
}

func TestWalkTree(t *testing.T) {
	root := buildTree(t, t.TempDir())
	other := filepath.Join(t.TempDir(), "single.txt")
	writeFile(t, other, []byte("abc"))
	skipped := map[string]error{}
	var phases []string
	src, err := Walk(t.Context(), []string{root, other}, WalkOptions{
		ChunkSize: MinChunkSize,
		OnSkip:    func(local string, err error) { skipped[filepath.Base(local)] = err },
		Progress: func(p WalkProgress) {
			if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
				phases = append(phases, p.Phase)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	m := src.Manifest
	var paths []string
	byPath := map[string]Entry{}
	for i, e := range m.Entries {
		paths = append(paths, e.Path)
		byPath[e.Path] = e
		if _, err := os.Lstat(src.Local[i]); err != nil || !filepath.IsAbs(src.Local[i]) {
			t.Errorf("Local[%d] = %q: %v", i, src.Local[i], err)
		}
	}
	want := []string{"single.txt", "tree", "tree/a b", "tree/a b/c", "tree/big.bin", "tree/empty", "tree/emptydir",
		"tree/sub", "tree/sub/deeper", "tree/sub/deeper/x.txt", "tree/sub/link", "tree/sub/uplink"}
	if !slices.Equal(paths, want) {
		t.Fatalf("paths\n got %q\nwant %q", paths, want)
	}
	if err := m.Validate(Limits{}); err != nil {
		t.Fatal(err)
	}
	if e := byPath["single.txt"]; e.Kind != KindFile || e.Size != 3 || e.Chunks[0] != HashChunk([]byte("abc")) {
		t.Errorf("single.txt = %+v", e)
	}
	if e := byPath["tree/big.bin"]; len(e.Chunks) != 4 || e.Chunks[3] != HashChunk(bytes.Repeat([]byte("0123456789abcdef"), 5)) {
		t.Errorf("big.bin: %d chunks, last wrong or missing", len(e.Chunks))
	}
	if e := byPath["tree/empty"]; e.Size != 0 || e.Chunks != nil || e.Mode != 0o751 {
		t.Errorf("empty = %+v (mode %o)", e, e.Mode)
	}
	if e := byPath["tree/emptydir"]; e.Kind != KindDir || e.Mode != 0o700 {
		t.Errorf("emptydir = %+v", e)
	}
	if e := byPath["tree/sub/link"]; e.Kind != KindSymlink || e.Target != "deeper/x.txt" || e.Mode != 0 {
		t.Errorf("link = %+v", e)
	}
	fi, _ := os.Stat(filepath.Join(root, "sub", "deeper", "x.txt"))
	if e := byPath["tree/sub/deeper/x.txt"]; e.MTime != fi.ModTime().UnixNano() {
		t.Errorf("mtime %d, want %d", e.MTime, fi.ModTime().UnixNano())
	}
	for _, name := range []string{"escape", "abs"} {
		if !errors.Is(skipped[name], ErrSymlinkEscapes) {
			t.Errorf("skip %s: %v, want ErrSymlinkEscapes", name, skipped[name])
		}
	}
	if !errors.Is(skipped["fifo"], ErrSpecialFile) {
		t.Errorf("skip fifo: %v", skipped["fifo"])
	}
	if len(skipped) != 3 {
		t.Errorf("skipped %v", skipped)
	}
	if !slices.Equal(phases, []string{"scan", "hash"}) {
		t.Errorf("progress phases %q", phases)
	}
}

func TestWalkCacheAndChanges(t *testing.T) {
	root := buildTree(t, t.TempDir())
	cache := &countingCache{}
	opts := WalkOptions{ChunkSize: MinChunkSize, Cache: cache, Workers: 3}
	first, err := Walk(t.Context(), []string{root}, opts)
	if err != nil {
		t.Fatal(err)
	}
	nfiles := int(first.Manifest.Files())
	if cache.lookups != nfiles || cache.hits != 0 || cache.stores != nfiles {
		t.Fatalf("first walk: %d lookups, %d hits, %d stores; %d files", cache.lookups, cache.hits, cache.stores, nfiles)
	}
	// Second walk of unchanged data: everything from the cache, same root.
	*cache = countingCache{m: cache.m}
	second, err := Walk(t.Context(), []string{root}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if cache.hits != nfiles || cache.stores != 0 {
		t.Fatalf("second walk: %d hits, %d stores, want %d hits and 0 stores", cache.hits, cache.stores, nfiles)
	}
	if second.Manifest.Root() != first.Manifest.Root() {
		t.Fatal("unchanged tree, different root")
	}
	// Modify one file (new size and mtime): the root changes and only it
	// is hashed again.
	x := filepath.Join(root, "sub", "deeper", "x.txt")
	must(t, os.WriteFile(x, []byte("hello, world"), 0o644))
	future := time.Now().Add(time.Hour)
	must(t, os.Chtimes(x, future, future))
	*cache = countingCache{m: cache.m}
	third, err := Walk(t.Context(), []string{root}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if cache.stores != 1 {
		t.Errorf("third walk hashed %d files, want 1", cache.stores)
	}
	if third.Manifest.Root() == first.Manifest.Root() {
		t.Fatal("modified file, same root")
	}
	// Without a cache the result is the same as with it.
	nocache, err := Walk(t.Context(), []string{root}, WalkOptions{ChunkSize: MinChunkSize})
	if err != nil {
		t.Fatal(err)
	}
	if nocache.Manifest.Root() != third.Manifest.Root() {
		t.Fatal("cache changes the result")
	}
}

func TestWalkTopLevel(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a", "same"), []byte("1"))
	writeFile(t, filepath.Join(dir, "b", "same"), []byte("2"))
	if _, err := Walk(t.Context(), []string{filepath.Join(dir, "a", "same"), filepath.Join(dir, "b", "same")}, WalkOptions{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("duplicate base names: err = %v", err)
	}
	if _, err := Walk(t.Context(), []string{filepath.Join(dir, "nope")}, WalkOptions{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing path: err = %v", err)
	}
	if _, err := Walk(t.Context(), []string{"/"}, WalkOptions{}); err == nil {
		t.Errorf("walking / as a top-level entry succeeded")
	}
	// A named symlink is followed: it becomes a dir under the link's name.
	must(t, os.Symlink(filepath.Join(dir, "a"), filepath.Join(dir, "alias")))
	src, err := Walk(t.Context(), []string{filepath.Join(dir, "alias")}, WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if e := src.Manifest.Entries; len(e) != 2 || e[0].Path != "alias" || e[0].Kind != KindDir || e[1].Path != "alias/same" {
		t.Errorf("entries %+v", e)
	}
	ctx, cancel := contextWithCancel(t)
	cancel()
	if _, err := Walk(ctx, []string{filepath.Join(dir, "a")}, WalkOptions{}); err == nil {
		t.Errorf("cancelled walk succeeded")
	}
}

// TestWalkFileChangedAfterScan grows a file between the scan and the hash
// phase (from the final scan progress report, which Walk makes before
// hashing): the entry must describe the version that was hashed.
func TestWalkFileChangedAfterScan(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "t", "grow")
	writeFile(t, f, []byte("v1"))
	changed := false
	var last WalkProgress
	src, err := Walk(t.Context(), []string{filepath.Join(dir, "t")}, WalkOptions{
		ChunkSize: MinChunkSize,
		Progress: func(p WalkProgress) {
			last = p
			if p.Phase == "scan" && p.Files == 2 && !changed {
				changed = true
				must(t, os.WriteFile(f, []byte("version two"), 0o644))
				future := time.Now().Add(time.Hour)
				must(t, os.Chtimes(f, future, future))
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !changed {
		t.Fatal("progress never reported the end of the scan")
	}
	e := src.Manifest.Entries[1]
	fi, err := os.Stat(f)
	must(t, err)
	if e.Size != 11 || e.MTime != fi.ModTime().UnixNano() || e.Chunks[0] != HashChunk([]byte("version two")) {
		t.Errorf("entry %+v does not describe the hashed version", e)
	}
	if last.Phase != "hash" || last.Bytes != 11 || last.BytesTotal != 11 || last.Files != 1 || last.FilesTotal != 1 {
		t.Errorf("final progress %+v", last)
	}
}
