package manifest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// compareFile hashes r (size bytes) chunk by chunk against the hashes of
// file entry e, which hash returns one by one, and returns the indexes of
// the chunks that differ (all chunks past the end of a shorter file count as
// differing). It never reads past e.Size and uses one buffer of at most
// chunkSize bytes. progress, if not nil, receives the bytes hashed.
func compareFile(ctx context.Context, r io.ReaderAt, size int64, e *Entry, chunkSize uint32, hash func(c int64) (Hash, error), progress func(int64)) ([]int64, error) {
	if err := checkChunkSize(chunkSize); err != nil {
		return nil, err
	}
	n := ChunkCount(e.Size, chunkSize)
	var bad []int64
	buf := make([]byte, min(e.Size, int64(chunkSize)))
	for i := range n {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		off := i * int64(chunkSize)
		l := ChunkLen(e.Size, chunkSize, i)
		if off+l > size {
			bad = append(bad, i)
			continue
		}
		k, err := r.ReadAt(buf[:l], off)
		if int64(k) < l {
			if err == nil || errors.Is(err, io.EOF) {
				// Shorter than size claimed (truncated meanwhile).
				bad = append(bad, i)
				continue
			}
			return nil, fmt.Errorf("manifest: reading %q chunk %d: %w", e.Path, i, err)
		}
		want, err := hash(i)
		if err != nil {
			return nil, err
		}
		if HashChunk(buf[:l]) != want {
			bad = append(bad, i)
		}
		if progress != nil {
			progress(l)
		}
	}
	return bad, nil
}

// Difference is one way the tree on disk differs from a manifest. Problem
// is "missing", "size", "content", "type" or "symlink target". BadChunks
// lists the differing chunks for "size" and "content".
type Difference struct {
	Path      string
	Problem   string
	BadChunks []int64
}

// VerifyTree checks the tree under dir against t (every entry; extra files
// in dir are ignored) and reports every difference, in manifest order. Only
// kind, symlink target, size and content are compared, not mode or mtime.
// All access goes through os.OpenRoot(dir), so symlinks never lead outside
// dir. progress, if not nil, receives the bytes hashed as deltas. An error
// is returned only when the check itself cannot proceed (dir unusable,
// permission denied, I/O error, ctx done). Memory does not grow with t,
// only with the differences found.
func VerifyTree(ctx context.Context, dir string, t *Table, progress func(bytes int64)) ([]Difference, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	defer root.Close()
	var diffs []Difference
	err = t.Scan(ctx, func(i int, e *Entry) error {
		d, err := verifyEntry(ctx, root, e, t.chunkSize, t.hashesOf(i), progress)
		if err != nil {
			return err
		}
		if d != nil {
			diffs = append(diffs, *d)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return diffs, nil
}

// verifyEntry compares e with what is at its path under root; hash gives
// e's chunk hashes.
func verifyEntry(ctx context.Context, root *os.Root, e *Entry, cs uint32, hash func(int64) (Hash, error), progress func(int64)) (*Difference, error) {
	diff := func(problem string) (*Difference, error) {
		return &Difference{Path: e.Path, Problem: problem}, nil
	}
	fi, err := root.Lstat(e.Path)
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
		return diff("missing")
	case errors.Is(err, fs.ErrPermission):
		return nil, fmt.Errorf("manifest: verify: %w", err)
	default:
		// A symlink in the way that leads outside dir, or a loop: what is
		// there is not the directory the manifest has.
		return diff("type")
	}
	switch e.Kind {
	case KindDir:
		if !fi.IsDir() {
			return diff("type")
		}
	case KindSymlink:
		if fi.Mode()&fs.ModeSymlink == 0 {
			return diff("type")
		}
		t, err := root.Readlink(e.Path)
		if err != nil {
			return nil, fmt.Errorf("manifest: verify: %w", err)
		}
		if t, err := fromLocalTarget(e.Path, t); err != nil || t != e.Target {
			return diff("symlink target")
		}
	case KindFile:
		if !fi.Mode().IsRegular() {
			return diff("type")
		}
		f, err := root.Open(e.Path)
		if err != nil {
			return nil, fmt.Errorf("manifest: verify: %w", err)
		}
		defer f.Close()
		bad, err := compareFile(ctx, f, fi.Size(), e, cs, hash, progress)
		if err != nil {
			return nil, err
		}
		switch {
		case fi.Size() != e.Size:
			return &Difference{Path: e.Path, Problem: "size", BadChunks: bad}, nil
		case len(bad) > 0:
			return &Difference{Path: e.Path, Problem: "content", BadChunks: bad}, nil
		}
	}
	return nil, nil
}
