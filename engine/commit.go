package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"time"

	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/manifest"
	"github.com/pcp-p2p/pcp/store"
)

// The committer makes written chunks durable and records them, in this order:
//
//  1. chunks are written (WriteAt) into staging files by the stream readers;
//  2. a batch of them is made durable (syncChunks);
//  3. the batch is recorded in the resume log in one transaction;
//  4. files whose every chunk is durable get their mode and mtime and are
//     renamed into place without clobbering anything (place); the renames
//     are made durable (syncPlaced), and only then are the files recorded
//     complete.
//
// So a chunk in the log is always on disk, and a file recorded complete is
// always in place. With a temporary resume log (no resume across processes
// asked for) nothing is synced.
//
// How each step is done is the platform's (commit_GOOS.go, durable_*.go):
// on Linux one syncfs(2) per step, however many files it touched, and
// renameat2(RENAME_NOREPLACE); elsewhere an fsync of each file and
// directory involved, and the platform's no-clobber rename.
const (
	commitChunks   = 256
	commitBytes    = 32 << 20
	commitInterval = 200 * time.Millisecond
)

type committer struct {
	r    *receiver
	dirs map[string]*os.File // destination directories, by path
	// destDir is the destination directory, open while the log is durable
	// (Linux syncs its file system through it).
	destDir *os.File
	batch   []wire.Ref
	bytes   int64
}

func newCommitter(r *receiver) *committer { return &committer{r: r} }

func (c *committer) run(fail func(error)) error {
	r := c.r
	defer c.close()
	if r.durable {
		d, err := r.dest.Open(".")
		if err != nil {
			return c.abort(fail, err)
		}
		defer d.Close()
		c.destDir = d
	}
	t := time.NewTicker(commitInterval)
	defer t.Stop()
	ready := r.ready
	for {
		select {
		case i, ok := <-ready:
			if !ok {
				ready = nil
				continue
			}
			// Nothing to fetch (an empty file, or every chunk logged).
			r.files.forget(i)
			if err := c.finalize([]int{i}, true); err != nil {
				return c.abort(fail, err)
			}
		case ref, ok := <-r.commit:
			if !ok {
				if err := c.drainReady(); err != nil {
					return err
				}
				return c.flush()
			}
			c.batch = append(c.batch, ref)
			c.bytes += r.refLen(ref)
			if len(c.batch) >= commitChunks || c.bytes >= commitBytes {
				if err := c.flush(); err != nil {
					return c.abort(fail, err)
				}
			}
		case <-t.C:
			if err := c.flush(); err != nil {
				return c.abort(fail, err)
			}
		}
	}
}

// drainReady finalizes files the feeder handed over after the last chunk.
func (c *committer) drainReady() error {
	if c.r.ready == nil {
		return nil
	}
	for i := range c.r.ready {
		c.r.files.forget(i)
		if err := c.finalize([]int{i}, true); err != nil {
			return err
		}
	}
	return nil
}

// abort reports err and drains the channel so the stream readers never block.
func (c *committer) abort(fail func(error), err error) error {
	fail(err)
	for range c.r.commit {
	}
	for range c.r.ready {
	}
	return err
}

func (c *committer) flush() error {
	if len(c.batch) == 0 {
		return nil
	}
	r := c.r
	if r.durable {
		if err := c.syncChunks(); err != nil {
			return fmt.Errorf("%w: %v", errWrite, err)
		}
	}
	refs := make([]store.ChunkRef, len(c.batch))
	for i, b := range c.batch {
		refs[i] = store.ChunkRef{Entry: b.Entry, Chunk: b.Chunk}
	}
	if err := r.rlog.MarkDone(r.root, refs); err != nil {
		return err
	}
	if r.emit != nil {
		r.emit.verified(c.batch)
	}
	if r.held != nil {
		r.held(c.batch)
	}
	var ready []int
	for _, b := range c.batch {
		if r.files.committed(int(b.Entry)) {
			ready = append(ready, int(b.Entry))
		}
	}
	c.batch, c.bytes = c.batch[:0], 0
	return c.finalize(ready, false)
}

