package manifest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"
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
// (FilesTotal is the number of regular files, BytesTotal their bytes, as
// counted by the scan; they are corrected as the hash phase finds files
// changed, added or removed since, and equal Files and Bytes in the last
// report).
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
	// may come from any goroutine. Without it Walk skips the scan, which
	// only computes the totals.
	Progress func(WalkProgress)
	// OnSkip, if not nil, is told of every local entry left out: special
	// files, symlinks whose target is absolute or escapes the tree
	// (ErrSymlinkEscapes), names the manifest cannot carry, and entries
	// that disappeared during the walk (an error wrapping fs.ErrNotExist).
	// Calls are serialized, in manifest order.
	OnSkip func(local string, err error)
	// TempDir holds the Table's files (created and unlinked at once);
	// "" means os.TempDir().
	TempDir string
}

// Source is a walked set of paths. Its Table holds the manifest on disk;
// Local maps an entry back to where its data lives.
type Source struct {
	Table *Table
	tops  map[string]string // top-level name -> absolute local path
}

// Local returns the absolute local path of entry i: the local path of its
// top-level entry joined with the rest of the entry's path.
func (s *Source) Local(i int) (string, error) {
	e, err := s.Table.Entry(i)
	if err != nil {
		return "", err
	}
	top, rest, _ := strings.Cut(e.Path, "/")
	base, ok := s.tops[top]
	if !ok {
		return "", fmt.Errorf("%w: entry %d (%q) is below no walked path", ErrInvalid, i, e.Path)
	}
	if rest == "" {
		return base, nil
	}
	return filepath.Join(base, filepath.FromSlash(rest)), nil
}

// Close closes the Table, releasing its files.
func (s *Source) Close() error { return s.Table.Close() }

// ErrSpecialFile is passed to OnSkip for sockets, devices and FIFOs.
var ErrSpecialFile = errors.New("manifest: not a regular file, directory or symlink")

// ErrNothingToSend: every path given to Walk was skipped (OnSkip has
// them), so the manifest would have no entry. A lone FIFO is not an empty
// transfer to report as a success.
var ErrNothingToSend = errors.New("manifest: nothing to send")

// specialKind names the type of a special file, for people.
func specialKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	}
	return "type " + m.Type().String()
}

// ErrFileChanged reports a file that changed while Walk was hashing it.
var ErrFileChanged = errors.New("manifest: file changed while hashing")

// Bounds of the hash phase's reorder window (see Walk).
const (
	windowPerWorker = 32      // entries between the walker and the writer, per worker
	hashBudget      = 4 << 20 // bytes of chunk hashes held by files not yet written
)

// topLevel is one path given to Walk.
type topLevel struct {
	name string // base name: the top-level entry's path
	abs  string // absolute local path, as given (a symlink is followed when read)
}

