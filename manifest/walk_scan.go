package manifest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Phase 1 of Walk ("scan"): a stat-only pass that counts files and bytes
// for the progress totals. It runs only when WalkOptions.Progress is set.

// scanBatch is how many directory entries scan reads at a time.
const scanBatch = 256

// scan counts the entry local (already stat'ed as fi, named rel in the
// manifest) and everything below it: regular files and their bytes into
// files and bytes, every entry into the progress. It keeps nothing per
// entry: a directory is read in batches, and only its subdirectories' names
// wait for the batch to end.
func scan(ctx context.Context, local, rel string, fi fs.FileInfo, files, bytes *int64, pr *progress, ex func(string, bool) bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if validatePath(wireName(rel), DefaultLimits.MaxPathLen) != nil {
		return nil // the hash phase reports it
	}
	switch m := fi.Mode(); {
	case m.IsRegular():
		*files++
		*bytes += fi.Size()
		pr.add(1, fi.Size(), local)
		return nil
	case m&fs.ModeSymlink != 0:
		pr.add(1, 0, local)
		return nil
	case !m.IsDir():
		return nil
	}
	pr.add(1, 0, local)
	f, err := os.Open(local)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
		return nil // the hash phase reports it
	}
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	var subdirs []string
	for {
		des, err := f.ReadDir(scanBatch)
		for _, de := range des {
			if ex != nil && ex(wireName(rel+"/"+de.Name()), de.IsDir()) {
				continue
			}
			if de.IsDir() {
				subdirs = append(subdirs, de.Name())
				continue
			}
			cfi, err := de.Info()
			if err != nil {
				continue // removed since; the hash phase sees it or not
			}
			if err := scan(ctx, filepath.Join(local, de.Name()), rel+"/"+de.Name(), cfi, files, bytes, pr, ex); err != nil {
				f.Close()
				return err
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			f.Close()
			return fmt.Errorf("manifest: %w", err)
		}
	}
	f.Close()
	for _, name := range subdirs {
		child := filepath.Join(local, name)
		cfi, err := os.Lstat(child)
		if err != nil {
			continue
		}
		if err := scan(ctx, child, rel+"/"+name, cfi, files, bytes, pr, ex); err != nil {
			return err
		}
	}
	return nil
}
