package manifest

import (
	"bytes"
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
	e := &Entry{Path: "f", Kind: KindFile, Size: int64(len(orig)), Chunks: hs}
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
			bad, err := CompareFile(t.Context(), r, int64(len(c.data)), e, cs)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(bad, c.want) {
				t.Errorf("bad = %v, want %v", bad, c.want)
			}
			if r.max > e.Size {
				t.Errorf("read up to byte %d, past Size %d", r.max, e.Size)
			}
		})
	}
	// A reader shorter than the size it claims: missing chunks count as bad.
	bad, err := CompareFile(t.Context(), bytes.NewReader(orig[:cs]), int64(len(orig)), e, cs)
	if err != nil || !slices.Equal(bad, []int64{1, 2, 3, 4}) {
		t.Errorf("lying size: bad = %v, err = %v", bad, err)
	}
	if _, err := CompareFile(t.Context(), bytes.NewReader(orig), int64(len(orig)), &Entry{Kind: KindFile, Size: 10}, cs); err == nil {
		t.Error("entry with a wrong chunk count accepted")
	}
}

func TestVerifyTree(t *testing.T) {
	src := buildTree(t, t.TempDir())
	s, err := Walk(t.Context(), []string{src}, WalkOptions{ChunkSize: MinChunkSize})
	if err != nil {
		t.Fatal(err)
	}
	m := s.Manifest
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
