package engine

import (
	"io/fs"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/pcp-p2p/pcp/store"
)

// The identity the resume log records of a file in place (size, mtime,
// inode, ctime), read from Linux's stat fields. Other platforms name these
// fields differently (darwin: Mtimespec, Ctimespec) and Windows has no
// inode: their versions belong to the port (issue 12).

// fileID is the identity of a file already stat'ed.
func fileID(fi fs.FileInfo) store.FileID {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return store.FileID{Size: -1} // matches no record
	}
	return store.FileID{Size: st.Size, MTime: st.Mtim.Nano(), Inode: st.Ino, CTime: st.Ctim.Nano()}
}

// fileIDAt is fileID of name in directory dirfd, not following a symlink.
func fileIDAt(dirfd int, name string) (store.FileID, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return store.FileID{}, err
	}
	return store.FileID{Size: st.Size, MTime: st.Mtim.Nano(), Inode: st.Ino, CTime: st.Ctim.Nano()}, nil
}
