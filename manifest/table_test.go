package manifest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
)

// newTestTable is NewTable of m in a test directory, closed at the end.
func newTestTable(tb testing.TB, m *Manifest) *Table {
	tb.Helper()
	t, err := NewTable(m, tb.TempDir())
	if err != nil {
		tb.Fatalf("NewTable: %v", err)
	}
	tb.Cleanup(func() { t.Close() })
	return t
}

// withoutChunks returns e with Chunks nil, as Table.Entry gives it.
func withoutChunks(e Entry) Entry {
	e.Chunks = nil
	return e
}

// TestTableKnownAnswers checks every accessor on a small manifest.
func TestTableKnownAnswers(t *testing.T) {
	h := func(s string) Hash { return HashChunk([]byte(s)) }
	m := &Manifest{ChunkSize: MinChunkSize, Entries: []Entry{
		{Path: "d", Kind: KindDir, Mode: 0o755, MTime: 1},
		{Path: "d/big", Kind: KindFile, Mode: 0o644, MTime: 2, Size: 2*MinChunkSize + 1, Chunks: []Hash{h("0"), h("1"), h("2")}},
		{Path: "d/e", Kind: KindDir, Mode: 0o700},
		{Path: "d/e/l", Kind: KindSymlink, Target: "../big"},
		{Path: "d/empty", Kind: KindFile, Mode: 0o600},
		{Path: "d.txt", Kind: KindFile, Mode: 0o644, MTime: -3, Size: 3, Chunks: []Hash{h("abc")}},
	}}
	tab := newTestTable(t, m)
	enc := encodeBytes(t, m)
	if tab.Root() != m.Root() || tab.Root() != HashChunk(enc) {
		t.Errorf("Root %s, want %s", tab.Root().Short(), m.Root().Short())
	}
	got := []int64{int64(tab.ChunkSize()), int64(tab.Len()), tab.Files(), tab.Dirs(), tab.TotalSize(), tab.TotalChunks(), tab.EncodedSize()}
	want := []int64{MinChunkSize, 6, 3, 2, 2*MinChunkSize + 4, 4, int64(len(enc))}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("chunk size, len, files, dirs, size, chunks, encoded size = %v, want %v", got, want)
	}
	for _, i := range []int{0, 1, 2, 3, 4, 5, 5, 3, 0} {
		e, err := tab.Entry(i)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(e, withoutChunks(m.Entries[i])) {
			t.Errorf("Entry(%d) = %+v, want %+v", i, e, withoutChunks(m.Entries[i]))
		}
		for c, want := range m.Entries[i].Chunks {
			if got, err := tab.ChunkHash(i, int64(c)); err != nil || got != want {
				t.Errorf("ChunkHash(%d, %d) = %s, %v; want %s", i, c, got.Short(), err, want.Short())
			}
		}
		if _, err := tab.ChunkHash(i, int64(len(m.Entries[i].Chunks))); !errors.Is(err, ErrRange) {
			t.Errorf("ChunkHash(%d, count) = %v, want ErrRange", i, err)
		}
		if _, err := tab.ChunkHash(i, -1); !errors.Is(err, ErrRange) {
			t.Errorf("ChunkHash(%d, -1) = %v, want ErrRange", i, err)
		}
	}
	for _, i := range []int{-1, 6, 1 << 40} {
		if _, err := tab.Entry(i); !errors.Is(err, ErrRange) {
			t.Errorf("Entry(%d) = %v, want ErrRange", i, err)
		}
		if _, err := tab.ChunkHash(i, 0); !errors.Is(err, ErrRange) {
			t.Errorf("ChunkHash(%d, 0) = %v, want ErrRange", i, err)
		}
	}
	b, err := io.ReadAll(tab.Encoding())
	if err != nil || !bytes.Equal(b, enc) {
		t.Errorf("Encoding: %v, equal %v", err, bytes.Equal(b, enc))
	}
	var scanned []Entry
	must(t, tab.Scan(t.Context(), func(i int, e *Entry) error {
		if i != len(scanned) {
			t.Errorf("Scan index %d, want %d", i, len(scanned))
		}
		scanned = append(scanned, *e)
		return nil
	}))
	for i := range m.Entries {
		if !reflect.DeepEqual(scanned[i], withoutChunks(m.Entries[i])) {
			t.Errorf("Scan entry %d = %+v", i, scanned[i])
		}
	}
	got2, err := tab.Manifest()
	if err != nil || !reflect.DeepEqual(got2, m) {
		t.Errorf("Manifest() = %+v, %v", got2, err)
	}
}

