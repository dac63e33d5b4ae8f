package engine

import (
	"os"

	"golang.org/x/sys/unix"
)

// macOS's file primitives. What they trade:
//
//   - mtime is set through the handle with futimes(2), to the microsecond:
//     macOS has no futimens in golang.org/x/sys, and setattrlist works by
//     path. APFS keeps nanoseconds; the last three digits become zeros
//     (nothing compares mtimes: the file's identity is read after).
//   - durability: fsync(2) pushes data to the drive but not out of its
//     cache; F_FULLFSYNC also flushes the drive. barrier issues one after a
//     step's fsyncs (a drive flush covers everything written before it).
//   - the no-clobber rename is renameatx_np(RENAME_EXCL), atomic like
//     Linux's RENAME_NOREPLACE, where the file system has it (APFS, HFS+).

// setTimes sets the mtime (and atime) of the open file f.
func setTimes(f *os.File, mtime int64) error {
	tv := unix.NsecToTimeval(mtime)
	return unix.Futimes(int(f.Fd()), []unix.Timeval{tv, tv})
}

// barrier flushes the drive's cache once a step's fsyncs are done:
// F_FULLFSYNC on d, or plain fsync where the file system refuses it.
func barrier(d *os.File) error {
	if _, err := unix.FcntlInt(d.Fd(), unix.F_FULLFSYNC, 0); err == nil {
		return nil
	}
	return d.Sync()
}

// renameExcl renames name in dirfd from to base in dirfd to, failing with
// EEXIST if base exists, in one step.
func renameExcl(from int, name string, to int, base string) error {
	err := unix.RenameatxNp(from, name, to, base, unix.RENAME_EXCL)
	if exclUnsupportedDarwin.has(err) {
		return errNoExcl
	}
	return err
}

var (
	hostSymlinkRules    = symlinkRulesDarwin
	hostLinkUnsupported = linkUnsupportedDarwin
)

// The numbers in oserr.go's macOS tables are this platform's.
var (
	_ = errnoIs[unix.EPERM-1]
	_ = errnoIs[unix.EINVAL-22]
	_ = errnoIs[unix.EMLINK-31]
	_ = errnoIs[unix.ENOTSUP-45]
	_ = errnoIs[unix.ENOSYS-78]
	_ = errnoIs[unix.EOPNOTSUPP-102]
)
