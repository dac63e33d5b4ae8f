package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// linkTree makes n files in directories of 100: 100 distinct 100-byte
// files and hard links to them (creating inodes costs ~0.3-0.7 ms each on
// this machine's ext4; a link costs ~13 µs). The receiver still creates n
// distinct files.
func linkTree(t testing.TB, dir string, n int) string {
	t.Helper()
	root := filepath.Join(dir, "many")
	for i := 0; i < n; i++ {
		p := filepath.Join(root, fmt.Sprintf("d%04d", i/100), fmt.Sprintf("f%06d", i))
		if i < 100 {
			writeFile(t, p, []byte(fmt.Sprintf("%0100d", i)))
			continue
		}
		if i%100 == 0 {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Link(filepath.Join(root, "d0000", fmt.Sprintf("f%06d", i%100)), p); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// offerHeap sends a tree of n files to a new destination, both peers in
// this process, and returns the live heap when the receiver is asked to
// accept: the sender has walked and hashed the tree, the receiver has
// decoded the manifest and planned against its destination. That is where
// the old design held its per-file state (~200 B per file on each side);
// what is allocated later per stream (chunk buffers, zstd state) would
// only make the figure depend on GC timing. The transfer then completes.
func offerHeap(t *testing.T, n int) uint64 {
	dir := t.TempDir()
	src := linkTree(t, dir, n)
	pass := testPass(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	addrs, res := startSender(t, ctx, SendOptions{Paths: []string{src}, Passphrase: pass})
	ro := recvOpts(pass, filepath.Join(dir, "out"), addrs)
	ro.ResumeLogPath = filepath.Join(dir, "state", "resume.db")
	var heap uint64
	peakOpen := -1
	ro.runDone = func(r *receiver) {
		r.files.mu.Lock()
		peakOpen = r.files.peak
		r.files.mu.Unlock()
	}
	ro.Confirm = func(o Offer) bool {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heap = ms.HeapAlloc
		return o.Files == n
	}
	sum, err := Receive(ctx, ro)
	if err != nil {
		t.Fatal(err)
	}
	if r := <-res; r.err != nil {
		t.Fatalf("sender: %v", r.err)
	}
	if sum.Files != n || sum.FetchedBytes != int64(n)*100 {
		t.Fatalf("received %d files, %d bytes; want %d, %d", sum.Files, sum.FetchedBytes, n, n*100)
	}
	// Files in flight are bounded by the window (each ref weighs at least
	// minRefCost: 4,096 refs in the default window) plus what waits to be
	// committed (the commit and ready channels, one commit batch) and what
	// the feeder prepared ahead (feedAhead refs): 7,425 in all. Charged
	// only their 100 bytes, every file of the tree was in flight at once.
	const bound = 16_384
	t.Logf("%d files: at most %d in flight at once (bound %d)", n, peakOpen, bound)
	if peakOpen < 1 || peakOpen > bound {
		t.Errorf("%d files in flight at once; the bound is %d", peakOpen, bound)
	}
	return heap
}

// TestMemoryDoesNotGrowWithFileCount moves 2,000 and then 40,000 files and
// compares the live heap at the offer (sender and receiver together), and
// bounds the files the receiver holds in flight during the transfer. With
// manifests in memory the larger one held ~15 MB more; now only the plan's
// byte per entry grows with the count.
func TestMemoryDoesNotGrowWithFileCount(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 42,000 files")
	}
	small := offerHeap(t, 2_000)
	large := offerHeap(t, 40_000)
	t.Logf("live heap at the offer: 2,000 files %.2f MiB, 40,000 files %.2f MiB", float64(small)/(1<<20), float64(large)/(1<<20))
	if large > small+2<<20 {
		t.Fatalf("live heap at the offer grew by %.2f MiB from 2,000 to 40,000 files", float64(large-small)/(1<<20))
	}
}
