package engine

import (
	"fmt"
	"os"
	"path"
	"time"

	"golang.org/x/sys/unix"

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
		st, err := r.dest.Lstat(e.Path)
		if err != nil {
			return err
		}
		fids = append(fids, fileID(st))
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
