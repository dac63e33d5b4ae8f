package engine

import (
	"io/fs"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/pcp-p2p/pcp/store"
)

// Linux's file primitives. Nothing is traded here: O_DIRECT writes of
// whole chunks, mtime in nanoseconds through the handle (utimensat on the
// descriptor), and the identity the resume log records of a file in place
// (size, mtime, inode, ctime) from the stat.

// fileID is the identity of a file already stat'ed.
func fileID(fi fs.FileInfo) store.FileID {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return noIdentity
	}
	return store.FileID{Size: st.Size, MTime: st.Mtim.Nano(), Inode: st.Ino, CTime: st.Ctim.Nano()}
}

// openDirect opens staging file name for writing around the page cache
// (see stagedFile). A file system without O_DIRECT (tmpfs) refuses.
func openDirect(sd *os.Root, name string) (*os.File, error) {
	return sd.OpenFile(name, os.O_WRONLY|syscall.O_DIRECT, 0)
}

// setTimes sets the mtime (and atime) of the open file f, in nanoseconds.
func setTimes(f *os.File, mtime int64) error {
	ts := unix.NsecToTimespec(mtime)
	times := [2]unix.Timespec{ts, ts}
	// utimensat(fd, NULL, times, 0) sets the times of fd itself.
	if _, _, errno := unix.Syscall6(unix.SYS_UTIMENSAT, f.Fd(), 0, uintptr(unsafe.Pointer(&times[0])), 0, 0, 0); errno != 0 {
		return errno
	}
	return nil
}

var hostSymlinkRules = symlinkRulesLinux

// The numbers in oserr.go's Linux tables are this platform's.
var (
	_ = errnoIs[unix.EPERM-1]
	_ = errnoIs[unix.ENOSYS-38]
	_ = errnoIs[unix.EOPNOTSUPP-95]
	_ = errnoIs[unix.EINVAL-22]
)