// Walk builds the manifest of paths into a Table. Each path becomes a
// top-level entry named by its base name (two with the same base name are
// an error); a path that is a symlink is followed, because the user named
// it. Inside the trees symlinks are recorded, never followed. Mode is the
// permission bits (setuid, setgid and sticky dropped), 0 for symlinks; MTime
// is the modification time in Unix nanoseconds (for a symlink, the link's
// own).
//
// Walk first counts files and bytes with a stat-only pass (phase "scan",
// only if opts.Progress is set), then walks the trees depth-first in
// component order (phase "hash"): it reads one directory's names at a time,
// sorts them and lstats each, emitting entries in manifest order. Files are
// hashed by opts.Workers goroutines, each reusing one chunk buffer, ahead of
// a single writer that streams the entries in order through an Encoder into
// an unlinked temporary file; DecodeTable of that file, which validates it
// once more, gives the Table. Between the walker and the writer at most
// windowPerWorker*Workers entries and hashBudget bytes of chunk hashes wait
// (a larger file waits alone). So memory is the names of the directories on
// the current path, the workers' buffers and the hashes of the files in
// flight, never anything per entry of the tree.
//
// A file that disappears before it is read is skipped (OnSkip); one that
// changes while it is hashed fails the walk with ErrFileChanged.
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
	tops, err := topLevels(paths)
	if err != nil {
		return nil, err
	}
	pr := &progress{fn: opts.Progress}

	// Phase 1: scan, for the totals.
	var files, bytes int64
	if pr.fn != nil {
		pr.p.Phase = "scan"
		for _, t := range tops {
			fi, err := os.Stat(t.abs)
			if errors.Is(err, fs.ErrNotExist) {
				continue // gone since topLevels; the hash phase reports it
			}
			if err != nil {
				return nil, fmt.Errorf("manifest: %w", err)
			}
			if err := scan(ctx, t.abs, t.name, fi, &files, &bytes, pr); err != nil {
				return nil, err
			}
		}
		pr.flush()
	}

	// Phase 2: walk in order, hash, encode.
	pr.mu.Lock()
	pr.p = WalkProgress{Phase: "hash", FilesTotal: files, BytesTotal: bytes}
	pr.mu.Unlock()
	tmp, err := os.CreateTemp(opts.TempDir, "pcp-walk-*")
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	defer tmp.Close()
	if err := os.Remove(tmp.Name()); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	enc := NewEncoder(tmp, cs)
	w := &walker{
		cs:      cs,
		cache:   opts.Cache,
		pr:      pr,
		budget:  semaphore.NewWeighted(hashBudget),
		ordered: make(chan *walkItem, windowPerWorker*workers),
		work:    make(chan *walkItem),
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return w.walk(gctx, tops) })
	for range workers {
		g.Go(func() error { return w.hash(gctx) })
	}
	g.Go(func() error { return w.write(gctx, enc, opts.OnSkip) })
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if w.entries == 0 {
		return nil, fmt.Errorf("%w: every path was skipped", ErrNothingToSend)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("manifest: writing the walk's manifest: %w", err)
	}
	pr.settle()
	pr.flush()

	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	t, err := DecodeTable(bufio.NewReaderSize(tmp, encBufSize), opts.TempDir, Limits{})
	if err != nil {
		if errors.Is(err, ErrInvalid) || errors.Is(err, ErrMalformed) || errors.Is(err, ErrTooLarge) {
			return nil, fmt.Errorf("manifest: walk produced an invalid manifest: %w", err)
		}
		return nil, err
	}
	src := &Source{Table: t, tops: make(map[string]string, len(tops))}
	for _, tl := range tops {
		src.tops[tl.name] = tl.abs
	}
	return src, nil
}

// topLevels checks the paths given to Walk and returns them sorted by name.
func topLevels(paths []string) ([]topLevel, error) {
	tops := make([]topLevel, 0, len(paths))
	seen := make(map[string]string, len(paths))
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
		if _, err := os.Stat(abs); err != nil { // follows a named symlink
			return nil, fmt.Errorf("manifest: %w", err)
		}
		tops = append(tops, topLevel{name: name, abs: abs})
	}
	slices.SortFunc(tops, func(a, b topLevel) int { return strings.Compare(a.name, b.name) })
	return tops, nil
}

// scanBatch is how many directory entries scan reads at a time.
const scanBatch = 256

// scan counts the entry local (already stat'ed as fi, named rel in the
// manifest) and everything below it: regular files and their bytes into
// files and bytes, every entry into the progress. It keeps nothing per
// entry: a directory is read in batches, and only its subdirectories' names
// wait for the batch to end.
func scan(ctx context.Context, local, rel string, fi fs.FileInfo, files, bytes *int64, pr *progress) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if validatePath(rel, DefaultLimits.MaxPathLen) != nil {
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
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	var subdirs []string
	for {
		des, err := f.ReadDir(scanBatch)
		for _, de := range des {
			if de.IsDir() {
				subdirs = append(subdirs, de.Name())
				continue
			}
			cfi, err := de.Info()
			if err != nil {
				continue // removed since; the hash phase sees it or not
			}
			if err := scan(ctx, filepath.Join(local, de.Name()), rel+"/"+de.Name(), cfi, files, bytes, pr); err != nil {
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
		if err := scan(ctx, child, rel+"/"+name, cfi, files, bytes, pr); err != nil {
			return err
		}
	}
	return nil
}

// walkItem is one entry of the hash phase, or one skipped local path, on
// its way from the walker to the writer.
type walkItem struct {
	e     Entry
	local string
	inode uint64
	dev   uint64
	skip  error         // not nil: no entry; the writer tells OnSkip
	cost  int64         // hash budget held until the writer takes the item
	done  chan struct{} // files: closed once hashed (or skip set)
}

// walker is the hash phase: walk emits items in order into ordered (and
// files also into work), the hash workers fill in chunk hashes, write
// encodes the items in order.
type walker struct {
	cs      uint32
	cache   HashCache
	pr      *progress
	budget  *semaphore.Weighted
	ordered chan *walkItem
	work    chan *walkItem
	entries int64 // written by the writer; read after it ends
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
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		it.inode, it.dev = st.Ino, uint64(st.Dev)
	}
	switch m := fi.Mode(); {
	case m.IsRegular():
		it.e.Kind = KindFile
		it.e.Mode = uint32(m.Perm())
		it.e.Size = fi.Size()
		return w.emit(ctx, it)
	case m&fs.ModeSymlink != 0:
		target, err := os.Readlink(local)
		if errors.Is(err, fs.ErrNotExist) {
			return w.skip(ctx, local, err)
		}
		if err != nil {
			return fmt.Errorf("manifest: %w", err)
		}
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
	if errors.Is(err, fs.ErrNotExist) {
		return w.skip(ctx, local, err) // the directory stays, empty
	}
	if errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("%w: %s is no longer a directory", ErrFileChanged, local)
	}
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	for i, name := range names {
		names[i] = "" // let the name go with the entry
		child := filepath.Join(local, name)
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
		if err := w.visit(ctx, child, rel+"/"+name, cfi); err != nil {
			return err
		}
	}
	return nil
}

// readNames returns the names in directory dir, sorted by bytes: the
// component order of its children.
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
	slices.Sort(names)
	return names, nil
}

