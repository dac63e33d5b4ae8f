package engine

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"

	"github.com/pcp-p2p/pcp/manifest"
	"github.com/pcp-p2p/pcp/store"
)

// stagedRegular reports whether entry i's staging name is a regular file
// (the staging directory must be a real directory).
func (r *receiver) stagedRegular(i int) bool {
	st, err := r.dest.Lstat(r.stageName(i))
	return err == nil && st.Mode().IsRegular()
}

// isRealDir reports whether name is a directory itself, not a symlink to one.
func isRealDir(root *os.Root, name string) bool {
	st, err := root.Lstat(name)
	return err == nil && st.IsDir()
}

// markBatch bounds the refs handed to the resume log in one call.

// apply prepares the destination for the plan: the staging directory, the
// directories, and new staging files for the files under repair.
func (r *receiver) apply(p *plan) error {
	if err := r.openStage(); err != nil {
		return err
	}
	if err := r.cleanStage(p); err != nil {
		return err
	}
	var buf []byte
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
		if buf == nil {
			buf = make([]byte, r.cs)
		}
		if err := r.stageRepair(i, &e, buf); err != nil {
			return err
		}
		p.state[i] = stResume
	}
	return nil
}

// openStage opens the staging directory, creating it. Its name is
// reserved for pcp (manifest.ReservedPrefix), but it is not trusted for
// its name: anything there that is not a real directory (a symlink, a
// file) is removed, so that it cannot redirect staging nor fail every run.
func (r *receiver) openStage() error {
	st, err := r.dest.Lstat(r.stage)
	if err == nil && !st.IsDir() {
		if err := r.dest.Remove(r.stage); err != nil {
			return fmt.Errorf("removing %s, which is not a staging directory: %w", r.stage, err)
		}
		err = fs.ErrNotExist
	}
	if errors.Is(err, fs.ErrNotExist) {
		err = r.dest.Mkdir(r.stage, 0o700)
	}
	if err != nil {
		return fmt.Errorf("creating staging directory: %w", err)
	}
	sd, err := r.dest.OpenRoot(r.stage)
	if err != nil {
		return fmt.Errorf("opening staging directory: %w", err)
	}
	// os.Root follows a symlink inside the destination: what was opened
	// must be the directory that is there under the name.
	lst, err1 := r.dest.Lstat(r.stage)
	in, err2 := sd.Stat(".")
	if err1 != nil || err2 != nil || !lst.IsDir() || !os.SameFile(lst, in) {
		sd.Close()
		return fmt.Errorf("opening staging directory: %s changed while opened", r.stage)
	}
	f, err := sd.Open(".")
	if err != nil {
		sd.Close()
		return fmt.Errorf("opening staging directory: %w", err)
	}
	r.stageDir, r.stageFile = sd, f
	return nil
}

// cleanStage removes from the staging directory every name that is not
// the staging file of a file being resumed: nothing there is used unless
// the resume log vouches for it, so every other staging file is created
// new (exclusively).
func (r *receiver) cleanStage(p *plan) error {
	d, err := r.stageDir.Open(".")
	if err != nil {
		return fmt.Errorf("reading staging directory: %w", err)
	}
	defer d.Close()
	for {
		des, err := d.ReadDir(256)
		for _, de := range des {
			name := de.Name()
			if n, err := strconv.Atoi(name); err == nil && n >= 0 && n < len(p.state) &&
				strconv.Itoa(n) == name && p.state[n] == stResume {
				continue
			}
			if err := r.stageDir.RemoveAll(name); err != nil {
				return fmt.Errorf("cleaning staging directory: %w", err)
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading staging directory: %w", err)
		}
	}
}

// stageRepair starts the repair of file i, which is in place and differs:
// a new staging file gets the chunks of the destination file that match
// the manifest (hashed as they are copied), they are logged, and the rest
// is fetched. The rename at the end replaces the destination file; it is
// never written into: it may have other hard links.
func (r *receiver) stageRepair(i int, e *manifest.Entry, buf []byte) error {
	// Chunks logged by an earlier, interrupted repair were in a staging
	// file cleanStage has removed.
	if err := r.rlog.DropChunks(r.root, uint32(i)); err != nil {
		return err
	}
	src, err := r.dest.Open(e.Path)
	if err != nil {
		return fmt.Errorf("reading %s for repair: %w", e.Path, err)
	}
	defer src.Close()
	dst, err := r.createStaged(strconv.Itoa(i))
	if err != nil {
		return fmt.Errorf("%w: %s: %v", errWrite, e.Path, err)
	}
	defer dst.Close()
	var refs []store.ChunkRef
	flush := func() error {
		if len(refs) == 0 {
			return nil
		}
		if r.durable {
			if err := dst.Sync(); err != nil {
				return fmt.Errorf("%w: %s: %v", errWrite, e.Path, err)
			}
		}
		err := r.rlog.MarkDone(r.root, refs)
		refs = refs[:0]
		return err
	}
	n := manifest.ChunkCount(e.Size, r.cs)
	for c := int64(0); c < n; c++ {
		b := buf[:manifest.ChunkLen(e.Size, r.cs, c)]
		off := c * int64(r.cs)
		if k, _ := src.ReadAt(b, off); k < len(b) {
			continue
		}
		want, err := r.t.ChunkHash(i, c)
		if err != nil {
			return err
		}
		if manifest.HashChunk(b) != want {
			continue
		}
		if _, err := dst.WriteAt(b, off); err != nil {
			return fmt.Errorf("%w: %s: %v", errWrite, e.Path, err)
		}
		if refs = append(refs, store.ChunkRef{Entry: uint32(i), Chunk: uint32(c)}); len(refs) == markBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// finishPresent applies mode and mtime to files that were already present
// but not recorded complete, and records them complete.
