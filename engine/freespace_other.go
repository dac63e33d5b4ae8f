//go:build !linux

package engine

// freeSpace cannot tell on this platform yet: no free-space check is made.
func freeSpace(dir string) (int64, bool) { return 0, false }
