package engine

import (
	"math"
	"syscall"
)

// freeSpace returns the bytes an unprivileged user may still write on the
// file system holding dir, and false when it cannot tell.
func freeSpace(dir string) (int64, bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, false
	}
	bs := int64(st.Bsize) // int32 on some architectures
	if bs <= 0 {
		return 0, false
	}
	if st.Bavail > uint64(math.MaxInt64/bs) {
		return math.MaxInt64, true
	}
	return int64(st.Bavail) * bs, true
}