// openNoFollow opens local for reading. Unless follow is set (a path the
// user named), a symlink put in place of what was lstat'ed fails with ELOOP
// instead of leading the walk out of the tree.
func openNoFollow(local string, follow bool) (*os.File, error) {
	if follow {
		return os.Open(local)
	}
	return os.OpenFile(local, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
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

// hash is one hash worker.
func (w *walker) hash(ctx context.Context) error {
	var buf []byte
	for it := range w.work {
		if err := w.hashItem(ctx, it, &buf); err != nil {
			return err
		}
		close(it.done)
	}
	return nil
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

// hashItem fills it.e.Chunks from the cache or by hashing the file. If the
// file's size or mtime changed since it was lstat'ed, the entry takes the
// values of the version that was hashed; if it changes while being hashed,
// it fails. A file gone before it is opened sets it.skip.
func (w *walker) hashItem(ctx context.Context, it *walkItem, buf *[]byte) error {
	cs, pr := w.cs, w.pr
	key := FileKey{Path: it.local, Size: it.e.Size, MTime: it.e.MTime, Inode: it.inode, Dev: it.dev, ChunkSize: cs}
	if w.cache != nil {
		if hs, ok := w.cache.Lookup(key); ok && int64(len(hs)) == ChunkCount(key.Size, cs) {
			it.e.Chunks = hs
			pr.done(1, it.e.Size, it.local)
			return nil
		}
	}
	f, err := openNoFollow(it.local, !strings.Contains(it.e.Path, "/"))
	if errors.Is(err, syscall.ELOOP) {
		return fmt.Errorf("%w: %s is no longer a regular file", ErrFileChanged, it.local)
	}
	if errors.Is(err, fs.ErrNotExist) {
		pr.grow(-1, -key.Size)
		it.skip = err
		return nil
	}
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
		pr.grow(0, before.Size()-key.Size)
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
	if w.cache != nil {
		w.cache.Store(key, hs)
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

// done counts hashed files and bytes. Files found since the scan can take
// the counts past the totals, which then follow them.
func (pr *progress) done(files, bytes int64, cur string) {
	if pr.fn == nil {
		return
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.p.Files += files
	pr.p.Bytes += bytes
	pr.p.FilesTotal = max(pr.p.FilesTotal, pr.p.Files)
	pr.p.BytesTotal = max(pr.p.BytesTotal, pr.p.Bytes)
	pr.p.Current = cur
	pr.maybe()
}

// grow adjusts the totals for a file that changed or went since the scan.
func (pr *progress) grow(files, bytes int64) {
	pr.mu.Lock()
	pr.p.FilesTotal += files
	pr.p.BytesTotal += bytes
	pr.mu.Unlock()
}

// settle makes the totals what the hash phase found, for its last report.
func (pr *progress) settle() {
	pr.mu.Lock()
	pr.p.FilesTotal, pr.p.BytesTotal = pr.p.Files, pr.p.Bytes
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
