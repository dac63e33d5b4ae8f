package manifest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
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
	mkfifo(tb, filepath.Join(root, "fifo"))
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

// walkT runs Walk, closes the Source when the test ends, and returns it with
// its manifest loaded into memory.
func walkT(tb testing.TB, paths []string, opts WalkOptions) (*Source, *Manifest) {
	tb.Helper()
	src, err := Walk(tb.Context(), paths, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { src.Close() })
	m, err := src.Table.Manifest()
	if err != nil {
		tb.Fatal(err)
	}
	if err := m.Validate(Limits{}); err != nil {
		tb.Fatal(err)
	}
	if m.Root() != src.Table.Root() || len(m.Entries) != src.Table.Len() {
		tb.Fatalf("Table root %s, %d entries; its manifest: root %s, %d entries", src.Table.Root(), src.Table.Len(), m.Root(), len(m.Entries))
	}
	return src, m
}

func TestWalkTree(t *testing.T) {
	root := buildTree(t, t.TempDir())
	other := filepath.Join(t.TempDir(), "single.txt")
	writeFile(t, other, []byte("abc"))
	skipped := map[string]error{}
	var phases []string
	src, m := walkT(t, []string{root, other}, WalkOptions{
		ChunkSize: MinChunkSize,
		OnSkip:    func(local string, err error) { skipped[filepath.Base(local)] = err },
		Progress: func(p WalkProgress) {
			if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
				phases = append(phases, p.Phase)
			}
		},
	})
	var paths []string
	byPath := map[string]Entry{}
	for i, e := range m.Entries {
		paths = append(paths, e.Path)
		byPath[e.Path] = e
		local, err := src.Local(i)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(local); err != nil || !filepath.IsAbs(local) {
			t.Errorf("Local(%d) = %q: %v", i, local, err)
		}
	}
	want := []string{"single.txt", "tree", "tree/a b", "tree/a b/c", "tree/big.bin", "tree/empty", "tree/emptydir",
		"tree/sub", "tree/sub/deeper", "tree/sub/deeper/x.txt", "tree/sub/link", "tree/sub/uplink"}
	if !slices.Equal(paths, want) {
		t.Fatalf("paths\n got %q\nwant %q", paths, want)
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
	_, first := walkT(t, []string{root}, opts)
	nfiles := first.Files()
	if cache.lookups != nfiles || cache.hits != 0 || cache.stores != nfiles {
		t.Fatalf("first walk: %d lookups, %d hits, %d stores; %d files", cache.lookups, cache.hits, cache.stores, nfiles)
	}
	// Second walk of unchanged data: everything from the cache, same root.
	*cache = countingCache{m: cache.m}
	_, second := walkT(t, []string{root}, opts)
	if cache.hits != nfiles || cache.stores != 0 {
		t.Fatalf("second walk: %d hits, %d stores, want %d hits and 0 stores", cache.hits, cache.stores, nfiles)
	}
	if second.Root() != first.Root() {
		t.Fatal("unchanged tree, different root")
	}
	// Modify one file (new size and mtime): the root changes and only it
	// is hashed again.
	x := filepath.Join(root, "sub", "deeper", "x.txt")
	must(t, os.WriteFile(x, []byte("hello, world"), 0o644))
	future := time.Now().Add(time.Hour)
	must(t, os.Chtimes(x, future, future))
	*cache = countingCache{m: cache.m}
	_, third := walkT(t, []string{root}, opts)
	if cache.stores != 1 {
		t.Errorf("third walk hashed %d files, want 1", cache.stores)
	}
	if third.Root() == first.Root() {
		t.Fatal("modified file, same root")
	}
	// Without a cache the result is the same as with it.
	_, nocache := walkT(t, []string{root}, WalkOptions{ChunkSize: MinChunkSize})
	if nocache.Root() != third.Root() {
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
	src, m := walkT(t, []string{filepath.Join(dir, "alias")}, WalkOptions{})
	if local, err := src.Local(1); err != nil || local != filepath.Join(dir, "alias", "same") {
		t.Errorf("Local(1) = %q, %v", local, err)
	}
	if e := m.Entries; len(e) != 2 || e[0].Path != "alias" || e[0].Kind != KindDir || e[1].Path != "alias/same" {
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
	_, m := walkT(t, []string{filepath.Join(dir, "t")}, WalkOptions{
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
	if !changed {
		t.Fatal("progress never reported the end of the scan")
	}
	e := m.Entries[1]
	fi, err := os.Stat(f)
	must(t, err)
	if e.Size != 11 || e.MTime != fi.ModTime().UnixNano() || e.Chunks[0] != HashChunk([]byte("version two")) {
		t.Errorf("entry %+v does not describe the hashed version", e)
	}
	if last.Phase != "hash" || last.Bytes != 11 || last.BytesTotal != 11 || last.Files != 1 || last.FilesTotal != 1 {
		t.Errorf("final progress %+v", last)
	}
}

// TestWalkComponentOrder walks real trees whose names sort differently in
// byte order and in component order, given as top-level paths out of order,
// and checks the order and Local of every entry.
func TestWalkComponentOrder(t *testing.T) {
	dir1, dir2, dir3 := t.TempDir(), t.TempDir(), t.TempDir()
	local := map[string]string{} // entry path -> local path
	file := func(base, rel string) {
		writeFile(t, filepath.Join(base, filepath.FromSlash(rel)), []byte(rel))
	}
	for _, rel := range []string{"p/a/x", "p/a/y/z", "p/a-b/y", "p/a.txt", "p/b", "p/a/y.txt"} {
		file(dir1, rel)
	}
	file(dir2, "p-q/r")
	file(dir3, "p.txt")
	want := []string{"p", "p/a", "p/a/x", "p/a/y", "p/a/y/z", "p/a/y.txt", "p/a-b", "p/a-b/y", "p/a.txt", "p/b",
		"p-q", "p-q/r", "p.txt"}
	for _, p := range want {
		base := dir1
		switch {
		case strings.HasPrefix(p, "p-q"):
			base = dir2
		case p == "p.txt":
			base = dir3
		}
		local[p] = filepath.Join(base, filepath.FromSlash(p))
	}
	src, m := walkT(t, []string{filepath.Join(dir3, "p.txt"), filepath.Join(dir1, "p"), filepath.Join(dir2, "p-q")},
		WalkOptions{ChunkSize: MinChunkSize, Workers: 3})
	var paths []string
	for _, e := range m.Entries {
		paths = append(paths, e.Path)
	}
	if !slices.Equal(paths, want) {
		t.Fatalf("paths\n got %q\nwant %q", paths, want)
	}
	if !slices.IsSortedFunc(paths, ComparePaths) {
		t.Fatal("not sorted by ComparePaths")
	}
	for i, e := range m.Entries {
		got, err := src.Local(i)
		if err != nil || got != local[e.Path] {
			t.Errorf("Local(%d) = %q, %v; want %q", i, got, err, local[e.Path])
		}
		if e.Kind == KindFile && (e.Size != int64(len(e.Path)) || e.Chunks[0] != HashChunk([]byte(e.Path))) {
			t.Errorf("%s: wrong size or hash", e.Path)
		}
	}
	if _, err := src.Local(len(m.Entries)); err == nil {
		t.Error("Local past the end succeeded")
	}
}

// TestWalkMemoryDoesNotGrowWithTree walks 50,000 files in 500 directories
// and checks that the live heap, sampled (after a GC) at every progress
// report and after the walk, stays within a bound far below what keeping
// anything per entry would take (the in-memory Walk of version 1 held
// 12.6 MiB more for this tree; this one holds about 0.3 MiB).
func TestWalkMemoryDoesNotGrowWithTree(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 50,000 files")
	}
	// The files are hard links to perDir distinct files (creating an inode
	// costs 50 times more than a link on some machines); to Walk they are
	// 50,000 paths like any others.
	const dirs, perDir = 500, 100
	work := t.TempDir()
	root := filepath.Join(work, "big")
	var size int64
	for f := range perDir {
		writeFile(t, filepath.Join(work, "src", fmt.Sprint(f)), fmt.Appendf(nil, "file %d", f))
	}
	for d := range dirs {
		dir := filepath.Join(root, fmt.Sprintf("dir-%03d", d))
		must(t, os.MkdirAll(dir, 0o755))
		for f := range perDir {
			must(t, os.Link(filepath.Join(work, "src", fmt.Sprint(f)), filepath.Join(dir, fmt.Sprintf("file-%03d.txt", f))))
			size += int64(len(fmt.Sprintf("file %d", f)))
		}
	}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak, samples uint64
	sample := func() {
		runtime.GC()
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
		samples++
	}
	tmp := t.TempDir()
	start := time.Now()
	src, err := Walk(t.Context(), []string{root}, WalkOptions{TempDir: tmp, Progress: func(WalkProgress) { sample() }})
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	sample()
	growth := int64(peak) - int64(base)
	t.Logf("walked %d entries in %v; heap in use: %d KiB before, peak %+d KiB over %d samples",
		src.Table.Len(), took.Round(time.Millisecond), base>>10, growth>>10, samples)
	const bound = 2 << 20
	if growth > bound {
		t.Errorf("heap grew by %d KiB during the walk, bound %d KiB", growth>>10, bound>>10)
	}
	if samples < 3 {
		t.Errorf("only %d samples", samples)
	}
	if src.Table.Len() != 1+dirs+dirs*perDir || src.Table.Files() != dirs*perDir || src.Table.TotalSize() != size {
		t.Fatalf("%d entries, %d files, %d bytes", src.Table.Len(), src.Table.Files(), src.Table.TotalSize())
	}
	if des, _ := os.ReadDir(tmp); len(des) != 0 {
		t.Errorf("temporary files left: %v", des)
	}
	for _, i := range []int{0, 1, 2, 101, 102, src.Table.Len() - 1} {
		e, err := src.Table.Entry(i)
		must(t, err)
		local, err := src.Local(i)
		must(t, err)
		if want := filepath.Join(filepath.Dir(root), filepath.FromSlash(e.Path)); local != want {
			t.Errorf("Local(%d) = %q, want %q", i, local, want)
		}
	}
}

// TestWalkTempFiles checks that Walk leaves no file in TempDir, whether it
// succeeds or fails.
func TestWalkTempFiles(t *testing.T) {
	root := buildTree(t, t.TempDir())
	tmp := t.TempDir()
	empty := func(when string) {
		t.Helper()
		if des, err := os.ReadDir(tmp); err != nil || len(des) != 0 {
			t.Errorf("%s: TempDir holds %v (%v)", when, des, err)
		}
	}
	src, err := Walk(t.Context(), []string{root}, WalkOptions{ChunkSize: MinChunkSize, TempDir: tmp})
	must(t, err)
	empty("while the Source is open")
	if _, err := src.Table.Manifest(); err != nil {
		t.Fatal(err)
	}
	must(t, src.Close())
	empty("after Close")

	ctx, cancel := contextWithCancel(t)
	defer cancel()
	_, err = Walk(ctx, []string{root}, WalkOptions{ChunkSize: MinChunkSize, TempDir: tmp, Cache: cancellingCache(cancel)})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("walk cancelled while hashing: %v", err)
	}
	empty("after a cancelled walk")

	if _, err := Walk(t.Context(), []string{root}, WalkOptions{TempDir: filepath.Join(tmp, "nope")}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing TempDir: %v", err)
	}
}

// cancellingCache is an empty HashCache that cancels a context at the first
// lookup, in the middle of the hash phase.
type cancellingCache context.CancelFunc

func (c cancellingCache) Lookup(FileKey) ([]Hash, bool) { c(); return nil, false }
func (c cancellingCache) Store(FileKey, []Hash)         {}

// TestWalkVanished removes a file and a directory between the scan and the
// hash phase: they are skipped through OnSkip and the walk succeeds.
func TestWalkVanished(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "t")
	for _, rel := range []string{"a", "b", "c", "gone/x", "gone/y", "d/e"} {
		writeFile(t, filepath.Join(root, filepath.FromSlash(rel)), []byte(rel))
	}
	const entries = 9 // t, a, b, c, gone, gone/x, gone/y, d, d/e
	removed := false
	skipped := map[string]error{}
	var last WalkProgress
	_, m := walkT(t, []string{root}, WalkOptions{
		ChunkSize: MinChunkSize,
		OnSkip:    func(local string, err error) { skipped[local] = err },
		Progress: func(p WalkProgress) {
			last = p
			if p.Phase == "scan" && p.Files == entries && !removed {
				removed = true
				must(t, os.Remove(filepath.Join(root, "b")))
				must(t, os.RemoveAll(filepath.Join(root, "gone")))
			}
		},
	})
	if !removed {
		t.Fatal("progress never reported the end of the scan")
	}
	var paths []string
	for _, e := range m.Entries {
		paths = append(paths, e.Path)
	}
	if want := []string{"t", "t/a", "t/c", "t/d", "t/d/e"}; !slices.Equal(paths, want) {
		t.Errorf("paths %q, want %q", paths, want)
	}
	// The names are read when the hash phase reaches their directory, so
	// nothing is left to skip: the walk simply does not see them.
	if len(skipped) != 0 {
		t.Errorf("skipped %v", skipped)
	}
	if last.Phase != "hash" || last.Files != 3 || last.FilesTotal != 3 || last.Bytes != 5 || last.BytesTotal != 5 {
		t.Errorf("final progress %+v", last)
	}

	// A file removed after its directory was read but before it is opened
	// (here: by the cache lookup, which comes just before) is skipped.
	c := filepath.Join(root, "c")
	cache := &removingCache{remove: c}
	_, m = walkT(t, []string{root}, WalkOptions{
		ChunkSize: MinChunkSize,
		Cache:     cache,
		OnSkip:    func(local string, err error) { skipped[local] = err },
		Progress:  func(p WalkProgress) { last = p },
	})
	paths = paths[:0]
	for _, e := range m.Entries {
		paths = append(paths, e.Path)
	}
	if want := []string{"t", "t/a", "t/d", "t/d/e"}; !slices.Equal(paths, want) {
		t.Errorf("paths %q, want %q", paths, want)
	}
	if len(skipped) != 1 || !errors.Is(skipped[c], fs.ErrNotExist) {
		t.Errorf("skipped %v, want %s: not exist", skipped, c)
	}
	if last.Files != 2 || last.FilesTotal != 2 || last.Bytes != 4 || last.BytesTotal != 4 {
		t.Errorf("final progress %+v", last)
	}
}

// TestWalkSwappedForSymlink replaces a file by a symlink after the walk
// lstat'ed it and before it is opened (from the cache lookup): the walk
// must not follow it.
func TestWalkSwappedForSymlink(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(dir, "secret")
	writeFile(t, outside, []byte("secret"))
	f := filepath.Join(dir, "t", "f")
	writeFile(t, f, []byte("f"))
	cache := &swappingCache{path: f, target: outside}
	_, err := Walk(t.Context(), []string{filepath.Join(dir, "t")}, WalkOptions{Cache: cache})
	if !errors.Is(err, ErrFileChanged) {
		t.Fatalf("err = %v, want ErrFileChanged", err)
	}
}

// swappingCache is an empty HashCache that replaces one file by a symlink
// when asked for it.
type swappingCache struct{ path, target string }

func (c *swappingCache) Lookup(k FileKey) ([]Hash, bool) {
	if k.Path == c.path {
		os.Remove(c.path)
		os.Symlink(c.target, c.path)
	}
	return nil, false
}

func (c *swappingCache) Store(FileKey, []Hash) {}

// removingCache is an empty HashCache that removes one file when asked for it.
type removingCache struct{ remove string }

func (c *removingCache) Lookup(k FileKey) ([]Hash, bool) {
	if k.Path == c.remove {
		os.Remove(k.Path)
	}
	return nil, false
}

func (c *removingCache) Store(FileKey, []Hash) {}

// TestWalkFileChanged walks a file whose contents do not match its stat
// (a /proc file has size 0 but yields bytes), as if it grew while hashed.
func TestWalkFileChanged(t *testing.T) {
	const f = "/proc/version"
	if fi, err := os.Stat(f); err != nil || !fi.Mode().IsRegular() || fi.Size() != 0 {
		t.Skipf("%s: %v", f, err)
	}
	tmp := t.TempDir()
	if _, err := Walk(t.Context(), []string{f}, WalkOptions{TempDir: tmp}); !errors.Is(err, ErrFileChanged) {
		t.Fatalf("err = %v, want ErrFileChanged", err)
	}
	if des, _ := os.ReadDir(tmp); len(des) != 0 {
		t.Errorf("temporary files left: %v", des)
	}
}

// TestWalkReportsSpecialFiles: a FIFO and a socket inside a tree are left
// out, and each reaches OnSkip saying what it is.
func TestWalkReportsSpecialFiles(t *testing.T) {
	dir, err := os.MkdirTemp("", "pcpw") // short: a socket path has ~100 bytes
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	root := filepath.Join(dir, "t")
	writeFile(t, filepath.Join(root, "f"), []byte("x"))
	mkfifo(t, filepath.Join(root, "p"))
	ln, err := net.Listen("unix", filepath.Join(root, "s"))
	must(t, err)
	defer ln.Close()
	skipped := map[string]string{}
	_, m := walkT(t, []string{root}, WalkOptions{OnSkip: func(local string, err error) {
		if !errors.Is(err, ErrSpecialFile) {
			t.Errorf("%s skipped for %v, want ErrSpecialFile", local, err)
		}
		skipped[filepath.Base(local)] = err.Error()
	}})
	if !strings.Contains(skipped["p"], "a FIFO") || !strings.Contains(skipped["s"], "a socket") || len(skipped) != 2 {
		t.Errorf("skipped %q, want p (a FIFO) and s (a socket)", skipped)
	}
	if len(m.Entries) != 2 || m.Entries[1].Path != "t/f" {
		t.Errorf("entries %+v, want t and t/f", m.Entries)
	}
}

// TestWalkNothingToSend: when every path is skipped the walk fails with
// ErrNothingToSend instead of offering "0 files, 0 B"; an empty directory
// is still something to send.
func TestWalkNothingToSend(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	mkfifo(t, fifo)
	var skipped []string
	_, err := Walk(context.Background(), []string{fifo}, WalkOptions{OnSkip: func(local string, _ error) { skipped = append(skipped, local) }})
	if !errors.Is(err, ErrNothingToSend) {
		t.Fatalf("walk of a lone FIFO: err = %v, want ErrNothingToSend", err)
	}
	if !slices.Equal(skipped, []string{fifo}) {
		t.Errorf("skipped %q, want the FIFO", skipped)
	}
	empty := filepath.Join(dir, "empty")
	must(t, os.Mkdir(empty, 0o755))
	src, err := Walk(context.Background(), []string{empty}, WalkOptions{})
	if err != nil {
		t.Fatalf("walk of an empty directory: %v", err)
	}
	src.Close()
}
