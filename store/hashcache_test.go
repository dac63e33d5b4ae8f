package store

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pcp-p2p/pcp/manifest"
)

func openCache(tb testing.TB, path string, opts HashCacheOptions) *HashCache {
	tb.Helper()
	c, err := OpenHashCacheWith(path, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

func cachePath(tb testing.TB) string {
	return filepath.Join(tb.TempDir(), "cache", "hashes.db")
}

func testKey(i int) manifest.FileKey {
	return manifest.FileKey{
		Path: fmt.Sprintf("/src/dir/file%07d", i), Size: 3*testChunk + 5, MTime: 1_700_000_000_000_000_000 + int64(i),
		Inode: uint64(1000 + i), Dev: 42, ChunkSize: testChunk,
	}
}

func testHashes(i int) []manifest.Hash {
	h := make([]manifest.Hash, 4)
	for c := range h {
		h[c][0], h[c][1], h[c][2] = byte(i), byte(i>>8), byte(c)
	}
	return h
}

func TestHashCacheHitAndMissPerField(t *testing.T) {
	path := cachePath(t)
	c := openCache(t, path, HashCacheOptions{})
	k, h := testKey(1), testHashes(1)
	if _, ok := c.Lookup(k); ok {
		t.Fatal("hit in an empty cache")
	}
	c.Store(k, h)
	check := func(c *HashCache, stage string) {
		t.Helper()
		got, ok := c.Lookup(k)
		if !ok || !slices.Equal(got, h) {
			t.Fatalf("%s: Lookup = %v, %v", stage, ok, got)
		}
		got[0][0] ^= 0xff // the caller owns the slice
		if again, _ := c.Lookup(k); !slices.Equal(again, h) {
			t.Fatalf("%s: mutating a returned slice changed the cache", stage)
		}
		changed := map[string]func(*manifest.FileKey){
			"path":      func(k *manifest.FileKey) { k.Path += "x" },
			"size":      func(k *manifest.FileKey) { k.Size++ },
			"mtime":     func(k *manifest.FileKey) { k.MTime++ },
			"inode":     func(k *manifest.FileKey) { k.Inode++ },
			"dev":       func(k *manifest.FileKey) { k.Dev++ },
			"chunkSize": func(k *manifest.FileKey) { k.ChunkSize *= 2 },
		}
		for field, change := range changed {
			k2 := k
			change(&k2)
			if _, ok := c.Lookup(k2); ok {
				t.Errorf("%s: hit although %s changed", stage, field)
			}
		}
	}
	check(c, "pending")
	if s := c.Stats(); s.Pending != 1 || s.Commits != 0 {
		t.Fatalf("store was not held pending: %+v", s)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	check(c, "committed")
	// A new Store of the same path replaces the record.
	k3 := k
	k3.MTime++
	c.Store(k3, testHashes(3))
	if _, ok := c.Lookup(k); ok {
		t.Fatal("old version still hits after a new Store")
	}
	if got, ok := c.Lookup(k3); !ok || !slices.Equal(got, testHashes(3)) {
		t.Fatal("new version misses")
	}
	c.Store(k, h)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c = openCache(t, path, HashCacheOptions{})
	check(c, "reopened")
}

func TestHashCacheRejectsBadStores(t *testing.T) {
	c := openCache(t, cachePath(t), HashCacheOptions{})
	k := testKey(1)
	c.Store(k, testHashes(1)[:3]) // wrong number of hashes for the size
	if _, ok := c.Lookup(k); ok {
		t.Fatal("a store with the wrong hash count hits")
	}
	empty := manifest.FileKey{Path: "/src/empty", ChunkSize: testChunk, Inode: 9}
	c.Store(empty, nil)
	if got, ok := c.Lookup(empty); !ok || len(got) != 0 {
		t.Fatalf("empty file: %v %v", got, ok)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, ok := c.Lookup(empty); !ok || len(got) != 0 {
		t.Fatalf("empty file after flush: %v %v", got, ok)
	}
	if c.Err() != nil {
		t.Fatalf("Err = %v", c.Err())
	}
}

func TestHashCacheBatchesWrites(t *testing.T) {
	const n, batch = 100_000, 4096
	path := cachePath(t)
	c := openCache(t, path, HashCacheOptions{BatchSize: batch})
	var wg sync.WaitGroup
	for w := range 2 { // Walk stores from several goroutines
		wg.Go(func() {
			for i := w; i < n; i += 2 {
				c.Store(testKey(i), testHashes(i))
			}
		})
	}
	wg.Wait()
	s := c.Stats()
	if s.Stores != n || s.Commits != n/batch {
		t.Fatalf("after %d stores: %+v, want %d commits", n, s, n/batch)
	}
	// Pending entries are visible before the final flush.
	if s.Pending != n%batch {
		t.Fatalf("pending %d, want %d", s.Pending, n%batch)
	}
	if got, ok := c.Lookup(testKey(n - 1)); !ok || !slices.Equal(got, testHashes(n-1)) {
		t.Fatal("pending entry not visible to Lookup")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if s := c.Stats(); s.Commits != n/batch+1 {
		t.Fatalf("Close did not flush once: %+v", s)
	}
	c = openCache(t, path, HashCacheOptions{})
	for _, i := range []int{0, 1, batch - 1, batch, n / 2, n - 1} {
		if got, ok := c.Lookup(testKey(i)); !ok || !slices.Equal(got, testHashes(i)) {
			t.Fatalf("entry %d lost across reopen", i)
		}
	}
}

func TestHashCachePrune(t *testing.T) {
	clk := newClock()
	c := openCache(t, cachePath(t), HashCacheOptions{Now: clk.Now})
	for i := range 10 {
		c.Store(testKey(i), testHashes(i))
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	stored := clk.t
	clk.t = clk.t.Add(2 * touchAfter)
	// Hits on 0..2 refresh lastUsed (held pending until a flush).
	for i := range 3 {
		if _, ok := c.Lookup(testKey(i)); !ok {
			t.Fatalf("miss on %d", i)
		}
	}
	if s := c.Stats(); s.Pending != 3 {
		t.Fatalf("hits queued %d refreshes, want 3", s.Pending)
	}
	c.Store(testKey(20), testHashes(20)) // pending: Prune flushes first
	n, err := c.Prune(stored.Add(touchAfter))
	if err != nil {
		t.Fatal(err)
	}
	if n != 7 {
		t.Fatalf("pruned %d, want 7", n)
	}
	for i, want := range map[int]bool{0: true, 2: true, 3: false, 9: false, 20: true} {
		if _, ok := c.Lookup(testKey(i)); ok != want {
			t.Errorf("after prune, entry %d present = %v, want %v", i, ok, want)
		}
	}
	if n, err := c.Prune(clk.t.Add(time.Hour)); err != nil || n != 4 { // 0, 1, 2 and 20
		t.Fatalf("pruning everything: %d, %v", n, err)
	}
}

func TestHashCacheLockedAndClosed(t *testing.T) {
	path := cachePath(t)
	c := openCache(t, path, HashCacheOptions{})
	if _, err := OpenHashCache(path); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
	// The resume log and the cache are separate files: both open at once.
	l, err := OpenResumeLog(filepath.Join(filepath.Dir(path), "resume.db"))
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	c2 := openCache(t, path, HashCacheOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	c2.Close()
	c2.Store(testKey(1), testHashes(1))
	if _, ok := c2.Lookup(testKey(1)); ok {
		t.Fatal("closed cache hits")
	}
	if c2.Err() == nil {
		t.Fatal("a store after Close was not reported by Err")
	}
}

func BenchmarkHashCacheStore(b *testing.B) {
	c := openCache(b, cachePath(b), HashCacheOptions{})
	h := testHashes(0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Store(testKey(i), h)
	}
	if err := c.Flush(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "stores/s")
}