// finalize renames complete staging files into place. Files completed by
// writes in this run already carry their mode and mtime (fileTable.wrote);
// withMeta applies them to the others (empty files, or all chunks logged).
//
// The rename never replaces anything unless Overwrite is set (place), so a
// file that appeared at the destination since the plan is never clobbered.
// Only a file this transfer put there and nobody changed since (a repair)
// is replaced without Overwrite. Each file's identity is recorded as it
// stands in place after the rename.
func (c *committer) finalize(ready []int, withMeta bool) error {
	if len(ready) == 0 {
		return nil
	}
	r := c.r
	ids := make([]uint32, 0, len(ready))
	fids := make([]store.FileID, 0, len(ready))
	placed := make([]string, 0, len(ready))
	for _, i := range ready {
		ent, err := r.t.Entry(i)
		if err != nil {
			return err
		}
		e := &ent
		name := strconv.Itoa(i)
		if withMeta {
			if err := c.prepare(name, e); err != nil {
				return fmt.Errorf("%w: %s: %v", errWrite, e.Path, err)
			}
		}
		// Only the regular file this transfer wrote goes into place, never
		// whatever else may have taken its name.
		if st, err := r.stageDir.Lstat(name); err != nil || !st.Mode().IsRegular() || st.Size() != e.Size {
			return fmt.Errorf("%w: %s: the staging file is not the file written (%v)", errWrite, e.Path, err)
		}
		if err := c.place(i, name, e.Path); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%w: %s appeared during the transfer", ErrExists, e.Path)
			}
			return fmt.Errorf("%w: %s: %v", errWrite, e.Path, err)
		}
		id, err := c.placedID(e.Path)
		if err != nil {
			return fmt.Errorf("%w: %s: %v", errWrite, e.Path, err)
		}
		ids, fids = append(ids, uint32(i)), append(fids, id)
		placed = append(placed, e.Path)
		r.filesDone.Add(1)
	}
	if r.durable {
		if err := c.syncPlaced(placed); err != nil {
			return fmt.Errorf("%w: %v", errWrite, err)
		}
	}
	return r.rlog.MarkFileCompleteAs(r.root, ids, fids)
}

// prepare gives a file with nothing to fetch its staging file's mode and
// mtime. An empty file's staging file is created new, whatever held the
// name before; a file whose chunks are all logged must be the regular file
// of the right size they were written to.
func (c *committer) prepare(name string, e *manifest.Entry) error {
	sd := c.r.stageDir
	var f *os.File
	var err error
	if e.Size == 0 {
		if err := sd.RemoveAll(name); err != nil {
			return err
		}
		f, err = c.r.createStaged(name)
	} else if f, err = openResumed(sd, name); err == nil {
		if st, serr := f.Stat(); serr != nil || st.Size() != e.Size {
			f.Close()
			return fmt.Errorf("staging file %s is not %d bytes long", name, e.Size)
		}
	}
	if err != nil {
		return err
	}
	err = setMeta(f, e)
	if err == nil && c.r.durable && syncEachFile {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// replaceable reports whether the file at entry path p is exactly the one
// this transfer recorded putting there for entry i: a repair replaces it.
func (c *committer) replaceable(i int, p string) bool {
	id, ok, err := c.r.rlog.Completion(c.r.root, uint32(i))
	if err != nil || !ok {
		return false
	}
	now, err := c.placedID(p)
	return err == nil && now == id
}

// dir returns a descriptor of the destination directory d, opened once.
func (c *committer) dir(d string) (*os.File, error) {
	if f := c.dirs[d]; f != nil {
		return f, nil
	}
	f, err := c.r.dest.Open(d)
	if err != nil {
		return nil, err
	}
	if c.dirs == nil {
		c.dirs = make(map[string]*os.File)
	}
	if len(c.dirs) >= 256 { // bound the descriptors held
		c.closeDirs()
		c.dirs = make(map[string]*os.File)
	}
	c.dirs[d] = f
	return f, nil
}

func (c *committer) closeDirs() {
	for _, f := range c.dirs {
		f.Close()
	}
	c.dirs = nil
}

func (c *committer) close() { c.closeDirs() }

// batchEntries returns the distinct entries of a batch's chunks.
func batchEntries(batch []wire.Ref) []int {
	var out []int
	seen := make(map[uint32]bool)
	for _, b := range batch {
		if !seen[b.Entry] {
			seen[b.Entry] = true
			out = append(out, int(b.Entry))
		}
	}
	return out
}
