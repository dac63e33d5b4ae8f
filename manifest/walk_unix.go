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
//
// The descriptor is opened with open(2) and handed to os.NewFile, not
// opened by os.OpenFile: on Linux that tries to register every file with
// the network poller (four fcntl calls and an epoll_ctl that fails for a
// regular file), a third of the walk's system calls on a tree of small
// files.
func openNoFollow(local string, follow bool) (*os.File, error) {
	flags := syscall.O_RDONLY | syscall.O_CLOEXEC
	if !follow {
		flags |= syscall.O_NOFOLLOW
	}
	f, err := openRead(local, flags)
	// POSIX says ELOOP; FreeBSD says EMLINK.
	if errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.EMLINK) {
		return nil, fmt.Errorf("%w: %w", errNotFollowed, err)
	}
	return f, err
}

// OpenLocal opens a walked local file (Source.Local) for reading, as the
// walk does, outside the network poller: a sender reading the chunks it
// serves pays the same per-file cost as the walk.
func OpenLocal(local string) (*os.File, error) {
	return openRead(local, syscall.O_RDONLY|syscall.O_CLOEXEC)
}

// openRead opens local with open(2) flags (O_CLOEXEC is the caller's to
// give), outside the network poller: for regular files, which the poller
// cannot wait on anyway. Errors are *fs.PathError, as os.OpenFile's.
func openRead(local string, flags int) (*os.File, error) {
	for {
		fd, err := syscall.Open(local, flags, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: local, Err: err}
		}
		return os.NewFile(uintptr(fd), local), nil
	}
}

// readLink returns the target of symlink local, as the manifest carries it.
func readLink(local string) (string, error) { return os.Readlink(local) }

// fromLocalTarget is a symlink target read from disk (for link, a
// manifest path) in the manifest's form: on Unix, as it is.
func fromLocalTarget(_, t string) (string, error) { return t, nil }
