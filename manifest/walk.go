package manifest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"
)

// FileKey identifies one version of a local file for a HashCache. Path is
// the absolute local path.
type FileKey struct {
	Path      string
	Size      int64
	MTime     int64
	Inode     uint64
	Dev       uint64
	ChunkSize uint32
}

// HashCache remembers chunk hashes of local files between walks. Walk calls
// it from several goroutines at once; implementations must be safe for that.
type HashCache interface {
	Lookup(k FileKey) ([]Hash, bool)
	Store(k FileKey, h []Hash)
}

// WalkProgress is a snapshot of a Walk. Phase is "scan" (stating the trees:
// Files counts entries of every kind and the totals grow with it) or "hash"
// (FilesTotal is the number of regular files, BytesTotal their bytes).
type WalkProgress struct {
	Phase             string
	Files, FilesTotal int64
	Bytes, BytesTotal int64
	Current           string // absolute local path being worked on
}

// WalkOptions configure Walk. The zero value works.
type WalkOptions struct {
	// ChunkSize is the chunk size of the manifest; 0 means DefaultChunkSize.
	ChunkSize uint32
	// Cache, if not nil, is consulted before hashing a file and filled after.
	Cache HashCache
	// Workers is the number of files hashed in parallel; 0 means 2. Each
	// holds one chunk buffer.
	Workers int
	// Progress, if not nil, receives snapshots at most about 20 times a
	// second plus once at the end of each phase. Calls are serialized, but
	// may come from any goroutine.
	Progress func(WalkProgress)
	// OnSkip, if not nil, is told of every local entry left out: special
	// files, symlinks whose target is absolute or escapes the tree
	// (ErrSymlinkEscapes), names the manifest cannot carry.
	OnSkip func(local string, err error)
}

// Source is a walked set of paths: the manifest and, for each entry, where
// its data lives locally. Local[i] is the absolute local path of
// Manifest.Entries[i].
type Source struct {
	Manifest *Manifest
	Local    []string
}

// ErrSpecialFile is passed to OnSkip for sockets, devices and FIFOs.
var ErrSpecialFile = errors.New("manifest: not a regular file, directory or symlink")

// ErrFileChanged reports a file that changed while Walk was hashing it.
var ErrFileChanged = errors.New("manifest: file changed while hashing")

// walkItem is one scanned entry before sorting.
type walkItem struct {
	e     Entry
	local string
	inode uint64
	dev   uint64
}

