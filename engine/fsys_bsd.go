//go:build darwin || freebsd

package engine

import (
	"errors"
	"io/fs"
	"os"
	"syscall"

	"github.com/pcp-p2p/pcp/store"
)

// File primitives shared by macOS and FreeBSD. What they trade: no
// O_DIRECT (staging files are written through the page cache; macOS's
// F_NOCACHE and FreeBSD's O_DIRECT are not measured, so not used).

// fileID is the identity of a file already stat'ed (size, mtime, inode,
// ctime).
func fileID(fi fs.FileInfo) store.FileID {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return noIdentity
	}
	return store.FileID{Size: st.Size, MTime: st.Mtimespec.Nano(), Inode: st.Ino, CTime: st.Ctimespec.Nano()}
}

// openDirect: no writes around the page cache here.
func openDirect(*os.Root, string) (*os.File, error) { return nil, errors.ErrUnsupported }
