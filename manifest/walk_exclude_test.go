package manifest

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestWalkExclude leaves out a file and a directory with its subtree, and
// the scan's totals agree with what is hashed.
func TestWalkExclude(t *testing.T) {
	dir := t.TempDir()
	top := filepath.Join(dir, "top")
	writeFile(t, filepath.Join(top, "keep.txt"), []byte("keep"))
	writeFile(t, filepath.Join(top, "drop.log"), []byte("drop me"))
	writeFile(t, filepath.Join(top, "sub", "keep2.txt"), []byte("keep too"))
	writeFile(t, filepath.Join(top, "node_modules", "x", "big.js"), []byte("excluded subtree"))
	var asked []string
	var last WalkProgress
	_, m := walkT(t, []string{top}, WalkOptions{
		Exclude: func(p string, isDir bool) bool {
			asked = append(asked, p)
			return strings.HasSuffix(p, ".log") || (isDir && filepath.Base(p) == "node_modules")
		},
		Progress: func(p WalkProgress) { last = p },
	})
	var got []string
	for _, e := range m.Entries {
		got = append(got, e.Path)
	}
	want := []string{"top", "top/keep.txt", "top/sub", "top/sub/keep2.txt"}
	if !slices.Equal(got, want) {
		t.Fatalf("entries %v, want %v", got, want)
	}
	if slices.Contains(asked, "top") || slices.Contains(asked, "top/node_modules/x") {
		t.Fatalf("Exclude was asked about a top-level path or below an excluded directory: %v", asked)
	}
	if last.FilesTotal != 2 || last.BytesTotal != int64(len("keep")+len("keep too")) {
		t.Fatalf("last progress %+v: totals include excluded files", last)
	}
}
