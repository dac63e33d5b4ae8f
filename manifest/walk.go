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
	// holds one chunk buffer, and Workers of them while it hashes a file of
	// parallelMinChunks chunks or more, on Workers goroutines.
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
	// Exclude, if not nil, leaves out each entry below the top-level paths
	// for which it returns true: path is the entry's manifest path
	// ("photos/raw/a.jpg"), dir whether it is a directory, which is left
	// out with everything below it. Entries left out are not told to OnSkip.
	Exclude func(path string, dir bool) bool
	// TempDir holds the Table's files (created and unlinked at once);
	// "" means os.TempDir().
	TempDir string
}

// Source is a walked set of paths. Its Table holds the manifest on disk;
// Local maps an entry back to where its data lives.
type Source struct {
	Table   *Table
	tops    map[string]string // top-level name -> absolute local path
	renamed map[string]string // entries whose on-disk name is not NFC (pathrules_nfc.go)
}

// Local returns the absolute local path of entry i: the local path of its
// top-level entry joined with the rest of the entry's path.
func (s *Source) Local(i int) (string, error) {
	e, err := s.Table.Entry(i)
	if err != nil {
		return "", err
	}
	if l, ok := localOf(s.renamed, e.Path); ok {
		return l, nil
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
// hashed by opts.Workers goroutines, each reusing one chunk buffer (a file
// of parallelMinChunks or more is hashed by Workers goroutines at once,
// each with a buffer: at most Workers^2 chunk buffers in all), ahead of
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
			if err := scan(ctx, t.abs, t.name, fi, &files, &bytes, pr, opts.Exclude); err != nil {
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
		workers: workers,
		cache:   opts.Cache,
		exclude: opts.Exclude,
		pr:      pr,
		budget:  semaphore.NewWeighted(hashBudget),
		ordered: make(chan *walkItem, windowPerWorker*workers),
		// Buffered like ordered (which bounds what waits): handing each
		// file to a worker in a rendezvous cost a goroutine switch per
		// file, and a walk of 10k x 4 KiB files 180 ms instead of 125.
		work: make(chan *walkItem, windowPerWorker*workers),
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
	src := &Source{Table: t, tops: make(map[string]string, len(tops)), renamed: w.renamed.m}
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
		name := wireName(filepath.Base(abs))
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
