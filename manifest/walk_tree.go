package manifest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sync/semaphore"
)

// Phase 2 of Walk ("hash"), the ordered side: walk visits the trees in
// component order and emits items, and write encodes them in that order.
// The hash workers (walk_hash.go) fill in files' chunk hashes in between.

// walkItem is one entry of the hash phase, or one skipped local path, on
// its way from the walker to the writer.
type walkItem struct {
	e     Entry
	local string
	info  fs.FileInfo   // files: as lstat'ed, for fileIdent
	skip  error         // not nil: no entry; the writer tells OnSkip
	cost  int64         // hash budget held until the writer takes the item
	done  chan struct{} // files: closed once hashed (or skip set)
}

// walker is the hash phase: walk emits items in order into ordered (and
// files also into work), the hash workers fill in chunk hashes, write
// encodes the items in order.
type walker struct {
	cs      uint32
	workers int // hash workers; also the goroutines that hash one large file
	cache   HashCache
	exclude func(path string, dir bool) bool // WalkOptions.Exclude
	pr      *progress
	budget  *semaphore.Weighted
	ordered chan *walkItem
	work    chan *walkItem
	entries int64   // written by the writer; read after it ends
	renamed renamed // written by walk; read after it ends
}

// walk visits the top-level paths in order.
func (w *walker) walk(ctx context.Context, tops []topLevel) error {
	defer close(w.ordered)
	defer close(w.work)
	for _, t := range tops {
		fi, err := os.Stat(t.abs) // follows a named symlink
		if errors.Is(err, fs.ErrNotExist) {
			if err := w.skip(ctx, t.abs, err); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("manifest: %w", err)
		}
		if err := w.visit(ctx, t.abs, t.name, fi); err != nil {
			return err
		}
	}
	return nil
}

// visit emits the entry local (lstat'ed as fi, named rel in the manifest)
// and, for a directory, everything below it in component order.
func (w *walker) visit(ctx context.Context, local, rel string, fi fs.FileInfo) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validatePath(rel, DefaultLimits.MaxPathLen); err != nil {
		return w.skip(ctx, local, err)
	}
	it := &walkItem{local: local, e: Entry{Path: rel, MTime: fi.ModTime().UnixNano()}}
	switch m := fi.Mode(); {
	case m.IsRegular():
		it.e.Kind = KindFile
		it.info = fi
		it.e.Mode = uint32(m.Perm())
		it.e.Size = fi.Size()
		return w.emit(ctx, it)
	case m&fs.ModeSymlink != 0:
		target, err := readLink(local)
		if errors.Is(err, fs.ErrNotExist) {
			return w.skip(ctx, local, err)
		}
		if err != nil {
			return fmt.Errorf("manifest: %w", err)
		}
		target = wireName(target) // it names entries, which are NFC
		if err := validateTarget(rel, target, DefaultLimits.MaxPathLen); err != nil {
			return w.skip(ctx, local, err)
		}
		it.e.Kind = KindSymlink
		it.e.Target = target
		return w.emit(ctx, it)
	case m.IsDir():
		it.e.Kind = KindDir
		it.e.Mode = uint32(m.Perm())
		if err := w.emit(ctx, it); err != nil {
			return err
		}
	default:
		return w.skip(ctx, local, fmt.Errorf("%w (%s)", ErrSpecialFile, specialKind(m)))
	}
	names, err := readNames(local, !strings.Contains(rel, "/"))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
		return w.skip(ctx, local, err) // the directory stays, empty
	}
	if errors.Is(err, errNotFollowed) || errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("%w: %s is no longer a directory", ErrFileChanged, local)
	}
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	prev := ""
	for i, name := range names {
		names[i] = "" // let the name go with the entry
		child := filepath.Join(local, name)
		crel, err := w.renamed.child(rel, child, name, &prev) // NFC on the wire
		if err != nil {
			if err := w.skip(ctx, child, err); err != nil {
				return err
			}
			continue
		}
		cfi, err := os.Lstat(child)
		if errors.Is(err, fs.ErrNotExist) {
			if err := w.skip(ctx, child, err); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("manifest: %w", err)
		}
		if w.exclude != nil && w.exclude(crel, cfi.IsDir()) {
			continue
		}
		if err := w.visit(ctx, child, crel, cfi); err != nil {
			return err
		}
	}
	return nil
}

// readNames returns the names in directory dir, sorted by their NFC forms
// (sortWire): the component order of its children.
func readNames(dir string, follow bool) ([]string, error) {
	f, err := openNoFollow(dir, follow)
	if err != nil {
		return nil, err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return nil, err
	}
	sortWire(names)
	return names, nil
}

// emit passes it to the writer and, if it is a file, to a hash worker,
// after taking its share of the hash budget.
func (w *walker) emit(ctx context.Context, it *walkItem) error {
	if it.e.Kind == KindFile {
		it.cost = min(HashSize*ChunkCount(it.e.Size, w.cs), hashBudget)
		if err := w.budget.Acquire(ctx, it.cost); err != nil {
			return err
		}
		it.done = make(chan struct{})
	}
	select {
	case w.ordered <- it:
	case <-ctx.Done():
		return ctx.Err()
	}
	if it.done == nil {
		return nil
	}
	select {
	case w.work <- it:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// skip passes a skipped local path to the writer, which reports it in order.
func (w *walker) skip(ctx context.Context, local string, err error) error {
	return w.emit(ctx, &walkItem{local: local, skip: err})
}

// write encodes the items in order, waiting for each file's hashes, and
// reports skips.
func (w *walker) write(ctx context.Context, enc *Encoder, onSkip func(string, error)) error {
	for it := range w.ordered {
		if it.done != nil {
			select {
			case <-it.done:
			case <-ctx.Done():
				return ctx.Err()
			}
			w.budget.Release(it.cost)
		}
		if it.skip != nil {
			if onSkip != nil {
				onSkip(it.local, it.skip)
			}
			continue
		}
		if err := enc.Add(&it.e); err != nil {
			return fmt.Errorf("manifest: writing the walk's manifest: %w", err)
		}
		w.entries++
	}
	return nil
}
