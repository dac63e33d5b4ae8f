//go:build darwin || freebsd

package engine

import (
	"math"

	"golang.org/x/sys/unix"
)

// freeSpace returns the bytes an unprivileged user may still write on the
// file system holding dir, and false when it cannot tell.
func freeSpace(dir string) (int64, bool) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, false
	}
	bs, avail := int64(st.Bsize), int64(st.Bavail) // widths and signs differ by OS
	if bs <= 0 || avail < 0 {
		return 0, false
	}
	if avail > math.MaxInt64/bs {
		return math.MaxInt64, true
	}
	return avail * bs, true
}
