package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/manifest"
	"github.com/pcp-p2p/pcp/store"
)

// The committer makes written chunks durable and records them, in this order:
//
//  1. chunks are written (WriteAt) into staging files by the stream readers;
//  2. a batch of them is flushed with one syncfs(2) on the destination's
//     file system: one call, however many files the batch touched;
//  3. the batch is recorded in the resume log in one transaction;
//  4. files whose every chunk is durable get their mode and mtime and are
//     renamed into place; a second syncfs makes the renames durable, and
//     only then are the files recorded complete.
//
// So a chunk in the log is always on disk, and a file recorded complete is
// always in place. Without a resume log, steps 2 and 3 are skipped.
const (
	commitChunks   = 256
	commitBytes    = 32 << 20
	commitInterval = 200 * time.Millisecond
)

type committer struct {
	r      *receiver
	syncFd int
	batch  []wire.Ref
	bytes  int64
}

func newCommitter(r *receiver) *committer { return &committer{r: r, syncFd: -1} }

func (c *committer) run(fail func(error)) error {
	r := c.r
	if r.rlog != nil {
		d, err := r.dest.Open(".")
		if err != nil {
			return c.abort(fail, err)
		}
		defer d.Close()
		c.syncFd = int(d.Fd())
	}
	// Files with nothing left to fetch (empty files, or all chunks logged).
	var ready []int
	for i, fsx := range r.plan.files {
		if fsx.state == fsFetch && fsx.remaining == 0 && !fsx.complete {
			ready = append(ready, i)
		}
	}
	if err := c.finalize(ready); err != nil {
		return c.abort(fail, err)
	}
	t := time.NewTicker(commitInterval)
	defer t.Stop()
	for {
		select {
		case ref, ok := <-r.commit:
			if !ok {
				return c.flush()
			}
			c.batch = append(c.batch, ref)
			c.bytes += manifest.ChunkLen(r.m.Entries[ref.Entry].Size, r.m.ChunkSize, int64(ref.Chunk))
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

// abort reports err and drains the channel so the stream readers never block.
func (c *committer) abort(fail func(error), err error) error {
	fail(err)
	for range c.r.commit {
	}
	return err
}

func (c *committer) sync() error {
	if c.syncFd < 0 {
		return nil
	}
	if err := unix.Syncfs(c.syncFd); err != nil {
		return fmt.Errorf("%w: syncfs: %v", errWrite, err)
	}
	return nil
}

func (c *committer) flush() error {
	if len(c.batch) == 0 {
		return nil
	}
	r := c.r
	if r.rlog != nil {
		if err := c.sync(); err != nil {
			return err
		}
		refs := make([]store.ChunkRef, len(c.batch))
		for i, b := range c.batch {
			refs[i] = store.ChunkRef{Entry: b.Entry, Chunk: b.Chunk}
		}
		if err := r.rlog.MarkDone(r.root, refs); err != nil {
			return err
		}
	}
	var ready []int
	for _, b := range c.batch {
		fsx := r.plan.files[int(b.Entry)]
		if !fsx.have.get(int(b.Chunk)) {
			fsx.have.set(int(b.Chunk))
			fsx.remaining--
			if fsx.remaining == 0 {
				ready = append(ready, int(b.Entry))
			}
		}
	}
	c.batch, c.bytes = c.batch[:0], 0
	return c.finalize(ready)
}

// finalize applies metadata to complete staging files and renames them into
// place.
func (c *committer) finalize(ready []int) error {
	if len(ready) == 0 {
		return nil
	}
	r := c.r
	for _, i := range ready {
		e := &r.m.Entries[i]
		name := r.stageName(i)
		if e.Size == 0 {
			f, err := r.dest.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
			if err != nil {
				return fmt.Errorf("%w: %s: %v", errWrite, e.Path, err)
			}
			f.Close()
		}
		if err := r.dest.Chmod(name, os.FileMode(e.Mode)); err != nil {
			return fmt.Errorf("%w: %s: %v", errWrite, e.Path, err)
		}
		t := time.Unix(0, e.MTime)
		if err := r.dest.Chtimes(name, t, t); err != nil {
			return fmt.Errorf("%w: %s: %v", errWrite, e.Path, err)
		}
		// Never clobber: the plan saw no file here (or was allowed to
		// replace it); refuse if one appeared since.
		if st, err := r.dest.Lstat(e.Path); err == nil {
			if !r.opts.Overwrite || !st.Mode().IsRegular() && st.Mode()&fs.ModeSymlink == 0 {
				return fmt.Errorf("%w: %s appeared during the transfer", ErrExists, e.Path)
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: %s: %v", errWrite, e.Path, err)
		}
		if err := r.dest.Rename(name, e.Path); err != nil {
			return fmt.Errorf("%w: %s: %v", errWrite, e.Path, err)
		}
		r.plan.files[i].complete = true
		r.filesDone.Add(1)
	}
	if r.rlog == nil {
		return nil
	}
	if err := c.sync(); err != nil {
		return err
	}
	ids := make([]uint32, len(ready))
	for k, i := range ready {
		ids[k] = uint32(i)
	}
	return r.rlog.MarkFileComplete(r.root, ids)
}
