package engine

import (
	"math"

	"golang.org/x/sys/windows"
)

// freeSpace returns the bytes this user may still write on the volume
// holding dir (quotas included), and false when it cannot tell.
func freeSpace(dir string) (int64, bool) {
	p, err := windows.UTF16PtrFromString(dir)
	if err != nil {
		return 0, false
	}
	var avail, total, free uint64
	if windows.GetDiskFreeSpaceEx(p, &avail, &total, &free) != nil {
		return 0, false
	}
	return int64(min(avail, math.MaxInt64)), true
}
