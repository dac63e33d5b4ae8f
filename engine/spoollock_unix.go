//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package engine

import (
	"os"
	"syscall"
)

// lockSpool takes an exclusive advisory lock on f, without waiting: it
// fails while another spool (of this process or another) holds one. The
// lock goes with the process, however it ends.
func lockSpool(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}

const spoolLocks = true
