//go:build unix && !linux

package engine

import (
	"errors"
	"path"

	"golang.org/x/sys/unix"

	"github.com/pcp-p2p/pcp/store"
)

// The committer's steps on macOS and FreeBSD. What they trade against
// Linux: there is no syncfs, so durability costs an fsync of every staging
// file (as it is closed, or at the batch for one still being written), of
// the staging directory, and of every destination directory a file was
// renamed into; on macOS a barrier (F_FULLFSYNC) then flushes the drive.
// The no-clobber rename is renameatx_np(RENAME_EXCL) on macOS; elsewhere,
// or where the file system lacks it, link+unlink (the link fails if the
// name exists, and a crash between the two leaves only a second name in
// the staging directory, removed with it); on a file system without hard
// links either (FAT, exFAT), a check then a rename, which a file created
// in between can lose to.

// syncEachFile: every staging file is fsynced before it is closed.
const syncEachFile = true

// errNoExcl: the file system has no atomic no-clobber rename.
var errNoExcl = errors.New("no atomic no-clobber rename")

// syncChunks makes the batch's chunks durable.
func (c *committer) syncChunks() error {
	if err := c.r.files.syncOpen(batchEntries(c.batch)); err != nil {
		return err
	}
	return c.syncStage()
}

// syncPlaced makes the renames of the files at paths durable: their
// directories, and the staging directory they left.
func (c *committer) syncPlaced(paths []string) error {
	done := make(map[string]bool)
	for _, p := range paths {
		d := path.Dir(p)
		if done[d] {
			continue
		}
		done[d] = true
		f, err := c.dir(d)
		if err != nil {
			return err
		}
		if err := f.Sync(); err != nil {
			return err
		}
	}
	return c.syncStage()
}

// syncStage fsyncs the staging directory (new staging files' names, or
// the names renamed away), then flushes the drive where fsync does not.
func (c *committer) syncStage() error {
	if err := c.r.stageFile.Sync(); err != nil {
		return err
	}
	return barrier(c.r.stageFile)
}

// place renames staging file name of entry i to entry path p without
// replacing anything, unless Overwrite is set or the file there is one
// this transfer put there and nobody changed since (replaceable).
// Directories are reached by descriptors opened through the destination's
// os.Root, and the final component is a plain name.
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
	err = renameNoReplace(from, name, to, base)
	if errors.Is(err, unix.EEXIST) && c.replaceable(i, p) {
		return unix.Renameat(from, name, to, base)
	}
	return err
}

// renameNoReplace renames name in from to base in to, failing with EEXIST
// if base exists: atomically where the file system can (renameExcl), else
// by link+unlink, else by a check then a rename.
func renameNoReplace(from int, name string, to int, base string) error {
	err := renameExcl(from, name, to, base)
	if err != errNoExcl {
		return err
	}
	err = unix.Linkat(from, name, to, base, 0)
	if err == nil {
		return unix.Unlinkat(from, name, 0)
	}
	if !hostLinkUnsupported.has(err) {
		return err
	}
	var st unix.Stat_t
	if unix.Fstatat(to, base, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
		return unix.EEXIST
	}
	return unix.Renameat(from, name, to, base)
}

// placedID is the identity of the file at entry path p.
func (c *committer) placedID(p string) (store.FileID, error) {
	dir, err := c.dir(path.Dir(p))
	if err != nil {
		return store.FileID{}, err
	}
	return fileIDAt(int(dir.Fd()), path.Base(p))
}
