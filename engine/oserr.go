package engine

import (
	"errors"
	"slices"
	"strings"
	"syscall"
)

// Platform rules that are decisions on an error or a name, kept here as
// data and pure functions so that every platform's are tested on any
// (oserr_test.go). Each platform file picks its tables, and checks at
// compile time that their numbers are its own errno values (errnoIs).

// errnos is a set of one platform's errno values.
type errnos []uintptr

// has reports whether err wraps one of the errnos.
func (s errnos) has(err error) bool {
	var e syscall.Errno
	return errors.As(err, &e) && slices.Contains(s, uintptr(e))
}

// symlinkRules say which errors from creating a symlink mean that this
// receiver cannot create symlinks at that destination at all. Such an
// entry is skipped with a SymlinkSkippedEvent, and the rest of the
// transfer finishes; any other error fails the transfer.
type symlinkRules struct {
	unsupported errnos // the file system has no symlinks
	privilege   errnos // the user may not create them
}

// Reasons given in a SymlinkSkippedEvent.
const (
	reasonNoSymlinks       = "the destination's file system cannot hold symlinks"
	reasonSymlinkPrivilege = "creating symlinks needs Developer Mode or an administrator on Windows"
)

// refusal returns why err means the symlink cannot be created, or "" if
// err is an ordinary failure.
func (r symlinkRules) refusal(err error) string {
	switch {
	case r.privilege.has(err):
		return reasonSymlinkPrivilege
	case r.unsupported.has(err):
		return reasonNoSymlinks
	}
	return ""
}

var (
	// Linux: symlink(2) says EPERM when the file system has no symlinks
	// (vfat); FUSE file systems without them (exfat-fuse) say ENOSYS.
	symlinkRulesLinux = symlinkRules{unsupported: errnos{1 /* EPERM */, 38 /* ENOSYS */, 95 /* EOPNOTSUPP */}}
	// macOS: msdosfs and some network file systems say ENOTSUP or EPERM.
	symlinkRulesDarwin = symlinkRules{unsupported: errnos{1 /* EPERM */, 45 /* ENOTSUP */, 78 /* ENOSYS */, 102 /* EOPNOTSUPP */}}
	// FreeBSD: msdosfs says EOPNOTSUPP (= ENOTSUP).
	symlinkRulesFreeBSD = symlinkRules{unsupported: errnos{1 /* EPERM */, 45 /* EOPNOTSUPP */, 78 /* ENOSYS */}}
	// Windows: without SeCreateSymbolicLinkPrivilege (not an administrator,
	// no Developer Mode) ERROR_PRIVILEGE_NOT_HELD; FAT and exFAT have no
	// reparse points (ERROR_INVALID_FUNCTION, ERROR_NOT_SUPPORTED).
	symlinkRulesWindows = symlinkRules{
		unsupported: errnos{1 /* ERROR_INVALID_FUNCTION */, 50 /* ERROR_NOT_SUPPORTED */},
		privilege:   errnos{1314 /* ERROR_PRIVILEGE_NOT_HELD */},
	}
)

// Errors of a no-clobber rename primitive that mean the file system lacks
// it, so that the receiver falls back to the next one (see place in
// commit_GOOS.go): renameat2(RENAME_NOREPLACE) on Linux, renameatx_np
// (RENAME_EXCL) on macOS, then link+unlink, then a check and a rename.
var (
	noReplaceUnsupportedLinux = errnos{22 /* EINVAL */, 38 /* ENOSYS */}
	exclUnsupportedDarwin     = errnos{22 /* EINVAL */, 45 /* ENOTSUP */, 78 /* ENOSYS */}
	// No hard links: FAT and exFAT (EPERM, ENOTSUP/EOPNOTSUPP), some
	// network file systems; EMLINK: the file has too many already (it has
	// one: a file system that allows none).
	linkUnsupportedDarwin  = errnos{1 /* EPERM */, 31 /* EMLINK */, 45 /* ENOTSUP */, 78 /* ENOSYS */, 102 /* EOPNOTSUPP */}
	linkUnsupportedFreeBSD = errnos{1 /* EPERM */, 31 /* EMLINK */, 45 /* EOPNOTSUPP */, 78 /* ENOSYS */}
)

// windowsExtendedPath turns an absolute, clean Windows path into the
// extended-length form that the Win32 file calls accept past MAX_PATH
// (260 characters): C:\a -> \\?\C:\a, \\server\share\a -> \\?\UNC\server\share\a.
func windowsExtendedPath(p string) string {
	switch {
	case strings.HasPrefix(p, `\\?\`):
		return p
	case strings.HasPrefix(p, `\\`):
		return `\\?\UNC\` + p[2:]
	}
	return `\\?\` + p
}

// windowsTarget is a manifest symlink target (slash-separated, relative)
// as Windows writes it in a link: with backslashes. fromWindowsTarget is
// its inverse, for comparing a link on disk with the manifest.
func windowsTarget(t string) string     { return strings.ReplaceAll(t, "/", `\`) }
func fromWindowsTarget(t string) string { return strings.ReplaceAll(t, `\`, "/") }

// errnoIs checks a table's number at compile time: errnoIs[got-want] is
// out of range, and does not compile, unless got == want.
var errnoIs [1]struct{}
