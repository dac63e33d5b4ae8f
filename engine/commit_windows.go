package engine

import (
	"errors"
	"io/fs"
	"path"

	"golang.org/x/sys/windows"

	"github.com/pcp-p2p/pcp/store"
)

// The committer's steps on Windows. What they trade against Linux: every
// staging file is flushed (FlushFileBuffers) before it is closed, or at the
// batch while it is still being written; directories cannot be flushed, so
// the renames' durability rests on MOVEFILE_WRITE_THROUGH and NTFS's
// journal. The no-clobber rename is MoveFileEx without
// MOVEFILE_REPLACE_EXISTING, atomic, but by path (see fsys_windows.go).

// syncEachFile: every staging file is flushed before it is closed.
const syncEachFile = true

// syncChunks makes the batch's chunks durable.
func (c *committer) syncChunks() error { return c.r.files.syncOpen(batchEntries(c.batch)) }

// syncPlaced: the renames were written through.
func (c *committer) syncPlaced([]string) error { return nil }

// place renames staging file name of entry i to entry path p without
// replacing anything, unless Overwrite is set or the file there is one
// this transfer put there and nobody changed since (replaceable).
func (c *committer) place(i int, name, p string) error {
	from, err := windows.UTF16PtrFromString(winPath(c.r.dest, path.Join(c.r.stage, name)))
	if err != nil {
		return err
	}
	to, err := windows.UTF16PtrFromString(winPath(c.r.dest, p))
	if err != nil {
		return err
	}
	flags := uint32(windows.MOVEFILE_WRITE_THROUGH)
	if c.r.opts.Overwrite {
		flags |= windows.MOVEFILE_REPLACE_EXISTING
	}
	err = windows.MoveFileEx(from, to, flags)
	if errors.Is(err, fs.ErrExist) && !c.r.opts.Overwrite && c.replaceable(i, p) {
		err = windows.MoveFileEx(from, to, flags|windows.MOVEFILE_REPLACE_EXISTING)
	}
	return err
}

// placedID is the identity of the file at entry path p.
func (c *committer) placedID(p string) (store.FileID, error) { return idOf(c.r.dest, p) }
