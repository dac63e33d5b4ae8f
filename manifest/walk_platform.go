package manifest

import (
	"errors"
	"fmt"
	"strings"
)

// Rules of the walk's platform files (walk_unix.go, walk_windows.go) that
// are pure functions, so that every platform's are tested on any.

// errNotFollowed: the walk found a symlink where it had lstat'ed something
// else, and did not follow it.
var errNotFollowed = errors.New("manifest: a symlink took the place of what was read")

// windowsLinkTarget turns a Windows symlink's target into the manifest's
// form: slash-separated. A target with a volume ("C:\x", "C:x", "\\server\
// share", "\\?\C:\x") or rooted at the volume ("\x") is absolute, which the
// manifest never carries.
func windowsLinkTarget(link, t string) (string, error) {
	if t == "" {
		return t, nil // validateTarget says why not
	}
	if t[0] == '\\' || t[0] == '/' || len(t) >= 2 && t[1] == ':' {
		return "", fmt.Errorf("%w: %q -> %q is absolute", ErrSymlinkEscapes, link, t)
	}
	return strings.ReplaceAll(t, `\`, "/"), nil
}

// stableIndexFS reports whether a Windows file system's file index (the
// nFileIndexHigh/Low of GetFileInformationByHandle) identifies a file for
// its lifetime. NTFS's does. FAT and exFAT derive it from the position of
// the directory entry, which a new file can take over; ReFS's file IDs are
// 128 bits, and the 64 bits shown need not be unique.
func stableIndexFS(name string) bool {
	return strings.EqualFold(name, "NTFS")
}
