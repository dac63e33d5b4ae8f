package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/manifest"
	"github.com/pcp-p2p/pcp/store"
)

// File states in a plan.
const (
	fsFetch   = iota // chunks to fetch into the staging file
	fsPresent        // identical file already in place: nothing to do but metadata
	fsRepair         // a differing file in place that we may replace: move it to staging, fetch the bad chunks
)

// fileState is the receiver's view of one file entry.
type fileState struct {
	state     uint8
	have      bitset // chunks durable in the staging file
	remaining int    // chunks not yet durable
	complete  bool   // renamed into place (this run or logged)
}

// plan is what the receiver will do, computed from the manifest, the resume
// log and what is already at the destination, before any byte moves.
type plan struct {
	files     map[int]*fileState // file entries only
	offer     Offer
	conflicts []string
	need      []wire.Ref
}

// stageName is the staging file of entry i, inside the staging directory.
func (r *receiver) stageName(i int) string { return path.Join(r.stage, strconv.Itoa(i)) }

// makePlan classifies every entry. It reads the destination but changes
// nothing there.
func (r *receiver) makePlan(ctx context.Context) (*plan, error) {
	m := r.m
	p := &plan{files: make(map[int]*fileState)}
	logged := make(map[int]bitset)
	complete := make(map[int]bool)
	if r.rlog != nil {
		err := r.rlog.Done(r.root, func(c store.ChunkRef) error {
			i := int(c.Entry)
			if i >= len(m.Entries) || int(c.Chunk) >= len(m.Entries[i].Chunks) {
				return nil // cannot happen for a log keyed by this root; ignore
			}
			b := logged[i]
			if b == nil {
				b = newBitset(len(m.Entries[i].Chunks))
				logged[i] = b
			}
			b.set(int(c.Chunk))
			return nil
		})
		if err != nil {
			return nil, err
		}
		if err := r.rlog.CompleteFiles(r.root, func(e uint32) error { complete[int(e)] = true; return nil }); err != nil {
			return nil, err
		}
	}
	for i := range m.Entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		e := &m.Entries[i]
		if path.Dir(e.Path) == "." { // paths are validated: relative and clean
			p.offer.TopLevel = append(p.offer.TopLevel, e.Path)
		}
		st, err := r.dest.Lstat(e.Path)
		exists := err == nil
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("checking %s: %w", e.Path, err)
		}
		switch e.Kind {
		case manifest.KindDir:
			p.offer.Dirs++
			if exists && !st.IsDir() {
				p.conflicts = append(p.conflicts, e.Path+" (not a directory)")
			}
		case manifest.KindSymlink:
			if exists {
				t, err := r.dest.Readlink(e.Path)
				if st.Mode()&fs.ModeSymlink == 0 || err != nil || t != e.Target {
					p.conflicts = append(p.conflicts, e.Path+" (differs)")
				}
			}
		case manifest.KindFile:
			p.offer.Files++
			p.offer.TotalBytes += e.Size
			fsx, err := r.planFile(ctx, i, e, st, exists, logged[i], complete[i])
			if err != nil {
				return nil, err
			}
			if fsx == nil {
				p.conflicts = append(p.conflicts, e.Path+" (differs)")
				fsx = &fileState{state: fsFetch, have: newBitset(len(e.Chunks))}
			}
			p.files[i] = fsx
			for c := range e.Chunks {
				if fsx.have.get(c) {
					n := manifest.ChunkLen(e.Size, m.ChunkSize, int64(c))
					if fsx.state == fsFetch {
						p.offer.ResumeBytes += n
					} else {
						p.offer.PresentBytes += n
					}
				} else {
					fsx.remaining++
					p.need = append(p.need, wire.Ref{Entry: uint32(i), Chunk: uint32(c)})
				}
			}
		}
	}
	p.offer.Conflicts = p.conflicts
	return p, nil
}

// planFile decides what to do with one file. A nil state means a conflict:
// a differing file that Overwrite does not allow us to replace.
func (r *receiver) planFile(ctx context.Context, i int, e *manifest.Entry, st fs.FileInfo, exists bool, logged bitset, complete bool) (*fileState, error) {
	n := len(e.Chunks)
	if !exists {
		fsx := &fileState{state: fsFetch, have: newBitset(n)}
		if logged != nil {
			if _, err := r.dest.Lstat(r.stageName(i)); err == nil {
				fsx.have = logged
				if r.opts.Reverify {
					if err := r.reverify(ctx, i, e, fsx); err != nil {
						return nil, err
					}
				}
			}
		}
		return fsx, nil
	}
	if !st.Mode().IsRegular() {
		if st.Mode()&fs.ModeSymlink != 0 && r.opts.Overwrite {
			return &fileState{state: fsFetch, have: newBitset(n)}, nil // the link is replaced by the rename
		}
		return nil, nil
	}
	// A file we finished earlier and nobody touched since: trust the log.
	if complete && !r.opts.Reverify && st.Size() == e.Size && st.ModTime().UnixNano() == e.MTime {
		return &fileState{state: fsPresent, have: fullBitset(n), complete: true}, nil
	}
	f, err := r.dest.Open(e.Path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", e.Path, err)
	}
	bad, err := manifest.CompareFile(ctx, f, st.Size(), e, r.m.ChunkSize)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("comparing %s: %w", e.Path, err)
	}
	have := fullBitset(n)
	for _, c := range bad {
		have.clear(int(c))
	}
	if len(bad) == 0 && st.Size() == e.Size {
		return &fileState{state: fsPresent, have: have}, nil
	}
	if complete || r.opts.Overwrite {
		return &fileState{state: fsRepair, have: have}, nil
	}
	return nil, nil
}

