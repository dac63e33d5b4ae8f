package engine

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEditedFileIsAConflict: a file pcp put in place and the user then
// edited is never replaced without Overwrite, even when the edit keeps
// its size and mtime (only the ctime tells): it is a conflict, listed.
func TestEditedFileIsAConflict(t *testing.T) {
	for _, restoreMTime := range []bool{false, true} {
		name := "mtime changed"
		if restoreMTime {
			name = "mtime restored"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "src")
			writeFile(t, filepath.Join(src, "notes.txt"), []byte("the original text\n"))
			writeFile(t, filepath.Join(src, "other.txt"), []byte("untouched\n"))
			dest, logPath := filepath.Join(dir, "out"), filepath.Join(dir, "resume.db")
			if _, err := transferOnce(t, src, dest, logPath, false); err != nil {
				t.Fatal(err)
			}
			got := filepath.Join(dest, "src", "notes.txt")
			before, err := os.Stat(got)
			if err != nil {
				t.Fatal(err)
			}
			edit := []byte("THE EDITED TEXT!!\n") // same length
			if err := os.WriteFile(got, edit, 0o644); err != nil {
				t.Fatal(err)
			}
			if restoreMTime {
				if err := os.Chtimes(got, before.ModTime(), before.ModTime()); err != nil {
					t.Fatal(err)
				}
				after, _ := os.Stat(got)
				if after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) {
					t.Fatal("test setup: size or mtime differ after the edit")
				}
			}
			_, err = transferOnce(t, src, dest, logPath, false)
			if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "src/notes.txt") {
				t.Fatalf("err = %v, want ErrExists listing src/notes.txt", err)
			}
			if strings.Contains(err.Error(), "other.txt") {
				t.Fatalf("untouched file listed as a conflict: %v", err)
			}
			if b, _ := os.ReadFile(got); string(b) != string(edit) {
				t.Fatalf("edit lost: %q", b)
			}
			// With Overwrite the offer wins.
			if _, err := transferOnce(t, src, dest, logPath, true); err != nil {
				t.Fatalf("with overwrite: %v", err)
			}
			assertSameTree(t, src, filepath.Join(dest, "src"))
		})
	}
}

// TestOverwriteDoesNotWriteThroughHardLink: a differing file at the
// destination with a second hard link outside it is replaced by a rename:
// the outside link keeps its bytes, and only the bad chunk is fetched (the
// good ones are copied).
func TestOverwriteDoesNotWriteThroughHardLink(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeRandom(t, filepath.Join(src, "f.bin"), 4<<20+123)
	dest := filepath.Join(dir, "out")
	mine := filepath.Join(dest, "src", "f.bin")
	// The same bytes but one, in chunk 2.
	b, err := os.ReadFile(filepath.Join(src, "f.bin"))
	if err != nil {
		t.Fatal(err)
	}
	b[2<<20+5] ^= 0xff
	writeFile(t, mine, b)
	outside := filepath.Join(dir, "outside.bin")
	if err := os.Link(mine, outside); err != nil {
		t.Fatal(err)
	}
	sum, err := transferOnce(t, src, dest, filepath.Join(dir, "resume.db"), true)
	if err != nil {
		t.Fatal(err)
	}
	if !sameBytes(t, filepath.Join(src, "f.bin"), mine) {
		t.Fatal("destination not replaced")
	}
	if got, err := os.ReadFile(outside); err != nil || string(got) != string(b) {
		t.Fatalf("the hard link outside the destination changed (%v)", err)
	}
	a, _ := os.Stat(mine)
	o, _ := os.Stat(outside)
	if os.SameFile(a, o) || nlink(t, outside) != 1 {
		t.Fatal("the destination still shares the outside file's inode")
	}
	if sum.ChunksFetched != 1 {
		t.Fatalf("fetched %d chunks, want only the bad one", sum.ChunksFetched)
	}
}

// TestUntouchedFileIsTrusted: the identity recorded when a file is put in
// place matches it as it stands afterwards, so a second run trusts it
// without reading or touching it (a file only present, not trusted, gets
// its mode and mtime set again, which moves its ctime).
func TestUntouchedFileIsTrusted(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeRandom(t, filepath.Join(src, "f.bin"), 3<<20)
	writeFile(t, filepath.Join(src, "empty"), nil)
	dest, logPath := filepath.Join(dir, "out"), filepath.Join(dir, "resume.db")
	if _, err := transferOnce(t, src, dest, logPath, false); err != nil {
		t.Fatal(err)
	}
	ctimes := func() [2]int64 {
		var out [2]int64
		for k, n := range []string{"f.bin", "empty"} {
			out[k] = ctime(t, filepath.Join(dest, "src", n))
		}
		return out
	}
	before := ctimes()
	sum, err := transferOnce(t, src, dest, logPath, false)
	if err != nil {
		t.Fatal(err)
	}
	if sum.ChunksFetched != 0 || sum.SkippedBytes != sum.ManifestBytes {
		t.Fatalf("fetched %d chunks of untouched complete files", sum.ChunksFetched)
	}
	if after := ctimes(); after != before {
		t.Fatalf("untouched complete files were touched again: ctime %v -> %v", before, after)
	}
}
