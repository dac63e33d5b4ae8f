package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/bits"
	"path"
	"strconv"
	"strings"

	"github.com/pcp-p2p/pcp/manifest"
	"github.com/pcp-p2p/pcp/store"
)

// Entry states in a plan: one byte per manifest entry is all the receiver
// keeps per entry (10 MB at manifest.DefaultLimits.MaxEntries). Everything
// else per file lives in the manifest table on disk, in the resume log, or,
// while a file is being fetched, in the fileTable.
const (
	stDir        uint8 = iota + 1 // a directory: created at apply, mode and mtime at the end
	stSymlink                     // created at the end
	stFresh                       // fetch every chunk into a new staging file
	stResume                      // fetch the chunks the log lacks into the existing staging file
	stRepair                      // a differing file in place that may be replaced: its good chunks are copied to a new staging file at apply
	stPresent                     // identical file in place: mode and mtime only
	stComplete                    // recorded complete in the log and untouched since
	stConflict                    // differs and may not be replaced
	stSkipped                     // differs and is left as it is (the receiver chose to skip it)
	stUnselected                  // outside the selection (ReceiveOptions.Select): never looked at, created or fetched
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
	// stageOK: the staging directory exists as a real directory (not a
	// symlink), so staging files in it may be resumed.
	stageOK bool
	// skipFiles and skipBytes count the files (and their bytes) left as
	// they are at the destination because they differ and were skipped.
	skipFiles int
	skipBytes int64
	// part is the selection (selectplan.go).
	part selPart
}

// stageName is the staging file of entry i, inside the staging directory.
func (r *receiver) stageName(i int) string { return path.Join(r.stage, strconv.Itoa(i)) }

// makePlan classifies every entry in one pass over the manifest. It reads
// the destination but changes nothing there; it records in the resume log
// the chunks of files under repair that are already right. An offer with
// entries the destination cannot hold fails first, with a *RefusedError.
func (r *receiver) makePlan(ctx context.Context) (*plan, error) {
	if err := r.refuse(ctx); err != nil { // before anything at the destination is read
		return nil, err
	}
	t := r.t
	p := &plan{state: make([]uint8, t.Len()), stageOK: isRealDir(r.dest, r.stage)}
	if err := r.selectPart(ctx, p); err != nil {
		return nil, err
	}
	add := func(list *[]string, s string) {
		if len(*list) < maxListed {
			*list = append(*list, s)
		}
	}
	// under is a directory entry that conflicts (something else is in its
	// place): its subtree follows it in manifest order and cannot be
	// placed either, so it conflicts with it, unlisted.
	under := ""
	// absent is a directory entry that is not at the destination: nothing
	// below it is either, so its subtree is not looked up (a fresh receive
	// of many small files spent an openat(2) per file finding so). What
	// appears there after the plan is never replaced: files are placed
	// with a rename that does not replace.
	absent := ""
	err := t.Scan(ctx, func(i int, e *manifest.Entry) error {
		if path.Dir(e.Path) == "." { // paths are validated: relative and clean
			p.offer.TopLevelCount++
			add(&p.offer.TopLevel, e.Path)
		}
		if p.state[i] == stUnselected {
			countEntry(&p.offer, e)
			return nil
		}
		if under != "" && len(e.Path) > len(under) && e.Path[:len(under)] == under {
			p.state[i] = stConflict
			switch e.Kind {
			case manifest.KindDir:
				p.offer.Dirs++
			case manifest.KindFile:
				p.offer.Files++
				p.offer.TotalBytes += e.Size
			}
			return nil
		}
		under = ""
		var st fs.FileInfo
		exists := false
		if absent == "" || !strings.HasPrefix(e.Path, absent) {
			absent = ""
			var err error
			st, err = r.dest.Lstat(e.Path)
			exists = err == nil
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("checking %s: %w", e.Path, err)
			}
			if !exists && e.Kind == manifest.KindDir {
				absent = e.Path + "/"
			}
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
				under = e.Path + "/"
			}
		case manifest.KindSymlink:
			p.state[i] = stSymlink
			if exists {
				target, err := readSymlink(r.dest, e.Path)
				if st.Mode()&fs.ModeSymlink == 0 || err != nil || target != e.Target {
					conflict("differs")
				}
			}
		case manifest.KindFile:
			p.offer.Files++
			p.offer.TotalBytes += e.Size
			s, err := r.planFile(ctx, i, e, st, exists, p)
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
	if err := p.offerSelection(); err != nil {
		return nil, err
	}
	return p, nil
}

// planFile decides what to do with one file and counts the bytes that need
// not be fetched.
func (r *receiver) planFile(ctx context.Context, i int, e *manifest.Entry, st fs.FileInfo, exists bool, p *plan) (uint8, error) {
	o := &p.offer
	cs := r.t.ChunkSize()
	if !exists {
		return r.planStaged(ctx, i, e, p)
	}
	if !st.Mode().IsRegular() {
		if st.Mode()&fs.ModeSymlink != 0 && r.opts.Overwrite {
			return stFresh, nil // the link is replaced by the rename
		}
		return stConflict, nil
	}
	// A file this transfer put in place is its own only while it is
	// exactly what was recorded then: an edit changes the ctime even when
	// size and mtime are put back.
	id, known, err := r.rlog.Completion(r.root, uint32(i))
	if err != nil {
		return 0, err
	}
	// Where a stat carries no identity (Windows), the file is asked
	// through a handle; without one at all, it is never trusted unread.
	cur := fileID(st)
	if cur == noIdentity {
		if cur, err = idOf(r.dest, e.Path); err != nil {
			cur = noIdentity
		}
	}
	ours := known && cur != noIdentity && id == cur
	if ours && !r.opts.Reverify {
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
	// It differs: replace it only if it is still ours (damaged, found by
	// Reverify) or with Overwrite; anything else is someone's edit.
	if !ours && !r.opts.Overwrite {
		return stConflict, nil
	}
	// Repair: apply copies the chunks that are right into a new staging
	// file; only the others are fetched.
	n := manifest.ChunkCount(e.Size, cs)
	for c, k := int64(0), 0; c < n; c++ {
		if k < len(bad) && bad[k] == c {
			k++
			continue
		}
		o.PresentBytes += manifest.ChunkLen(e.Size, cs, c)
	}
	return stRepair, nil
}

// planStaged decides about a file not at the destination: fetch it, or
// resume its staging file. Logged chunks count only while their staging
// file is a regular file in a real staging directory; otherwise the log
// forgets them and the file is fetched into a new one.
func (r *receiver) planStaged(ctx context.Context, i int, e *manifest.Entry, p *plan) (uint8, error) {
	done, err := r.rlog.DoneChunks(r.root, uint32(i))
	if err != nil {
		return 0, err
	}
	if done == nil {
		return stFresh, nil
	}
	if !p.stageOK || !r.stagedRegular(i) {
		return stFresh, r.rlog.DropChunks(r.root, uint32(i))
	}
	if r.opts.Reverify {
		if done, err = r.reverify(ctx, i, e, done); err != nil {
			return 0, err
		}
	}
	p.offer.ResumeBytes += doneBytes(done, e.Size, r.cs)
	return stResume, nil
}

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
