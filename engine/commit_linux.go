package engine

import (
	"os"
	"path"

	"golang.org/x/sys/unix"

	"github.com/pcp-p2p/pcp/store"
)

// The committer's steps on Linux: one syncfs(2) of the destination's file
// system per step, however many files it touched, and an atomic
// no-clobber rename, renameat2(RENAME_NOREPLACE).

// syncEachFile: staging files need no fsync of their own (syncfs covers
// them).
const syncEachFile = false

// syncChunks makes the batch's chunks durable.
func (c *committer) syncChunks() error { return c.syncfs() }

// syncPlaced makes the renames of files just placed durable.
func (c *committer) syncPlaced([]string) error { return c.syncfs() }

func (c *committer) syncfs() error {
	if err := unix.Syncfs(int(c.destDir.Fd())); err != nil {
		return &os.PathError{Op: "syncfs", Path: c.r.dest.Name(), Err: err}
	}
	return nil
}

// place renames staging file name of entry i to entry path p. Unless
// Overwrite is set the kernel checks and renames in one step; only a file
// this transfer put there and nobody changed since is replaced
// (replaceable). Directories are reached by descriptors opened through the
// destination's os.Root, and the final component is a plain name.
func (c *committer) place(i int, name, p string) error {
	dir, err := c.dir(path.Dir(p))
	if err != nil {
		return err
	}
	base := path.Base(p)
	from, to := int(c.r.stageFile.Fd()), int(dir.Fd())
	if c.r.opts.Overwrite {
		return unix.Renameat(from, name, to, base)
	}
	err = unix.Renameat2(from, name, to, base, unix.RENAME_NOREPLACE)
	if noReplaceUnsupportedLinux.has(err) {
		// A file system without RENAME_NOREPLACE: check, then rename.
		var st unix.Stat_t
		if unix.Fstatat(to, base, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
			err = unix.EEXIST
		} else {
			err = unix.Renameat(from, name, to, base)
		}
	}
	if err == unix.EEXIST && c.replaceable(i, p) {
		return unix.Renameat(from, name, to, base)
	}
	return err
}

// placedID is the identity of the file at entry path p.
func (c *committer) placedID(p string) (store.FileID, error) {
	dir, err := c.dir(path.Dir(p))
	if err != nil {
		return store.FileID{}, err
	}
	return fileIDAt(int(dir.Fd()), path.Base(p))
}
