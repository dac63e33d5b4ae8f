//go:build unix

package engine

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/pcp-p2p/pcp/store"
)

// File primitives common to the Unix systems: paths are reached through
// directory descriptors opened by the destination's os.Root, with plain
// final names, so nothing resolves outside the destination.

// oNoFollow makes an open fail on a symlink.
const oNoFollow = syscall.O_NOFOLLOW

// fileIDAt is fileID of name in directory dirfd, not following a symlink.
func fileIDAt(dirfd int, name string) (store.FileID, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return store.FileID{}, err
	}
	return store.FileID{Size: st.Size, MTime: st.Mtim.Nano(), Inode: st.Ino, CTime: st.Ctim.Nano()}, nil
}

// idOf is the identity of the file at entry path p in root, not following
// a symlink.
func idOf(root *os.Root, p string) (store.FileID, error) {
	st, err := root.Lstat(p)
	if err != nil {
		return store.FileID{}, err
	}
	if !st.Mode().IsRegular() {
		return store.FileID{}, fmt.Errorf("%s is not a regular file", p)
	}
	return fileID(st), nil
}

// lchtimes sets a symlink's own mtime. os.Root has no Lchtimes, so the
// parent directory is opened through the root (which cannot escape it) and
// utimensat(AT_SYMLINK_NOFOLLOW) runs relative to it.
func lchtimes(root *os.Root, name string, mtime int64) error {
	d, err := root.Open(path.Dir(name))
	if err != nil {
		return err
	}
	defer d.Close()
	ts := unix.NsecToTimespec(mtime)
	return unix.UtimesNanoAt(int(d.Fd()), path.Base(name), []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
}

// createIn creates name (one component) in dir, root's directory open as
// a file, exclusively and never through a symlink: O_CREAT|O_EXCL fails on
// any existing name. It is openat(2) handed to os.NewFile, not
// os.Root.OpenFile, which on Linux tries to register every file with the
// network poller (four fcntl calls and an epoll_ctl that fails for a
// regular file): a quarter of the receiver's system calls per small file.
func createIn(dir *os.File, _ *os.Root, name string) (*os.File, error) {
	for {
		fd, err := unix.Openat(int(dir.Fd()), name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "openat", Path: name, Err: err}
		}
		return os.NewFile(uintptr(fd), name), nil
	}
}

// makeSymlink creates symlink p -> target (a manifest target) in root.
func makeSymlink(root *os.Root, target, p string) error { return root.Symlink(target, p) }

// readSymlink returns the target of symlink p in root, in the manifest's
// form.
func readSymlink(root *os.Root, p string) (string, error) { return root.Readlink(p) }