// TestTableEmpty checks a manifest of no entries.
func TestTableEmpty(t *testing.T) {
	tab := newTestTable(t, &Manifest{ChunkSize: DefaultChunkSize})
	if tab.Len() != 0 || tab.EncodedSize() != headerLen+9 {
		t.Fatalf("Len %d, EncodedSize %d", tab.Len(), tab.EncodedSize())
	}
	if _, err := tab.Entry(0); !errors.Is(err, ErrRange) {
		t.Errorf("Entry(0) = %v", err)
	}
	must(t, tab.Scan(t.Context(), func(int, *Entry) error { t.Error("Scan called fn"); return nil }))
	m, err := tab.Manifest()
	if err != nil || len(m.Entries) != 0 || m.ChunkSize != DefaultChunkSize {
		t.Errorf("Manifest() = %+v, %v", m, err)
	}
}

// TestTableRoundTrip checks Manifest -> NewTable -> Manifest, and random
// access and Scan against the manifest in memory.
func TestTableRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	dir := t.TempDir()
	for k := range 100 {
		m := randManifest(t, rng, rng.IntN(300))
		tab, err := NewTable(m, dir)
		if err != nil {
			t.Fatalf("case %d: %v", k, err)
		}
		got, err := tab.Manifest()
		if err != nil {
			t.Fatalf("case %d: Manifest: %v", k, err)
		}
		if len(m.Entries) == 0 {
			m.Entries = nil
		}
		if !reflect.DeepEqual(got, m) || tab.Root() != m.Root() {
			t.Fatalf("case %d: round trip differs", k)
		}
		if tab.Len() != len(m.Entries) || tab.Files() != int64(m.Files()) || tab.TotalSize() != m.TotalSize() || tab.TotalChunks() != m.TotalChunks() {
			t.Fatalf("case %d: totals", k)
		}
		for range 2 * len(m.Entries) {
			i := rng.IntN(len(m.Entries))
			e, err := tab.Entry(i)
			if err != nil || !reflect.DeepEqual(e, withoutChunks(m.Entries[i])) {
				t.Fatalf("case %d: Entry(%d) = %+v, %v; want %+v", k, i, e, err, m.Entries[i])
			}
			if cs := m.Entries[i].Chunks; len(cs) > 0 {
				c := rng.IntN(len(cs))
				if h, err := tab.ChunkHash(i, int64(c)); err != nil || h != cs[c] {
					t.Fatalf("case %d: ChunkHash(%d, %d) = %s, %v", k, i, c, h.Short(), err)
				}
			}
		}
		n := 0
		must(t, tab.Scan(t.Context(), func(i int, e *Entry) error {
			if i != n || !reflect.DeepEqual(*e, withoutChunks(m.Entries[i])) {
				t.Fatalf("case %d: Scan entry %d = %+v", k, i, *e)
			}
			n++
			return nil
		}))
		if n != len(m.Entries) {
			t.Fatalf("case %d: Scan saw %d entries, want %d", k, n, len(m.Entries))
		}
		must(t, tab.Close())
	}
}

// TestTableManyChunks reads the hashes of a file of many chunks (96 KB of
// them) in order, backwards and at random, across the hash block's
// boundaries, and scans past them.
func TestTableManyChunks(t *testing.T) {
	const n = 3000
	e := Entry{Path: "f", Kind: KindFile, Size: n*MinChunkSize - 7}
	for c := range n {
		e.Chunks = append(e.Chunks, HashChunk([]byte(itoa(c))))
	}
	m := &Manifest{ChunkSize: MinChunkSize, Entries: []Entry{{Path: "a", Kind: KindFile}, e, {Path: "g", Kind: KindFile, Size: 1, Chunks: []Hash{{1}}}}}
	tab := newTestTable(t, m)
	rng := rand.New(rand.NewPCG(1, 1))
	order := make([]int, 0, 3*n)
	for c := range n {
		order = append(order, c)
	}
	for c := range n {
		order = append(order, n-1-c)
	}
	for range n {
		order = append(order, rng.IntN(n))
	}
	for _, c := range order {
		if h, err := tab.ChunkHash(1, int64(c)); err != nil || h != e.Chunks[c] {
			t.Fatalf("ChunkHash(1, %d) = %s, %v", c, h.Short(), err)
		}
		if c%97 == 0 { // interleave the neighbours' hashes
			if h, err := tab.ChunkHash(2, 0); err != nil || h != (Hash{1}) {
				t.Fatalf("ChunkHash(2, 0) = %s, %v", h.Short(), err)
			}
		}
	}
	var paths []string
	must(t, tab.Scan(t.Context(), func(i int, e *Entry) error {
		if !reflect.DeepEqual(*e, withoutChunks(m.Entries[i])) {
			t.Errorf("Scan entry %d = %+v", i, *e)
		}
		paths = append(paths, e.Path)
		return nil
	}))
	if len(paths) != 3 {
		t.Errorf("Scan saw %q", paths)
	}
}

