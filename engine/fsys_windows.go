package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/pcp-p2p/pcp/store"
)

// Windows's file primitives. What they trade:
//
//   - Identity: a stat (fs.FileInfo) has no file index and no change time,
//     so fileID gives noIdentity: a file found in place is always compared
//     chunk by chunk, never trusted as one this transfer put there. The
//     identity recorded for a file in place (idOf) is read through a
//     handle: file index, size, last write and change time
//     (GetFileInformationByHandle, FILE_BASIC_INFO).
//   - No O_NOFOLLOW and no O_DIRECT: openResumed checks what it opened
//     against an Lstat instead; staging files go through the cache.
//   - Mode is the read-only attribute only (os.File.Chmod); times are set
//     through the handle with SetFileTime, to 100 ns.
//   - A symlink's own mtime and the Developer Mode fallback for creating a
//     symlink work by path, not through the destination's os.Root: a
//     junction put in place of a destination directory during the transfer
//     would be followed.

// oNoFollow: Windows has no such flag (see openResumed's Lstat check).
const oNoFollow = 0

// fileID: a stat carries no identity here.
func fileID(fs.FileInfo) store.FileID { return noIdentity }

// openDirect: no writes around the cache here.
func openDirect(*os.Root, string) (*os.File, error) { return nil, errors.ErrUnsupported }

// createIn creates name in root exclusively (dir, the same directory open
// as a file, is for the Unix version).
func createIn(_ *os.File, root *os.Root, name string) (*os.File, error) {
	return root.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
}

// setTimes sets the last write (and access) time of the open file f.
func setTimes(f *os.File, mtime int64) error {
	ft := windows.NsecToFiletime(mtime)
	return windows.SetFileTime(windows.Handle(f.Fd()), nil, &ft, &ft)
}

// idOf is the identity of the regular file at entry path p in root.
func idOf(root *os.Root, p string) (store.FileID, error) {
	st, err := root.Lstat(p)
	if err != nil {
		return store.FileID{}, err
	}
	if !st.Mode().IsRegular() {
		return store.FileID{}, fmt.Errorf("%s is not a regular file", p)
	}
	f, err := root.Open(p)
	if err != nil {
		return store.FileID{}, err
	}
	defer f.Close()
	return handleID(windows.Handle(f.Fd()))
}

// fileBasicInfo is FILE_BASIC_INFO: times in 100 ns since 1601.
type fileBasicInfo struct {
	CreationTime, LastAccessTime, LastWriteTime, ChangeTime int64
	FileAttributes                                          uint32
	_                                                       uint32
}

func handleID(h windows.Handle) (store.FileID, error) {
	var d windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(h, &d); err != nil {
		return store.FileID{}, err
	}
	var b fileBasicInfo
	if err := windows.GetFileInformationByHandleEx(h, windows.FileBasicInfo, (*byte)(unsafe.Pointer(&b)), uint32(unsafe.Sizeof(b))); err != nil {
		return store.FileID{}, err
	}
	ct := windows.Filetime{LowDateTime: uint32(b.ChangeTime), HighDateTime: uint32(b.ChangeTime >> 32)}
	return store.FileID{
		Size:  int64(d.FileSizeHigh)<<32 | int64(d.FileSizeLow),
		MTime: d.LastWriteTime.Nanoseconds(),
		Inode: uint64(d.FileIndexHigh)<<32 | uint64(d.FileIndexLow),
		CTime: ct.Nanoseconds(),
	}, nil
}

// winPath is the absolute extended-length path of entry path p in root.
func winPath(root *os.Root, p string) string {
	return windowsExtendedPath(filepath.Join(root.Name(), filepath.FromSlash(p)))
}

// lchtimes sets a symlink's own mtime.
func lchtimes(root *os.Root, name string, mtime int64) error {
	p, err := windows.UTF16PtrFromString(winPath(root, name))
	if err != nil {
		return err
	}
	h, err := windows.CreateFile(p, windows.FILE_WRITE_ATTRIBUTES,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE, nil,
		windows.OPEN_EXISTING, windows.FILE_FLAG_OPEN_REPARSE_POINT|windows.FILE_FLAG_BACKUP_SEMANTICS, 0)
	if err != nil {
		return err
	}
	defer windows.CloseHandle(h)
	ft := windows.NsecToFiletime(mtime)
	return windows.SetFileTime(h, nil, &ft, &ft)
}

// makeSymlink creates symlink p -> target (a manifest target) in root.
// os.Root sets the reparse point itself, which needs the symlink
// privilege; without it CreateSymbolicLinkW (os.Symlink) is tried, which
// Developer Mode allows.
func makeSymlink(root *os.Root, target, p string) error {
	t := windowsTarget(target)
	err := root.Symlink(t, p)
	if symlinkRulesWindows.privilege.has(err) {
		err = os.Symlink(t, filepath.Join(root.Name(), filepath.FromSlash(p)))
	}
	return err
}

// readSymlink returns the target of symlink p in root, in the manifest's
// form.
func readSymlink(root *os.Root, p string) (string, error) {
	t, err := root.Readlink(p)
	return fromWindowsTarget(t), err
}

var hostSymlinkRules = symlinkRulesWindows

// The numbers in oserr.go's Windows tables are this platform's.
var (
	_ = errnoIs[windows.ERROR_INVALID_FUNCTION-1]
	_ = errnoIs[windows.ERROR_NOT_SUPPORTED-50]
	_ = errnoIs[windows.ERROR_PRIVILEGE_NOT_HELD-1314]
)
