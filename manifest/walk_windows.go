package manifest

import (
	"fmt"
	"io/fs"
	"os"
	"sync"

	"golang.org/x/sys/windows"
)

// The walk's file system access on Windows. What it trades:
//
//   - Identity: the file index and volume serial number, read through a
//     handle (GetFileInformationByHandle), since the stat has neither. That
//     costs one open per file per walk. On file systems whose index is not a
//     stable identity (FAT, exFAT, ReFS: see stableIndexFS) there is none,
//     and the hash cache keys on path, size and mtime alone.
//   - No O_NOFOLLOW: openNoFollow opens, then checks that the name is still
//     the file it opened and not a symlink. A symlink swapped in and out
//     again between the open and the check goes unseen (creating one needs
//     a privilege on Windows).
//   - Symlink targets are read with backslashes and given to the manifest
//     with slashes (windowsLinkTarget).

// fileIdent returns the file index and volume serial number of local, or
// zeros where the file system has no stable index.
func fileIdent(local string, _ fs.FileInfo) (ino, dev uint64) {
	f, err := os.Open(local)
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	h := windows.Handle(f.Fd())
	var d windows.ByHandleFileInformation
	if windows.GetFileInformationByHandle(h, &d) != nil || !volumeStable(h, d.VolumeSerialNumber) {
		return 0, 0
	}
	return uint64(d.FileIndexHigh)<<32 | uint64(d.FileIndexLow), uint64(d.VolumeSerialNumber)
}

// volumes caches stableIndexFS by volume serial number.
var volumes sync.Map // uint32 -> bool

func volumeStable(h windows.Handle, serial uint32) bool {
	if v, ok := volumes.Load(serial); ok {
		return v.(bool)
	}
	var name [windows.MAX_PATH + 1]uint16
	stable := windows.GetVolumeInformationByHandle(h, nil, 0, nil, nil, nil, &name[0], uint32(len(name))) == nil &&
		stableIndexFS(windows.UTF16ToString(name[:]))
	volumes.Store(serial, stable)
	return stable
}

// OpenLocal opens a walked local file (Source.Local) for reading.
func OpenLocal(local string) (*os.File, error) { return os.Open(local) }

// openNoFollow opens local for reading. Unless follow is set (a path the
// user named), a symlink or another file found at local after the open
// fails with an error wrapping errNotFollowed.
func openNoFollow(local string, follow bool) (*os.File, error) {
	f, err := os.Open(local)
	if err != nil || follow {
		return f, err
	}
	opened, err1 := f.Stat()
	named, err2 := os.Lstat(local)
	if err1 != nil || err2 != nil || named.Mode()&fs.ModeSymlink != 0 || !os.SameFile(opened, named) {
		f.Close()
		return nil, fmt.Errorf("%w: %s", errNotFollowed, local)
	}
	return f, nil
}

// readLink returns the target of symlink local, as the manifest carries it.
func readLink(local string) (string, error) {
	t, err := os.Readlink(local)
	if err != nil {
		return "", err
	}
	return windowsLinkTarget(local, t)
}

// fromLocalTarget is a symlink target read from disk (for link, a
// manifest path) in the manifest's form.
func fromLocalTarget(link, t string) (string, error) { return windowsLinkTarget(link, t) }