// Walk builds the manifest of paths. Each path becomes a top-level entry
// named by its base name (two with the same base name are an error); a path
// that is a symlink is followed, because the user named it. Inside the trees
// symlinks are recorded, never followed. Walk first stats everything (phase
// "scan"), then hashes files with opts.Workers goroutines (phase "hash"),
// each reusing one chunk buffer, so memory does not grow with file sizes.
// Mode is the permission bits (setuid, setgid and sticky dropped), 0 for
// symlinks; MTime is the modification time in Unix nanoseconds (for a
// symlink, the link's own). The result is sorted by path and passes
// Validate(DefaultLimits).
func Walk(ctx context.Context, paths []string, opts WalkOptions) (*Source, error) {
	cs := opts.ChunkSize
	if cs == 0 {
		cs = DefaultChunkSize
	}
	if err := checkChunkSize(cs); err != nil {
		return nil, err
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = 2
	}
	pr := &progress{fn: opts.Progress}
	skip := func(local string, err error) {
		if opts.OnSkip != nil {
			opts.OnSkip(local, err)
		}
	}

	// Phase 1: scan.
	var items []walkItem
	seen := make(map[string]string)
	pr.p.Phase = "scan"
	for _, arg := range paths {
		abs, err := filepath.Abs(arg)
		if err != nil {
			return nil, fmt.Errorf("manifest: %s: %w", arg, err)
		}
		name := filepath.Base(abs)
		if err := validatePath(name, DefaultLimits.MaxPathLen); err != nil || strings.Contains(name, "/") {
			return nil, fmt.Errorf("manifest: %s: cannot be a top-level entry: %w", arg, ErrInvalid)
		}
		if other, dup := seen[name]; dup {
			return nil, fmt.Errorf("%w: %s and %s have the same name %q", ErrInvalid, other, arg, name)
		}
		seen[name] = arg
		fi, err := os.Stat(abs) // follows a named symlink
		if err != nil {
			return nil, fmt.Errorf("manifest: %w", err)
		}
		if items, err = scan(ctx, items, abs, name, fi, pr, skip); err != nil {
			return nil, err
		}
	}
	pr.flush()

	// Phase 2: hash.
	var nfiles int64
	for i := range items {
		if items[i].e.Kind == KindFile {
			nfiles++
		}
	}
	pr.mu.Lock()
	pr.p.Phase = "hash"
	pr.p.Files, pr.p.FilesTotal, pr.p.Bytes = 0, nfiles, 0
	pr.mu.Unlock()
	g, gctx := errgroup.WithContext(ctx)
	work := make(chan *walkItem)
	g.Go(func() error {
		defer close(work)
		for i := range items {
			if items[i].e.Kind != KindFile {
				continue
			}
			select {
			case work <- &items[i]:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	for range workers {
		g.Go(func() error {
			var buf []byte
			for it := range work {
				if err := hashItem(gctx, it, cs, &buf, opts.Cache, pr); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	pr.flush()

	slices.SortFunc(items, func(a, b walkItem) int { return strings.Compare(a.e.Path, b.e.Path) })
	src := &Source{Manifest: &Manifest{ChunkSize: cs, Entries: make([]Entry, len(items))}, Local: make([]string, len(items))}
	for i := range items {
		src.Manifest.Entries[i] = items[i].e
		src.Local[i] = items[i].local
	}
	if err := src.Manifest.Validate(Limits{}); err != nil {
		return nil, fmt.Errorf("manifest: walk produced an invalid manifest: %w", err)
	}
	return src, nil
}

// scan appends the entry for local (already stat'ed as fi, named rel in the
// manifest) and, for a directory, everything below it.
func scan(ctx context.Context, items []walkItem, local, rel string, fi fs.FileInfo, pr *progress, skip func(string, error)) ([]walkItem, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := validatePath(rel, DefaultLimits.MaxPathLen); err != nil {
		skip(local, err)
		return items, nil
	}
	it := walkItem{local: local, e: Entry{Path: rel, MTime: fi.ModTime().UnixNano()}}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		it.inode, it.dev = st.Ino, uint64(st.Dev)
	}
	switch m := fi.Mode(); {
	case m.IsRegular():
		it.e.Kind = KindFile
		it.e.Mode = uint32(m.Perm())
		it.e.Size = fi.Size()
		items = append(items, it)
		pr.add(1, it.e.Size, local)
		return items, nil
	case m&fs.ModeSymlink != 0:
		target, err := os.Readlink(local)
		if err != nil {
			return nil, fmt.Errorf("manifest: %w", err)
		}
		if err := validateTarget(rel, target, DefaultLimits.MaxPathLen); err != nil {
			skip(local, err)
			return items, nil
		}
		it.e.Kind = KindSymlink
		it.e.Target = target
		items = append(items, it)
		pr.add(1, 0, local)
		return items, nil
	case m.IsDir():
		it.e.Kind = KindDir
		it.e.Mode = uint32(m.Perm())
		items = append(items, it)
		pr.add(1, 0, local)
	default:
		skip(local, fmt.Errorf("%w: %s", ErrSpecialFile, m.Type()))
		return items, nil
	}
	des, err := os.ReadDir(local)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	for _, de := range des {
		child := filepath.Join(local, de.Name())
		cfi, err := de.Info() // lstat
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed since ReadDir
			}
			return nil, fmt.Errorf("manifest: %w", err)
		}
		if items, err = scan(ctx, items, child, path.Join(rel, de.Name()), cfi, pr, skip); err != nil {
			return nil, err
		}
	}
	return items, nil
}

// hashItem fills it.e.Chunks from the cache or by hashing the file. If the
// file's size or mtime changed since the scan, the entry takes the values of
// the version that was hashed; if it changes while being hashed, it fails.
func hashItem(ctx context.Context, it *walkItem, cs uint32, buf *[]byte, cache HashCache, pr *progress) error {
	key := FileKey{Path: it.local, Size: it.e.Size, MTime: it.e.MTime, Inode: it.inode, Dev: it.dev, ChunkSize: cs}
	if cache != nil {
		if hs, ok := cache.Lookup(key); ok && int64(len(hs)) == ChunkCount(key.Size, cs) {
			it.e.Chunks = hs
			pr.done(1, it.e.Size, it.local)
			return nil
		}
	}
	f, err := os.Open(it.local)
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	defer f.Close()
	before, err := f.Stat()
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	if !before.Mode().IsRegular() {
		return fmt.Errorf("%w: %s is no longer a regular file", ErrFileChanged, it.local)
	}
	if before.Size() != key.Size || before.ModTime().UnixNano() != key.MTime {
		pr.grow(before.Size() - key.Size)
		key.Size, key.MTime = before.Size(), before.ModTime().UnixNano()
		if st, ok := before.Sys().(*syscall.Stat_t); ok {
			key.Inode, key.Dev = st.Ino, uint64(st.Dev)
		}
		it.e.Size, it.e.MTime = key.Size, key.MTime
	}
	if need := min(key.Size, int64(cs)); int64(len(*buf)) < need {
		*buf = make([]byte, need)
	}
	hs, err := hashChunksBuf(ctx, f, key.Size, cs, *buf, func(n int64) { pr.done(0, n, it.local) })
	if errors.Is(err, ErrSizeMismatch) {
		return fmt.Errorf("%w: %s: %w", ErrFileChanged, it.local, err)
	}
	if err != nil {
		return fmt.Errorf("manifest: hashing %s: %w", it.local, err)
	}
	after, err := f.Stat()
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	if after.Size() != key.Size || after.ModTime().UnixNano() != key.MTime {
		return fmt.Errorf("%w: %s", ErrFileChanged, it.local)
	}
	it.e.Chunks = hs
	if cache != nil {
		cache.Store(key, hs)
	}
	pr.done(1, 0, it.local)
	return nil
}

// progress serializes and throttles WalkProgress reports.
type progress struct {
	fn   func(WalkProgress)
	mu   sync.Mutex
	p    WalkProgress
	last time.Time
}

const progressEvery = 50 * time.Millisecond

// add counts scanned entries and bytes (phase "scan": the totals grow).
func (pr *progress) add(files, bytes int64, cur string) {
	if pr.fn == nil {
		return
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.p.Files += files
	pr.p.Bytes += bytes
	pr.p.FilesTotal, pr.p.BytesTotal = pr.p.Files, pr.p.Bytes
	pr.p.Current = cur
	pr.maybe()
}

// done counts hashed files and bytes.
func (pr *progress) done(files, bytes int64, cur string) {
	if pr.fn == nil {
		return
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.p.Files += files
	pr.p.Bytes += bytes
	pr.p.Current = cur
	pr.maybe()
}

// grow adjusts the byte total for a file whose size changed after the scan.
func (pr *progress) grow(delta int64) {
	pr.mu.Lock()
	pr.p.BytesTotal += delta
	pr.mu.Unlock()
}

func (pr *progress) maybe() {
	if now := time.Now(); now.Sub(pr.last) >= progressEvery {
		pr.last = now
		pr.fn(pr.p)
	}
}

// flush reports the current state unconditionally.
func (pr *progress) flush() {
	if pr.fn == nil {
		return
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.last = time.Now()
	pr.fn(pr.p)
}
