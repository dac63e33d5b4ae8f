package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/bits"
	"os"
	"path"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pcp-p2p/pcp/manifest"
	"github.com/pcp-p2p/pcp/store"
)

// Entry states in a plan: one byte per manifest entry is all the receiver
// keeps per entry (10 MB at manifest.DefaultLimits.MaxEntries). Everything
// else per file lives in the manifest table on disk, in the resume log, or,
// while a file is being fetched, in the fileTable.
const (
	stDir      uint8 = iota + 1 // a directory: created at apply, mode and mtime at the end
	stSymlink                   // created at the end
	stFresh                     // fetch every chunk into a new staging file
	stResume                    // fetch the chunks the log lacks into the existing staging file
	stRepair                    // a differing file in place that may be replaced: moved to staging at apply; its good chunks are logged
	stPresent                   // identical file in place: mode and mtime only
	stComplete                  // recorded complete in the log and untouched since
	stConflict                  // differs and may not be replaced
)

// maxListed bounds the names an Offer lists; the counts are exact.
const maxListed = 100

// plan is what the receiver will do, computed from the manifest, the resume
// log and what is already at the destination, before any byte moves.
type plan struct {
	state []uint8
	offer Offer
	// fetch is the number of files that get a staging file (fresh, resumed
	// or repaired); already the files that need no data.
	fetch, already int
}

// stageName is the staging file of entry i, inside the staging directory.
func (r *receiver) stageName(i int) string { return path.Join(r.stage, strconv.Itoa(i)) }

