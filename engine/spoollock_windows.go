package engine

import (
	"os"

	"golang.org/x/sys/windows"
)

// lockSpool locks one byte of f far past any data, without waiting: it
// fails while another spool (of this process or another) holds it. A
// Windows lock is mandatory, hence the byte no one reads; it goes with the
// process, however it ends.
func lockSpool(f *os.File) error {
	ol := windows.Overlapped{Offset: 0xFFFFFFFE, OffsetHigh: 0x3FFFFFFF}
	return windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ol)
}

const spoolLocks = true
