package main

import (
	"os"
	"syscall"
)

// maxRSS is the peak resident set of a finished child, in bytes (ru_maxrss
// counts bytes on macOS).
func maxRSS(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss
	}
	return 0
}