// makePlan classifies every entry in one pass over the manifest. It reads
// the destination but changes nothing there; it records in the resume log
// the chunks of files under repair that are already right.
func (r *receiver) makePlan(ctx context.Context) (*plan, error) {
	t := r.t
	p := &plan{state: make([]uint8, t.Len())}
	add := func(list *[]string, s string) {
		if len(*list) < maxListed {
			*list = append(*list, s)
		}
	}
	err := t.Scan(ctx, func(i int, e *manifest.Entry) error {
		if path.Dir(e.Path) == "." { // paths are validated: relative and clean
			p.offer.TopLevelCount++
			add(&p.offer.TopLevel, e.Path)
		}
		st, err := r.dest.Lstat(e.Path)
		exists := err == nil
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("checking %s: %w", e.Path, err)
		}
		conflict := func(why string) {
			p.state[i] = stConflict
			p.offer.ConflictCount++
			add(&p.offer.Conflicts, e.Path+" ("+why+")")
		}
		switch e.Kind {
		case manifest.KindDir:
			p.offer.Dirs++
			p.state[i] = stDir
			if exists && !st.IsDir() {
				conflict("not a directory")
			}
		case manifest.KindSymlink:
			p.state[i] = stSymlink
			if exists {
				target, err := r.dest.Readlink(e.Path)
				if st.Mode()&fs.ModeSymlink == 0 || err != nil || target != e.Target {
					conflict("differs")
				}
			}
		case manifest.KindFile:
			p.offer.Files++
			p.offer.TotalBytes += e.Size
			s, err := r.planFile(ctx, i, e, st, exists, &p.offer)
			if err != nil {
				return err
			}
			if s == stConflict {
				conflict("differs")
				return nil
			}
			p.state[i] = s
			switch s {
			case stPresent, stComplete:
				p.already++
			default:
				p.fetch++
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// planFile decides what to do with one file and counts the bytes that need
// not be fetched.
func (r *receiver) planFile(ctx context.Context, i int, e *manifest.Entry, st fs.FileInfo, exists bool, o *Offer) (uint8, error) {
	cs := r.t.ChunkSize()
	if !exists {
		if _, err := r.dest.Lstat(r.stageName(i)); err != nil {
			return stFresh, nil
		}
		done, err := r.rlog.DoneChunks(r.root, uint32(i))
		if err != nil {
			return 0, err
		}
		if done == nil {
			return stFresh, nil
		}
		if r.opts.Reverify {
			if done, err = r.reverify(ctx, i, e, done); err != nil {
				return 0, err
			}
		}
		o.ResumeBytes += doneBytes(done, e.Size, cs)
		return stResume, nil
	}
	if !st.Mode().IsRegular() {
		if st.Mode()&fs.ModeSymlink != 0 && r.opts.Overwrite {
			return stFresh, nil // the link is replaced by the rename
		}
		return stConflict, nil
	}
	complete, err := r.rlog.IsComplete(r.root, uint32(i))
	if err != nil {
		return 0, err
	}
	// A file we finished earlier and nobody touched since: trust the log.
	if complete && !r.opts.Reverify && st.Size() == e.Size && st.ModTime().UnixNano() == e.MTime {
		o.PresentBytes += e.Size
		return stComplete, nil
	}
	f, err := r.dest.Open(e.Path)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", e.Path, err)
	}
	bad, err := r.t.CompareFile(ctx, i, f, st.Size())
	f.Close()
	if err != nil {
		return 0, fmt.Errorf("comparing %s: %w", e.Path, err)
	}
	if len(bad) == 0 && st.Size() == e.Size {
		o.PresentBytes += e.Size
		return stPresent, nil
	}
	if !complete && !r.opts.Overwrite {
		return stConflict, nil
	}
	// Repair: log the chunks that are right, so that only the others are
	// fetched once the file is moved into staging. Should the process stop
	// before that move, the log's entries are ignored: a logged chunk
	// counts only while its staging file exists.
	n := manifest.ChunkCount(e.Size, cs)
	var refs []store.ChunkRef
	for c, k := int64(0), 0; c < n; c++ {
		if k < len(bad) && bad[k] == c {
			k++
			continue
		}
		o.PresentBytes += manifest.ChunkLen(e.Size, cs, c)
		refs = append(refs, store.ChunkRef{Entry: uint32(i), Chunk: uint32(c)})
		if len(refs) == markBatch {
			if err := r.rlog.MarkDone(r.root, refs); err != nil {
				return 0, err
			}
			refs = refs[:0]
		}
	}
	if err := r.rlog.MarkDone(r.root, refs); err != nil {
		return 0, err
	}
	return stRepair, nil
}

// markBatch bounds the refs handed to the resume log in one call.
const markBatch = 4096

// doneBytes is the number of bytes of the chunks set in done.
func doneBytes(done []uint64, size int64, cs uint32) int64 {
	n := manifest.ChunkCount(size, cs)
	var b int64
	for w, word := range done {
		first := int64(w) * 64
		if first >= n {
			break
		}
		if rest := n - first; rest < 64 {
			word &= 1<<rest - 1
		}
		b += int64(bits.OnesCount64(word)) * int64(cs)
	}
	// Every chunk but the last is full.
	if last := n - 1; b > 0 && isSet(done, last) {
		b -= int64(cs) - manifest.ChunkLen(size, cs, last)
	}
	return b
}

func isSet(b []uint64, c int64) bool {
	w := c / 64
	return w < int64(len(b)) && b[w]&(1<<(c%64)) != 0
}

// reverify re-hashes the chunks the log says are in the staging file and
// forgets those that do not match. It returns the remaining done set.
func (r *receiver) reverify(ctx context.Context, i int, e *manifest.Entry, done []uint64) ([]uint64, error) {
	f, err := r.dest.Open(r.stageName(i))
	if err != nil {
		return nil, nil
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	bad, err := r.t.CompareFile(ctx, i, f, st.Size())
	if err != nil {
		return nil, err
	}
	var forget []store.ChunkRef
	for _, c := range bad {
		if isSet(done, c) {
			done[c/64] &^= 1 << (c % 64)
			forget = append(forget, store.ChunkRef{Entry: uint32(i), Chunk: uint32(c)})
		}
	}
	if len(forget) > 0 {
		return done, r.rlog.Forget(r.root, forget)
	}
	return done, nil
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
	for i, s := range p.state {
		if s != stDir && s != stRepair {
			continue
		}
		e, err := r.t.Entry(i)
		if err != nil {
			return err
		}
		if s == stDir {
			if err := r.dest.MkdirAll(e.Path, 0o700); err != nil {
				return fmt.Errorf("creating %s: %w", e.Path, err)
			}
			continue
		}
		if err := r.dest.Rename(e.Path, r.stageName(i)); err != nil {
			return fmt.Errorf("moving %s aside for repair: %w", e.Path, err)
		}
		p.state[i] = stResume
	}
	return nil
}

// finishPresent applies mode and mtime to files that were already present
// but not recorded complete, and records them complete.
func (r *receiver) finishPresent() error {
	var ids []uint32
	for i, s := range r.plan.state {
		if s != stPresent {
			continue
		}
		e, err := r.t.Entry(i)
		if err != nil {
			return err
		}
		if err := r.dest.Chmod(e.Path, os.FileMode(e.Mode)); err != nil {
			return err
		}
		t := time.Unix(0, e.MTime)
		if err := r.dest.Chtimes(e.Path, t, t); err != nil {
			return err
		}
		if ids = append(ids, uint32(i)); len(ids) == markBatch {
			if err := r.rlog.MarkFileComplete(r.root, ids); err != nil {
				return err
			}
			ids = ids[:0]
		}
	}
	return r.rlog.MarkFileComplete(r.root, ids)
}

// finishTree creates symlinks and applies directory modes and times, once
// every file is in place. Entries are visited last to first: in the
// manifest's component order a directory's subtree follows it, so every
// directory is finished after everything inside it.
func (r *receiver) finishTree() error {
	for i := len(r.plan.state) - 1; i >= 0; i-- {
		s := r.plan.state[i]
		if s != stDir && s != stSymlink {
			continue
		}
		e, err := r.t.Entry(i)
		if err != nil {
			return err
		}
		if s == stSymlink {
			if target, err := r.dest.Readlink(e.Path); err != nil || target != e.Target {
				if err := r.dest.Symlink(e.Target, e.Path); err != nil {
					return fmt.Errorf("creating symlink %s: %w", e.Path, err)
				}
			}
			if err := r.lchtimes(e.Path, e.MTime); err != nil {
				return fmt.Errorf("setting mtime of symlink %s: %w", e.Path, err)
			}
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
