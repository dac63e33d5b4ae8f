package manifest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

const (
	eNFC = "\u00e9"  // é, composed
	eNFD = "e\u0301" // é, decomposed
)

// TestValidateRequiresNFC: paths and symlink targets travel in NFC, and
// Decode refuses a manifest that names anything otherwise.
func TestValidateRequiresNFC(t *testing.T) {
	for _, p := range []string{"caf" + eNFD, "d/" + eNFD + "/f", "A\u030a", "\u212b", "\u212a"} {
		if err := ValidatePath(p); !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidatePath(%q) = %v, want ErrInvalid", p, err)
		}
	}
	for _, p := range []string{"caf" + eNFC, "\u00c5", "\xff", "a\xffe", "\u65e5\u672c"} {
		if err := ValidatePath(p); err != nil {
			t.Errorf("ValidatePath(%q) = %v, want ok", p, err)
		}
	}
	if err := ValidateTarget("d/l", eNFD); !errors.Is(err, ErrInvalid) {
		t.Errorf("ValidateTarget(NFD) = %v, want ErrInvalid", err)
	}
	if err := ValidateTarget("d/l", eNFC); err != nil {
		t.Errorf("ValidateTarget(NFC) = %v", err)
	}
	for _, raw := range [][]byte{
		func() []byte { r := newRaw(MinChunkSize); r.dir("d"); r.file("d/"+eNFD, 0, 0); return r.end(2) }(),
		func() []byte { r := newRaw(MinChunkSize); r.dir("d"); r.link("d/l", eNFD); return r.end(2) }(),
	} {
		if _, _, err := Decode(bytes.NewReader(raw), Limits{}); !errors.Is(err, ErrInvalid) {
			t.Errorf("Decode of a manifest with an NFD name: %v, want ErrInvalid", err)
		}
		if _, err := DecodeTable(bytes.NewReader(raw), t.TempDir(), Limits{}); !errors.Is(err, ErrInvalid) {
			t.Errorf("DecodeTable of a manifest with an NFD name: %v, want ErrInvalid", err)
		}
	}
}

// TestWalkNormalizesNames walks a Linux tree whose names are decomposed on
// disk (as a tree copied from a Mac can be): the manifest names them in
// NFC, in component order of those names, symlink targets too, and the
// Source still reads each file by its on-disk name.
func TestWalkNormalizesNames(t *testing.T) {
	dir := t.TempDir()
	top := filepath.Join(dir, "r"+eNFD+"sum"+eNFD) // the top level decomposed too
	writeFile(t, filepath.Join(top, "caf"+eNFD+".txt"), []byte("coffee"))
	writeFile(t, filepath.Join(top, "d"+eNFD+"j"+eNFD, "vu.txt"), []byte("again"))
	writeFile(t, filepath.Join(top, "f"), []byte("f")) // NFD "e\u0301" sorts before "f", NFC "é" after
	writeFile(t, filepath.Join(top, eNFD), []byte("e"))
	if err := os.Symlink("d"+eNFD+"j"+eNFD+"/vu.txt", filepath.Join(top, "link")); err != nil {
		t.Fatal(err)
	}
	src, m := walkT(t, []string{top}, WalkOptions{})
	r := "r" + eNFC + "sum" + eNFC
	want := []string{r, r + "/caf" + eNFC + ".txt", r + "/d" + eNFC + "j" + eNFC, r + "/d" + eNFC + "j" + eNFC + "/vu.txt",
		r + "/f", r + "/link", r + "/" + eNFC}
	var got []string
	for _, e := range m.Entries {
		got = append(got, e.Path)
		if e.Kind == KindSymlink && e.Target != "d"+eNFC+"j"+eNFC+"/vu.txt" {
			t.Errorf("symlink target %q, want NFC", e.Target)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("entries\n got %q\nwant %q", got, want)
	}
	for i, e := range m.Entries {
		local, err := src.Local(i)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(local); err != nil {
			t.Errorf("entry %q: Local %q: %v", e.Path, local, err)
		}
		if e.Kind == KindFile {
			data, err := os.ReadFile(local)
			if err != nil || len(e.Chunks) != 1 || HashChunk(data) != e.Chunks[0] {
				t.Errorf("entry %q: Local %q does not hold its data (%v)", e.Path, local, err)
			}
		}
	}
}

// TestWalkNameClash: two local names that are one name in NFC; the first
// in byte order is sent, the other skipped with ErrNameClash.
func TestWalkNameClash(t *testing.T) {
	dir := t.TempDir()
	top := filepath.Join(dir, "t")
	writeFile(t, filepath.Join(top, eNFC), []byte("composed"))
	writeFile(t, filepath.Join(top, eNFD), []byte("decomposed"))
	var skipped []string
	_, m := walkT(t, []string{top}, WalkOptions{OnSkip: func(local string, err error) {
		if !errors.Is(err, ErrNameClash) {
			t.Errorf("skip %s: %v, want ErrNameClash", local, err)
		}
		skipped = append(skipped, local)
	}})
	if len(m.Entries) != 2 || m.Entries[1].Path != "t/"+eNFC || m.Entries[1].Size != int64(len("decomposed")) {
		t.Errorf("entries: %+v, want t and t/é holding the decomposed name's data (%q < %q)", m.Entries, eNFD, eNFC)
	}
	if !slices.Equal(skipped, []string{filepath.Join(top, eNFC)}) {
		t.Errorf("skipped %q", skipped)
	}
	// Two top-level paths whose names are one name in NFC.
	a, b := filepath.Join(dir, "a", eNFC), filepath.Join(dir, "b", eNFD)
	writeFile(t, a, []byte("a"))
	writeFile(t, b, []byte("b"))
	if _, err := Walk(context.Background(), []string{a, b}, WalkOptions{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("two top-level paths with one name in NFC: %v, want ErrInvalid", err)
	}
}
