//go:build !linux && !darwin && !freebsd && !windows

package engine

// freeSpace cannot tell on this platform: no free-space check is made.
func freeSpace(dir string) (int64, bool) { return 0, false }
