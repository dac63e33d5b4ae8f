package engine

// Entry points for cmd/pcp that wrap p2p, store and manifest, so that the
// CLI imports only engine and auth.

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pcp-p2p/pcp/manifest"
	"github.com/pcp-p2p/pcp/store"
)

// Files inside the state directory (see DefaultStateDir).
const (
	ResumeLogFile = "resume.db"    // the receiver's resume log
	HashCacheFile = "hashcache.db" // the sender's hash cache
	IdentityFile  = "node.key"     // `pcp node`'s identity
)

// ErrNoTransfer: Verify found no transfer in the resume log for the
// directory (or the requested root).
var ErrNoTransfer = errors.New("no matching transfer in the resume log")

// DefaultStateDir returns $PCP_STATE_DIR, else $XDG_STATE_HOME/pcp, else
// ~/.local/state/pcp (else a directory under os.TempDir() when there is no
// home directory). It does not create the directory.
func DefaultStateDir() string {
	if d := os.Getenv("PCP_STATE_DIR"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "pcp")
	}
	if home, err := os.UserHomeDir(); err == nil && home != "" {
		return filepath.Join(home, ".local", "state", "pcp")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("pcp-state-%d", os.Getuid()))
}

// Difference is one way a tree on disk differs from its manifest. Problem
// is "missing", "size", "content", "type" or "symlink target".
type Difference = manifest.Difference

// VerifyOptions choose the manifest Verify checks against. With
// ManifestFile set, that file is used; otherwise the resume log at
// ResumeLogPath is searched.
type VerifyOptions struct {
	ResumeLogPath string
	ManifestFile  string
	// Root selects a transfer in the resume log by its root (hex, a unique
	// prefix is enough); "" = the transfer whose destination is the
	// directory (or its parent), finished ones first, most recent first.
	Root string
	// Result, if not nil, is told which tree was checked before hashing
	// starts.
	Result func(VerifyTarget)
}

// VerifyTarget describes what Verify checks.
type VerifyTarget struct {
	Root  string // manifest root, hex
	Dir   string // the directory the manifest's paths are relative to
	Files int    // regular files checked
	Bytes int64  // bytes to hash
	// Selection is the part of the transfer that was received (the resume
	// log records it), zero if all: the NotSelectedFiles files
	// (NotSelectedBytes) outside it are not checked.
	Selection        Selection
	NotSelectedFiles int
	NotSelectedBytes int64
}

// Verify re-checks the tree at dir against a manifest and returns every
// difference (none means the tree matches). dir may be the destination of
// a transfer (holding its top-level names) or one top-level directory of it.
// progress, if not nil, receives hashed byte counts as deltas. An error is
// returned only when no manifest is found or the check cannot proceed.
func Verify(ctx context.Context, dir string, opts VerifyOptions, progress func(bytes int64)) ([]Difference, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s: not a directory", dir)
	}
	tmpDir := tempDirFor(opts.ResumeLogPath)
	var t *manifest.Table
	if opts.ManifestFile != "" {
		if t, err = ReadManifestFile(opts.ManifestFile, tmpDir); err != nil {
			return nil, fmt.Errorf("manifest %s: %w", opts.ManifestFile, err)
		}
	} else {
		if t, err = manifestFromLog(opts.ResumeLogPath, abs, opts.Root, tmpDir); err != nil {
			return nil, err
		}
	}
	defer t.Close()
	root := t.Root()
	base, sub, err := pickBase(ctx, abs, t)
	if err != nil {
		return nil, err
	}
	if sub != "" {
		st, err := subTable(ctx, t, sub, tmpDir)
		if err != nil {
			return nil, err
		}
		defer st.Close()
		t = st
	}
	tgt := VerifyTarget{Root: root.String(), Dir: base}
	t, closePart, err := verifyPart(ctx, t, opts, root, tmpDir, &tgt) // verifysel.go
	if err != nil {
		return nil, err
	}
	defer closePart()
	if t != nil {
		tgt.Files, tgt.Bytes = int(t.Files()), t.TotalSize()
	}
	if opts.Result != nil {
		opts.Result(tgt)
	}
	if t == nil {
		return nil, nil
	}
	return manifest.VerifyTree(ctx, base, t, progress)
}

// errStop ends a Scan early.
var errStop = errors.New("stop")

// pickBase decides whether dir holds the manifest's top-level names, or is
// itself one of them; in that case it returns dir's parent and the name.
func pickBase(ctx context.Context, dir string, t *manifest.Table) (base, sub string, err error) {
	name := filepath.Base(dir)
	found, named := false, false
	err = t.Scan(ctx, func(_ int, e *manifest.Entry) error {
		if strings.Contains(e.Path, "/") {
			return nil
		}
		if _, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(e.Path))); err == nil {
			found = true
			return errStop
		}
		named = named || e.Path == name
		return nil
	})
	switch {
	case err != nil && !errors.Is(err, errStop):
		return "", "", err
	case found || !named:
		return dir, "", nil
	}
	return filepath.Dir(dir), name, nil
}

// subTable is the manifest of the entries at or under the top-level name
// sub.
func subTable(ctx context.Context, t *manifest.Table, sub, tmpDir string) (*manifest.Table, error) {
	return filterTable(ctx, t, tmpDir, func(_ int, e *manifest.Entry) bool {
		return e.Path == sub || strings.HasPrefix(e.Path, sub+"/")
	})
}

