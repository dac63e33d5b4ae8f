package engine

import (
	"fmt"
	"os"
	"time"

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