// TestTableConcurrent uses one table from many goroutines (run with -race).
func TestTableConcurrent(t *testing.T) {
	m := randManifest(t, rand.New(rand.NewPCG(9, 9)), 2000)
	tab := newTestTable(t, m)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for k := range 3000 {
				i := rng.IntN(len(m.Entries))
				if g%2 == 0 {
					i = (g*977 + k) % len(m.Entries) // sequential runs
				}
				e, err := tab.Entry(i)
				if err != nil || !reflect.DeepEqual(e, withoutChunks(m.Entries[i])) {
					errs <- fmt.Errorf("Entry(%d) = %+v, %v", i, e, err)
					return
				}
				for c, want := range m.Entries[i].Chunks {
					if h, err := tab.ChunkHash(i, int64(c)); err != nil || h != want {
						errs <- fmt.Errorf("ChunkHash(%d, %d) = %s, %v", i, c, h.Short(), err)
						return
					}
				}
			}
		})
	}
	wg.Go(func() {
		n := 0
		err := tab.Scan(context.Background(), func(i int, e *Entry) error {
			if e.Path != m.Entries[i].Path {
				return fmt.Errorf("Scan entry %d: %q", i, e.Path)
			}
			n++
			return nil
		})
		if err != nil || n != len(m.Entries) {
			errs <- fmt.Errorf("Scan: %d entries, %v", n, err)
		}
	})
	wg.Go(func() {
		if b, err := io.ReadAll(tab.Encoding()); err != nil || HashChunk(b) != tab.Root() {
			errs <- fmt.Errorf("Encoding: %v", err)
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestScanStops checks that Scan returns fn's error and ctx's.
func TestScanStops(t *testing.T) {
	tab := newTestTable(t, randManifest(t, rand.New(rand.NewPCG(1, 3)), 3000))
	stop := errors.New("stop")
	n := 0
	if err := tab.Scan(t.Context(), func(i int, _ *Entry) error {
		n++
		if i == 10 {
			return stop
		}
		return nil
	}); !errors.Is(err, stop) || n != 11 {
		t.Errorf("Scan = %v after %d calls, want stop after 11", err, n)
	}
	ctx, cancel := context.WithCancel(t.Context())
	n = 0
	err := tab.Scan(ctx, func(i int, _ *Entry) error {
		n++
		if i == 5 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || n >= tab.Len() {
		t.Errorf("Scan = %v after %d calls, want context.Canceled early", err, n)
	}
}

// fdsIn returns the open descriptors of this process whose file was in dir
// (unlinked or not). It skips the test where /proc/self/fd is missing.
func fdsIn(tb testing.TB, dir string) int {
	tb.Helper()
	des, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		tb.Skipf("no /proc/self/fd: %v", err)
	}
	n := 0
	for _, de := range des {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", de.Name()))
		if err == nil && strings.HasPrefix(target, dir+string(filepath.Separator)) {
			n++
		}
	}
	return n
}

// TestTableFiles checks that the files are unlinked at once and closed by
// Close, or by a failed DecodeTable.
func TestTableFiles(t *testing.T) {
	dir := t.TempDir()
	m := randManifest(t, rand.New(rand.NewPCG(4, 4)), 100)
	enc := encodeBytes(t, m)
	tab, err := DecodeTable(bytes.NewReader(enc), dir, Limits{})
	must(t, err)
	if des, err := os.ReadDir(dir); err != nil || len(des) != 0 {
		t.Errorf("dir holds %v (%v) after DecodeTable, want nothing", des, err)
	}
	if n := fdsIn(t, dir); n != 2 {
		t.Errorf("%d descriptors open in dir, want 2", n)
	}
	must(t, tab.Close())
	if n := fdsIn(t, dir); n != 0 {
		t.Errorf("%d descriptors open in dir after Close", n)
	}
	must(t, tab.Close())
	if _, err := tab.Entry(0); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Entry after Close = %v, want os.ErrClosed", err)
	}
	if _, err := tab.ChunkHash(0, 0); !errors.Is(err, os.ErrClosed) {
		t.Errorf("ChunkHash after Close = %v, want os.ErrClosed", err)
	}
	if err := tab.Scan(t.Context(), func(int, *Entry) error { return nil }); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Scan after Close = %v, want os.ErrClosed", err)
	}

	// A failure releases the files too.
	if _, err := DecodeTable(bytes.NewReader(enc[:len(enc)-1]), dir, Limits{}); !errors.Is(err, ErrMalformed) {
		t.Errorf("truncated: %v", err)
	}
	if n := fdsIn(t, dir); n != 0 {
		t.Errorf("%d descriptors open in dir after a failed DecodeTable", n)
	}
	if _, err := DecodeTable(bytes.NewReader(enc), filepath.Join(dir, "missing"), Limits{}); err == nil {
		t.Error("DecodeTable into a missing dir succeeded")
	}
}

// TestDecodeTableStreams checks short reads and that bytes after the
// trailer stay in the reader.
func TestDecodeTableStreams(t *testing.T) {
	m := randManifest(t, rand.New(rand.NewPCG(6, 6)), 200)
	enc := encodeBytes(t, m)
	for name, r := range map[string]io.Reader{
		"half":     iotest.HalfReader(bytes.NewReader(enc)),
		"one byte": iotest.OneByteReader(bytes.NewReader(enc)),
	} {
		tab, err := DecodeTable(r, t.TempDir(), Limits{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if tab.Root() != m.Root() || tab.Len() != len(m.Entries) {
			t.Errorf("%s: root or length differs", name)
		}
		must(t, tab.Close())
	}
	r := bytes.NewReader(append(bytes.Clone(enc), "NEXT"...))
	tab, err := DecodeTable(r, t.TempDir(), Limits{})
	must(t, err)
	defer tab.Close()
	if rest, _ := io.ReadAll(r); string(rest) != "NEXT" {
		t.Fatalf("left %q in the reader, want NEXT", rest)
	}
}

// TestNewTableRefuses checks that NewTable validates, and returns the
// encoder's error for what cannot be encoded.
func TestNewTableRefuses(t *testing.T) {
	unsorted := randManifest(t, rand.New(rand.NewPCG(2, 3)), 500)
	unsorted.Entries[0], unsorted.Entries[len(unsorted.Entries)-1] = unsorted.Entries[len(unsorted.Entries)-1], unsorted.Entries[0]
	big := randManifest(t, rand.New(rand.NewPCG(2, 3)), 500)
	big.Entries = append(big.Entries, Entry{Path: "\xff\xff", Kind: KindFile, Size: 10}) // no chunk hash
	for name, m := range map[string]*Manifest{"unsorted": unsorted, "unencodable": big, "chunk size": {ChunkSize: 3}} {
		dir := t.TempDir()
		if _, err := NewTable(m, dir); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: NewTable = %v, want ErrInvalid", name, err)
		}
		if n := fdsIn(t, dir); n != 0 {
			t.Errorf("%s: %d descriptors left open", name, n)
		}
	}
}

// genEntries calls add with n entries in component order: a top directory,
// then directories of 1000 small files each (at most one chunk). Entry i's
// content is a function of i, so tests can check it without keeping it.
func genEntries(n int, add func(e *Entry) error) error {
	e := Entry{Path: "top", Kind: KindDir, Mode: 0o755}
	if err := add(&e); err != nil {
		return err
	}
	var dir string
	for i := 1; i < n; i++ {
		if (i-1)%1001 == 0 {
			dir = fmt.Sprintf("top/d%06d", i/1001)
			e = Entry{Path: dir, Kind: KindDir, Mode: 0o755, MTime: int64(i)}
		} else {
			e = genFile(dir, i)
		}
		if err := add(&e); err != nil {
			return err
		}
	}
	return nil
}

// genFile is entry i of genEntries, a file in dir.
func genFile(dir string, i int) Entry {
	e := Entry{Path: fmt.Sprintf("%s/f%07d", dir, i), Kind: KindFile, Mode: 0o644, MTime: int64(i), Size: int64(i % 3000)}
	if e.Size > 0 {
		var h Hash
		binary.BigEndian.PutUint64(h[:], uint64(i))
		e.Chunks = []Hash{h}
	}
	return e
}

// streamEntries returns a reader of genEntries(n)'s encoding, written by a
// goroutine: the manifest never exists in memory. Closing the reader stops
// the goroutine.
func streamEntries(n int, chunkSize uint32, each func(i int)) *io.PipeReader {
	pr, pw := io.Pipe()
	go func() {
		enc := NewEncoder(pw, chunkSize)
		i := 0
		err := genEntries(n, func(e *Entry) error {
			if each != nil {
				each(i)
			}
			i++
			return enc.Add(e)
		})
		if err == nil {
			err = enc.Close()
		}
		pw.CloseWithError(err)
	}()
	return pr
}

func heapInuse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// TestDecodeTableMemory decodes a streamed 300,000-entry manifest and checks
// that the heap stays flat: sampled (after a GC) while decoding, and at the
// end with the table open. The in-memory Decode would hold about 40 MiB.
func TestDecodeTableMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("large")
	}
	const n = 300_000
	const limit = 4 << 20
	base := heapInuse()
	var peak uint64
	pr := streamEntries(n, DefaultChunkSize, func(i int) {
		if i%20_000 == 10_000 {
			peak = max(peak, heapInuse())
		}
	})
	tab, err := DecodeTable(bufio.NewReader(pr), t.TempDir(), Limits{})
	pr.Close()
	must(t, err)
	defer tab.Close()
	end := heapInuse()
	grow := func(h uint64) int64 { return int64(h) - int64(base) }
	t.Logf("%d entries, %.1f MB encoded: heap %d KiB before, growth %d KiB peak (sampled), %d KiB at the end",
		tab.Len(), float64(tab.EncodedSize())/1e6, base>>10, grow(peak)>>10, grow(end)>>10)
	if tab.Len() != n {
		t.Fatalf("%d entries, want %d", tab.Len(), n)
	}
	if grow(peak) > limit || grow(end) > limit {
		t.Errorf("heap grew by %d KiB (sampled) and %d KiB (end), limit %d KiB", grow(peak)>>10, grow(end)>>10, limit>>10)
	}
	// Spot checks against the generator.
	for _, i := range []int{0, 1, 2, 1001, 1002, 123_457, n - 1} {
		e, err := tab.Entry(i)
		must(t, err)
		if e.Kind == KindFile {
			want := genFile(e.Path[:strings.LastIndexByte(e.Path, '/')], i)
			if !reflect.DeepEqual(e, withoutChunks(want)) {
				t.Errorf("Entry(%d) = %+v, want %+v", i, e, want)
			}
			if want.Size > 0 {
				if h, err := tab.ChunkHash(i, 0); err != nil || h != want.Chunks[0] {
					t.Errorf("ChunkHash(%d, 0) = %s, %v", i, h.Short(), err)
				}
			}
		}
	}
}

// BenchmarkDecodeTable decodes 1,000,000 small entries into a Table.
func BenchmarkDecodeTable(b *testing.B) {
	const n = 1_000_000
	var buf bytes.Buffer
	enc := NewEncoder(&buf, DefaultChunkSize)
	if err := genEntries(n, enc.Add); err != nil {
		b.Fatal(err)
	}
	must(b, enc.Close())
	dir := b.TempDir()
	b.SetBytes(int64(buf.Len()))
	b.ReportAllocs()
	for b.Loop() {
		tab, err := DecodeTable(bufio.NewReaderSize(bytes.NewReader(buf.Bytes()), 64<<10), dir, Limits{})
		if err != nil {
			b.Fatal(err)
		}
		tab.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/entry")
}

// BenchmarkTableEntry reads entries of a 100,000-entry table: the same one
// (as the engine does once per chunk), in order, and at random.
func BenchmarkTableEntry(b *testing.B) {
	const n = 100_000
	pr := streamEntries(n, DefaultChunkSize, nil)
	tab, err := DecodeTable(bufio.NewReader(pr), b.TempDir(), Limits{})
	if err != nil {
		b.Fatal(err)
	}
	defer tab.Close()
	b.Run("same", func(b *testing.B) {
		for b.Loop() {
			if _, err := tab.Entry(777); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sequential", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := tab.Entry(i); err != nil {
				b.Fatal(err)
			}
			i = (i + 1) % n
		}
	})
	b.Run("random", func(b *testing.B) {
		rng := rand.New(rand.NewPCG(1, 1))
		for b.Loop() {
			if _, err := tab.Entry(rng.IntN(n)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ChunkHash", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := tab.ChunkHash(2+i%1000, 0); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("Scan", func(b *testing.B) {
		for b.Loop() {
			if err := tab.Scan(b.Context(), func(int, *Entry) error { return nil }); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/entry")
	})
}
