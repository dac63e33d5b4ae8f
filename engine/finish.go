package engine

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/store"
)

// finishPresent applies mode and mtime to files that were already present
// but not recorded complete, and records them complete.
func (r *receiver) finishPresent() error {
	var ids []uint32
	var fids []store.FileID
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
		id, err := idOf(r.dest, e.Path)
		if err != nil {
			return err
		}
		fids = append(fids, id)
		if ids = append(ids, uint32(i)); len(ids) == markBatch {
			if err := r.rlog.MarkFileCompleteAs(r.root, ids, fids); err != nil {
				return err
			}
			ids, fids = ids[:0], fids[:0]
		}
	}
	return r.rlog.MarkFileCompleteAs(r.root, ids, fids)
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
			if err := r.finishSymlink(&e); err != nil {
				return err
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

// withCommitter runs fetch beside the committer, then finishes the tree
// (afterRun). What fetch writes to staging reaches the committer through
// r.commit and r.ready, which close once fetch has returned.
func (r *receiver) withCommitter(ctx context.Context, fetch func(context.Context) error) error {
	r.lastChunk.Store(time.Now().UnixNano())
	r.files = newFileTable(r)
	r.commit = make(chan wire.Ref, 1024)
	r.ready = make(chan int, 1024)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	cm := newCommitter(r)
	cmDone := make(chan error, 1)
	go func() { cmDone <- cm.run(cancel) }()
	werr := fetch(ctx)
	close(r.commit)
	close(r.ready)
	cerr := <-cmDone
	r.files.closeAll()
	return r.afterRun(cerr, werr)
}

// afterRun finishes the tree once the fetch (werr) and the committer
// (cerr) ended: the committer's error first, then the fetch's; without
// either, every fetched file must be in place.
func (r *receiver) afterRun(cerr, werr error) error {
	if r.opts.runDone != nil {
		r.opts.runDone(r)
	}
	if cerr != nil {
		return cerr
	}
	if werr != nil {
		return werr
	}
	if n := int(r.filesDone.Load()); n != r.plan.fetch {
		return fmt.Errorf("internal error: %d of %d files in place after the transfer", n, r.plan.fetch)
	}
	if err := r.finishPresent(); err != nil {
		return err
	}
	if err := r.finishTree(); err != nil {
		return err
	}
	return r.rlog.Finish(r.root)
}