// filterTable is the manifest of the entries of t that keep keeps,
// streamed through an encoder into a new table in tmpDir.
func filterTable(ctx context.Context, t *manifest.Table, tmpDir string, keep func(i int, e *manifest.Entry) bool) (*manifest.Table, error) {
	pr, pw := io.Pipe()
	go func() {
		enc := manifest.NewEncoder(pw, t.ChunkSize())
		err := t.Scan(ctx, func(i int, e *manifest.Entry) error {
			if !keep(i, e) {
				return nil
			}
			n := manifest.ChunkCount(e.Size, t.ChunkSize())
			e.Chunks = e.Chunks[:0]
			for c := int64(0); c < n; c++ {
				h, err := t.ChunkHash(i, c)
				if err != nil {
					return err
				}
				e.Chunks = append(e.Chunks, h)
			}
			return enc.Add(e)
		})
		if err == nil {
			err = enc.Close()
		}
		pw.CloseWithError(err)
	}()
	st, err := manifest.DecodeTable(pr, tmpDir, manifest.Limits{})
	pr.CloseWithError(io.ErrClosedPipe) // unblocks the encoder on failure
	return st, err
}

// manifestFromLog finds the transfer for dir (or root) in the resume log.
func manifestFromLog(logPath, dir, root, tmpDir string) (*manifest.Table, error) {
	if logPath == "" {
		return nil, fmt.Errorf("%w: no resume log", ErrNoTransfer)
	}
	if _, err := os.Stat(logPath); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s does not exist", ErrNoTransfer, logPath)
	}
	l, err := store.OpenResumeLog(logPath)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	list, err := l.List()
	if err != nil {
		return nil, err
	}
	var pick *store.TransferInfo
	if root != "" {
		root = strings.ToLower(root)
		for i := range list {
			if strings.HasPrefix(list[i].Root.String(), root) {
				if pick != nil {
					return nil, fmt.Errorf("root prefix %q is ambiguous", root)
				}
				pick = &list[i]
			}
		}
		if pick == nil {
			return nil, fmt.Errorf("%w: root %s", ErrNoTransfer, root)
		}
	} else {
		pick = chooseTransfer(list, dir)
		if pick == nil {
			return nil, fmt.Errorf("%w: none received into %s or its parent (use --manifest or --root)", ErrNoTransfer, dir)
		}
	}
	var t *manifest.Table
	err = l.ReadManifest(pick.Root, func(r io.Reader) error {
		var err error
		t, err = manifest.DecodeTable(bufio.NewReaderSize(r, 64<<10), tmpDir, manifest.Limits{})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("stored manifest %s: %w", pick.Root.Short(), err)
	}
	if t.Root() != pick.Root {
		t.Close()
		return nil, fmt.Errorf("stored manifest %s hashes to %s", pick.Root.Short(), t.Root().Short())
	}
	return t, nil
}

// chooseTransfer picks, among transfers whose Dest is dir or dir's parent,
// a finished one before an unfinished one, exact Dest before parent, most
// recently updated first (list is sorted so).
func chooseTransfer(list []store.TransferInfo, dir string) *store.TransferInfo {
	parent := filepath.Dir(dir)
	best, bestScore := -1, -1
	for i, t := range list {
		d := filepath.Clean(t.Dest)
		score := 0
		switch d {
		case dir:
			score = 2
		case parent:
			score = 1
		default:
			continue
		}
		if t.Finished {
			score += 4
		}
		if score > bestScore {
			best, bestScore = i, score
		}
	}
	if best < 0 {
		return nil
	}
	return &list[best]
}

// TransferInfo describes one transfer in the resume log.
type TransferInfo struct {
	Root             string // hex
	Dest             string
	Created, Updated time.Time
	Files            int64
	TotalBytes       int64
	DoneBytes        int64
	TotalChunks      int64
	DoneChunks       int64
	Finished         bool
	// Names are the offer's first top-level names (NameCount has how many
	// there are), Peer the sender's peer ID: empty for a transfer recorded
	// by a pcp older than them.
	Names     []string
	NameCount int
	Peer      string
}

// ListTransfers lists the transfers in the resume log at logPath, most
// recently updated first. A missing log is an empty list.
func ListTransfers(logPath string) ([]TransferInfo, error) {
	if _, err := os.Stat(logPath); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	l, err := store.OpenResumeLog(logPath)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	list, err := l.List()
	if err != nil {
		return nil, err
	}
	out := make([]TransferInfo, len(list))
	for i, t := range list {
		out[i] = TransferInfo{
			Root: t.Root.String(), Dest: t.Dest, Created: t.Created, Updated: t.Updated,
			Files: t.Files, TotalBytes: t.TotalBytes, DoneBytes: t.DoneBytes,
			TotalChunks: t.TotalChunks, DoneChunks: t.DoneChunks, Finished: t.Finished,
		}
		withMeta(l, &out[i], t.Root)
	}
	return out, nil
}

// PruneTransfers deletes finished transfers from the resume log (all
// transfers, resumable ones too, when all is set) and returns how many it
// deleted. A missing log prunes nothing.
func PruneTransfers(logPath string, all bool) (int, error) {
	if _, err := os.Stat(logPath); errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	l, err := store.OpenResumeLog(logPath)
	if err != nil {
		return 0, err
	}
	defer l.Close()
	list, err := l.List()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, t := range list {
		if !all && !t.Finished {
			continue
		}
		if err := l.Delete(t.Root); err != nil && !errors.Is(err, store.ErrNotFound) {
			return n, err
		}
		n++
	}
	return n, nil
}

// ValidRootPrefix reports whether s could be (a prefix of) a hex root.
func ValidRootPrefix(s string) bool {
	if s == "" || len(s) > 2*manifest.HashSize {
		return false
	}
	if len(s)%2 == 1 {
		s += "0"
	}
	_, err := hex.DecodeString(s)
	return err == nil
}
