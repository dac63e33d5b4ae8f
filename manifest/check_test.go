package manifest

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// countingReaderAt records the furthest byte read.
type countingReaderAt struct {
	r   io.ReaderAt
	max int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.max = max(c.max, off+int64(n))
	return n, err
}

func TestCompareFile(t *testing.T) {
	const cs = MinChunkSize
	orig := bytes.Repeat([]byte("abcdefgh"), (4*cs+100)/8) // 4 chunks + 96 bytes: 5 chunks
	hs, err := HashChunks(t.Context(), bytes.NewReader(orig), int64(len(orig)), cs, nil)
	if err != nil {
		t.Fatal(err)
	}
	tab := newTestTable(t, &Manifest{ChunkSize: cs, Entries: []Entry{
		{Path: "d", Kind: KindDir},
		{Path: "d/f", Kind: KindFile, Size: int64(len(orig)), Chunks: hs},
		{Path: "d/l", Kind: KindSymlink, Target: "f"},
	}})
	const fi = 1
	corrupt := func(data []byte, at ...int) []byte {
		d := slices.Clone(data)
		for _, i := range at {
			d[i] ^= 1
		}
		return d
	}
	cases := []struct {
		name string
		data []byte
		want []int64
	}{
		{"same", orig, nil},
		{"first byte", corrupt(orig, 0), []int64{0}},
		{"chunks 1 and 4", corrupt(orig, cs+5, len(orig)-1), []int64{1, 4}},
		{"short by one", orig[:len(orig)-1], []int64{4}},
		{"half", orig[:2*cs+1], []int64{2, 3, 4}},
		{"empty", nil, []int64{0, 1, 2, 3, 4}},
		{"longer", append(slices.Clone(orig), "extra"...), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &countingReaderAt{r: bytes.NewReader(c.data)}
			bad, err := tab.CompareFile(t.Context(), fi, r, int64(len(c.data)))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(bad, c.want) {
				t.Errorf("bad = %v, want %v", bad, c.want)
			}
			if r.max > int64(len(orig)) {
				t.Errorf("read up to byte %d, past Size %d", r.max, len(orig))
			}
		})
	}
	// A reader shorter than the size it claims: missing chunks count as bad.
	bad, err := tab.CompareFile(t.Context(), fi, bytes.NewReader(orig[:cs]), int64(len(orig)))
	if err != nil || !slices.Equal(bad, []int64{1, 2, 3, 4}) {
		t.Errorf("lying size: bad = %v, err = %v", bad, err)
	}
	for _, i := range []int{0, 2} {
		if _, err := tab.CompareFile(t.Context(), i, bytes.NewReader(orig), int64(len(orig))); !errors.Is(err, ErrInvalid) {
			t.Errorf("CompareFile of entry %d (not a file) = %v, want ErrInvalid", i, err)
		}
	}
	if _, err := tab.CompareFile(t.Context(), 3, bytes.NewReader(orig), int64(len(orig))); !errors.Is(err, ErrRange) {
		t.Errorf("CompareFile of entry 3 of 3 = %v, want ErrRange", err)
	}
	// A read error is reported, not counted as a bad chunk.
	rerr := errors.New("EIO")
	if _, err := tab.CompareFile(t.Context(), fi, errReaderAt{rerr}, int64(len(orig))); !errors.Is(err, rerr) {
		t.Errorf("read error: %v", err)
	}
}

// errReaderAt fails every read.
type errReaderAt struct{ err error }

func (r errReaderAt) ReadAt([]byte, int64) (int, error) { return 0, r.err }

func TestVerifyTree(t *testing.T) {
	src := buildTree(t, t.TempDir())
	s, err := Walk(t.Context(), []string{src}, WalkOptions{ChunkSize: MinChunkSize, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m := s.Table
	dir := filepath.Dir(src)
	var hashed int64
	diffs, err := VerifyTree(t.Context(), dir, m, func(n int64) { hashed += n })
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) != 0 {
		t.Fatalf("unchanged tree: %+v", diffs)
	}
	if hashed != m.TotalSize() {
		t.Errorf("progress %d bytes, want %d", hashed, m.TotalSize())
	}

	// Damage it in every way.
	big := filepath.Join(src, "big.bin")
	f, err := os.OpenFile(big, os.O_WRONLY, 0)
	must(t, err)
	_, err = f.WriteAt([]byte("X"), MinChunkSize+1)
	must(t, err)
	must(t, f.Close())
	must(t, os.WriteFile(filepath.Join(src, "a b", "c"), []byte("SPACES, longer"), 0o644))
	must(t, os.Remove(filepath.Join(src, "sub", "deeper", "x.txt")))
	must(t, os.Remove(filepath.Join(src, "emptydir")))
	must(t, os.WriteFile(filepath.Join(src, "emptydir"), nil, 0o644))
	must(t, os.Remove(filepath.Join(src, "sub", "link")))
	must(t, os.Symlink("elsewhere", filepath.Join(src, "sub", "link")))
	// Replace a dir by a symlink leading out of dir: VerifyTree must not
	// follow it (x.txt's parent).
	outside := t.TempDir()
	writeFile(t, filepath.Join(outside, "x.txt"), []byte("hello"))
	must(t, os.RemoveAll(filepath.Join(src, "sub", "deeper")))
	must(t, os.Symlink(outside, filepath.Join(src, "sub", "deeper")))
	writeFile(t, filepath.Join(src, "extra"), []byte("ignored"))

	diffs, err = VerifyTree(t.Context(), dir, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Difference{}
	for _, d := range diffs {
		got[d.Path] = d
	}
	want := map[string]string{
		"tree/big.bin":          "content",
		"tree/a b/c":            "size",
		"tree/emptydir":         "type",
		"tree/sub/link":         "symlink target",
		"tree/sub/deeper":       "type",
		"tree/sub/deeper/x.txt": "type", // behind a symlink out of dir: not followed
	}
	for p, problem := range want {
		if got[p].Problem != problem {
			t.Errorf("%s: problem %q, want %q", p, got[p].Problem, problem)
		}
	}
	if len(diffs) != len(want) {
		t.Errorf("diffs %+v", diffs)
	}
	if !slices.Equal(got["tree/big.bin"].BadChunks, []int64{1}) {
		t.Errorf("big.bin bad chunks %v, want [1]", got["tree/big.bin"].BadChunks)
	}
	if !slices.Equal(got["tree/a b/c"].BadChunks, []int64{0}) {
		t.Errorf("a b/c bad chunks %v, want [0]", got["tree/a b/c"].BadChunks)
	}

	// Removing the symlinked dir makes x.txt missing.
	must(t, os.Remove(filepath.Join(src, "sub", "deeper")))
	diffs, err = VerifyTree(t.Context(), dir, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		if d.Path == "tree/sub/deeper/x.txt" && d.Problem != "missing" {
			t.Errorf("x.txt: %q, want missing", d.Problem)
		}
	}
}
