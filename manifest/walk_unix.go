//go:build unix

package manifest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// The walk's file system access on Unix: identity from the lstat, and
// O_NOFOLLOW for opening what the walk lstat'ed. Nothing is traded: the
// kernel refuses to follow a symlink swapped in since the lstat.

// fileIdent returns the inode and device of local, lstat'ed as fi. The
// hash cache keys on them: a file replaced by another with the same size
// and mtime has another inode. (A file system without stable inode
// numbers, such as some FUSE ones, gets cache misses or, at worst, hashes
// the sender checks again as it reads the chunks.)
func fileIdent(_ string, fi fs.FileInfo) (ino, dev uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino, uint64(st.Dev)
	}
	return 0, 0
}

// openNoFollow opens local for reading. Unless follow is set (a path the
// user named), a symlink put in place of what was lstat'ed fails with an
// error wrapping errNotFollowed instead of leading the walk out of the
// tree.
func openNoFollow(local string, follow bool) (*os.File, error) {
	if follow {
		return os.Open(local)
	}
	f, err := os.OpenFile(local, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	// POSIX says ELOOP; FreeBSD says EMLINK.
	if errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.EMLINK) {
		return nil, fmt.Errorf("%w: %w", errNotFollowed, err)
	}
	return f, err
}

// readLink returns the target of symlink local, as the manifest carries it.
func readLink(local string) (string, error) { return os.Readlink(local) }

// fromLocalTarget is a symlink target read from disk (for link, a
// manifest path) in the manifest's form: on Unix, as it is.
func fromLocalTarget(_, t string) (string, error) { return t, nil }
