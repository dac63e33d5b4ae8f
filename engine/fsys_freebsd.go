package engine

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// FreeBSD's file primitives. What they trade: there is no atomic
// no-clobber rename (no RENAME_NOREPLACE), so place links the staging
// file to its name and unlinks the staging name (link fails if the name
// exists), or on a file system without hard links checks and renames.
// mtime is set through the handle with futimens(2), in nanoseconds.

// setTimes sets the mtime (and atime) of the open file f.
func setTimes(f *os.File, mtime int64) error {
	ts := unix.NsecToTimespec(mtime)
	times := [2]unix.Timespec{ts, ts}
	if _, _, errno := unix.Syscall(unix.SYS_FUTIMENS, f.Fd(), uintptr(unsafe.Pointer(&times[0])), 0); errno != 0 {
		return errno
	}
	return nil
}

// barrier: fsync is durable here; nothing more to flush.
func barrier(*os.File) error { return nil }

// renameExcl: FreeBSD has none.
func renameExcl(int, string, int, string) error { return errNoExcl }

var (
	hostSymlinkRules    = symlinkRulesFreeBSD
	hostLinkUnsupported = linkUnsupportedFreeBSD
)

// The numbers in oserr.go's FreeBSD tables are this platform's.
var (
	_ = errnoIs[unix.EPERM-1]
	_ = errnoIs[unix.EMLINK-31]
	_ = errnoIs[unix.EOPNOTSUPP-45]
	_ = errnoIs[unix.ENOSYS-78]
)
