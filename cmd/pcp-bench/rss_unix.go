//go:build unix && !darwin

package main

import (
	"os"
	"syscall"
)

// maxRSS is the peak resident set of a finished child, in bytes (ru_maxrss
// counts KiB here).
func maxRSS(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return int64(ru.Maxrss) << 10
	}
	return 0
}