// reverify re-hashes the chunks the log says are in the staging file and
// forgets those that do not match.
func (r *receiver) reverify(ctx context.Context, i int, e *manifest.Entry, fsx *fileState) error {
	f, err := r.dest.Open(r.stageName(i))
	if err != nil {
		fsx.have = newBitset(len(e.Chunks))
		return nil
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	bad, err := manifest.CompareFile(ctx, f, st.Size(), e, r.m.ChunkSize)
	if err != nil {
		return err
	}
	var forget []store.ChunkRef
	for _, c := range bad {
		if fsx.have.get(int(c)) {
			fsx.have.clear(int(c))
			forget = append(forget, store.ChunkRef{Entry: uint32(i), Chunk: uint32(c)})
		}
	}
	if len(forget) > 0 && r.rlog != nil {
		return r.rlog.Forget(r.root, forget)
	}
	return nil
}

// apply prepares the destination for the plan: the staging directory, the
// directories, and files under repair moved into staging.
func (r *receiver) apply(p *plan) error {
	if err := r.dest.MkdirAll(r.stage, 0o700); err != nil {
		return fmt.Errorf("creating staging directory: %w", err)
	}
	sd, err := r.dest.OpenRoot(r.stage)
	if err != nil {
		return fmt.Errorf("opening staging directory: %w", err)
	}
	r.stageDir = sd
	for i := range r.m.Entries {
		e := &r.m.Entries[i]
		if e.Kind == manifest.KindDir {
			if err := r.dest.MkdirAll(e.Path, 0o700); err != nil {
				return fmt.Errorf("creating %s: %w", e.Path, err)
			}
		}
	}
	for i, fsx := range p.files {
		if fsx.state != fsRepair {
			continue
		}
		e := &r.m.Entries[i]
		if err := r.dest.Rename(e.Path, r.stageName(i)); err != nil {
			return fmt.Errorf("moving %s aside for repair: %w", e.Path, err)
		}
		if r.rlog != nil {
			var refs []store.ChunkRef
			for c := range e.Chunks {
				if fsx.have.get(c) {
					refs = append(refs, store.ChunkRef{Entry: uint32(i), Chunk: uint32(c)})
				}
			}
			if err := r.rlog.MarkDone(r.root, refs); err != nil {
				return err
			}
		}
		fsx.state = fsFetch
		fsx.complete = false
	}
	return nil
}

// finishTree creates symlinks and applies directory modes and times, deepest
// first, once every file is in place.
func (r *receiver) finishTree() error {
	for i := range r.m.Entries {
		e := &r.m.Entries[i]
		if e.Kind != manifest.KindSymlink {
			continue
		}
		if t, err := r.dest.Readlink(e.Path); err != nil || t != e.Target {
			if err := r.dest.Symlink(e.Target, e.Path); err != nil {
				return fmt.Errorf("creating symlink %s: %w", e.Path, err)
			}
		}
		if err := r.lchtimes(e.Path, e.MTime); err != nil {
			return fmt.Errorf("setting mtime of symlink %s: %w", e.Path, err)
		}
	}
	for i := len(r.m.Entries) - 1; i >= 0; i-- {
		e := &r.m.Entries[i]
		if e.Kind != manifest.KindDir {
			continue
		}
		if err := r.dest.Chmod(e.Path, os.FileMode(e.Mode)); err != nil {
			return fmt.Errorf("setting mode of %s: %w", e.Path, err)
		}
		t := time.Unix(0, e.MTime)
		if err := r.dest.Chtimes(e.Path, t, t); err != nil {
			return fmt.Errorf("setting mtime of %s: %w", e.Path, err)
		}
	}
	r.closeStage()
	_ = r.dest.RemoveAll(r.stage)
	return nil
}

// lchtimes sets a symlink's own mtime. os.Root has no Lchtimes, so the
// parent directory is opened through the root (which cannot escape it) and
// utimensat(AT_SYMLINK_NOFOLLOW) runs relative to it.
func (r *receiver) lchtimes(name string, mtime int64) error {
	d, err := r.dest.Open(path.Dir(name))
	if err != nil {
		return err
	}
	defer d.Close()
	ts := unix.NsecToTimespec(mtime)
	return unix.UtimesNanoAt(int(d.Fd()), path.Base(name), []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
}

// bitset is a fixed-size set of chunk indexes.
type bitset []uint64

func newBitset(n int) bitset { return make(bitset, (n+63)/64) }

func fullBitset(n int) bitset {
	b := newBitset(n)
	for i := 0; i < n; i++ {
		b.set(i)
	}
	return b
}

func (b bitset) get(i int) bool { return b[i/64]&(1<<(i%64)) != 0 }
func (b bitset) set(i int)      { b[i/64] |= 1 << (i % 64) }
func (b bitset) clear(i int)    { b[i/64] &^= 1 << (i % 64) }
