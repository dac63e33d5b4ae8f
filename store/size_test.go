package store

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zeebo/blake3"
	bolt "go.etcd.io/bbolt"

	"github.com/pcp-p2p/pcp/manifest"
)

// TestResumeLogMillionFiles begins a manifest of a million files (10,000
// directories of 100), then marks every file's chunk done and the file
// complete in batches of 256, as the engine does, and reads the manifest
// back. The file must stay the manifest plus a little, and neither the Go
// heap nor (on Linux) the mapped pages of the file may grow with the
// number of files.
func TestResumeLogMillionFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("a million files")
	}
	const batch = 256
	s := newSynthManifest(t, 10_000, 100)
	root := s.Root()
	path := logPath(t)
	// Durability is not what this test is about: the crash tests cover it.
	l := openLog(t, path, ResumeLogOptions{NoSync: true})

	hs := startHeapSampler()
	live := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	base := live()
	var maxLive uint64
	check := func() {
		if v := live(); v > base {
			maxLive = max(maxLive, v-base)
		}
	}

	rss0 := rssFile()
	t0 := time.Now()
	begin(t, l, s, "/big")
	tBegin := time.Since(t0)
	check()
	rssBegin := rssFile() - rss0

	t0 = time.Now()
	refs := make([]ChunkRef, 0, batch)
	ids := make([]uint32, 0, batch)
	flush := func() {
		if err := l.MarkDone(root, refs); err != nil {
			t.Fatal(err)
		}
		if err := l.MarkFileComplete(root, ids); err != nil {
			t.Fatal(err)
		}
		refs, ids = refs[:0], ids[:0]
	}
	batches := 0
	for i := range s.Len() {
		if !s.isFile(i) {
			continue
		}
		refs = append(refs, ChunkRef{Entry: uint32(i)})
		ids = append(ids, uint32(i))
		if len(ids) == batch {
			flush()
			if batches++; batches%256 == 0 {
				check()
			}
		}
	}
	flush()
	tMark := time.Since(t0)
	check()
	rssMark := rssFile() - rss0

	info, err := l.Info(root)
	if err != nil {
		t.Fatal(err)
	}
	if info.DoneBytes != info.TotalBytes || info.DoneChunks != info.TotalChunks || info.Files != 1_000_000 {
		t.Fatalf("all complete: %+v", info)
	}
	rt := raw(t, l, root)
	if rt.intervals != 1 || rt.chunkKeys != 0 {
		t.Fatalf("%d intervals (want 1: the directories are bridged), %d chunk sets", rt.intervals, rt.chunkKeys)
	}
	var used int64
	var free int
	l.db.View(func(tx *bolt.Tx) error { used = tx.Size(); return nil })
	free = l.db.Stats().FreePageN
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}

	// Read it back whole; the pages read must not stay mapped.
	rssBefore := rssFile()
	t0 = time.Now()
	h := blake3.New()
	err = l.ReadManifest(root, func(r io.Reader) error {
		_, err := io.Copy(h, r)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	tRead := time.Since(t0)
	rssRead := rssFile() - rssBefore
	check()
	var got manifest.Hash
	h.Sum(got[:0])
	if got != root {
		t.Fatal("the manifest read back does not hash to its root")
	}
	peak := hs.stop()

	t.Logf("manifest: %d entries, %.1f MiB encoded", s.Len(), mib(s.encSize))
	t.Logf("db: %.1f MiB used (%d free pages), file %.1f MiB", mib(used), free, mib(fi.Size()))
	t.Logf("time: Begin %v, %d MarkDone+MarkFileComplete batches %v, ReadManifest %v", tBegin.Round(time.Millisecond), batches+1, tMark.Round(time.Millisecond), tRead.Round(time.Millisecond))
	t.Logf("heap: live at most %.1f MiB above the start, peak HeapAlloc %.1f MiB", mib(int64(maxLive)), mib(int64(peak)))
	t.Logf("RssFile: +%.1f MiB after Begin, +%.1f MiB after the batches, +%.1f MiB more reading the manifest", mib(rssBegin), mib(rssMark), mib(rssRead))

	if used > s.encSize+4<<20 {
		t.Errorf("the log uses %.1f MiB for a manifest of %.1f MiB", mib(used), mib(s.encSize))
	}
	if maxLive > 16<<20 {
		t.Errorf("live heap grew by %.1f MiB", mib(int64(maxLive)))
	}
	if peak > 64<<20 {
		t.Errorf("peak heap %.1f MiB", mib(int64(peak)))
	}
	if runtime.GOOS == "linux" && rssRead > 16<<20 {
		t.Errorf("reading the manifest left %.1f MiB of the file mapped", mib(rssRead))
	}
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// rssFile returns the process's file-backed resident memory (Linux; 0
// elsewhere).
func rssFile() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "RssFile:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// heapSampler records the largest HeapAlloc seen every few milliseconds.
type heapSampler struct {
	done chan struct{}
	wg   sync.WaitGroup
	peak uint64
}

func startHeapSampler() *heapSampler {
	hs := &heapSampler{done: make(chan struct{})}
	hs.wg.Add(1)
	go func() {
		defer hs.wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			hs.peak = max(hs.peak, ms.HeapAlloc)
			select {
			case <-hs.done:
				return
			case <-tick.C:
			}
		}
	}()
	return hs
}

func (hs *heapSampler) stop() uint64 {
	close(hs.done)
	hs.wg.Wait()
	return hs.peak
}

// TestHashCacheLookupsDoNotStayMapped fills a hash cache with 200,000
// records (a file of about 70 MiB), then looks every one up in path order,
// as a re-walk does, and prunes with nothing to prune (a full scan). On
// Linux neither may leave the file mapped: without the periodic drops
// (dropEvery) the lookups alone left the whole file resident, +339 MiB for
// a million records.
func TestHashCacheLookupsDoNotStayMapped(t *testing.T) {
	if testing.Short() {
		t.Skip("200,000 records")
	}
	if runtime.GOOS != "linux" {
		t.Skip("RssFile is read from /proc (Linux)")
	}
	const n = 200_000
	key := func(i int) manifest.FileKey {
		return manifest.FileKey{
			Path: fmt.Sprintf("/home/user/data/projects/archive-2024/d%04d/file-%07d-part.dat", i/1000, i),
			Size: 5000, MTime: 1_700_000_000_000_000_000 + int64(i), Inode: uint64(1000 + i), Dev: 42, ChunkSize: testChunk,
		}
	}
	path := cachePath(t)
	c := openCache(t, path, HashCacheOptions{})
	for i := range n {
		c.Store(key(i), []manifest.Hash{{byte(i)}})
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	c = openCache(t, path, HashCacheOptions{})
	rss0 := rssFile()
	for i := range n {
		h, ok := c.Lookup(key(i))
		if !ok || h[0] != (manifest.Hash{byte(i)}) {
			t.Fatalf("record %d: %v %v", i, ok, h)
		}
	}
	rssLookups := rssFile() - rss0
	if np, err := c.Prune(time.Unix(0, 0)); err != nil || np != 0 {
		t.Fatalf("prune: %d, %v", np, err)
	}
	rssPrune := rssFile() - rss0
	t.Logf("file %.1f MiB; RssFile +%.1f MiB after %d lookups, +%.1f MiB after a prune scan", mib(fi.Size()), mib(rssLookups), n, mib(rssPrune))
	if fi.Size() < 48<<20 {
		t.Fatalf("the file is only %.1f MiB: too small to show anything", mib(fi.Size()))
	}
	if rssLookups > 16<<20 || rssPrune > 16<<20 {
		t.Errorf("the cache file stayed mapped: +%.1f MiB after lookups, +%.1f MiB after prune", mib(rssLookups), mib(rssPrune))
	}
}
