//go:build unix

package engine

import (
	"testing"

	"golang.org/x/sys/unix"
)

// nlink is the number of names of the file at path.
func nlink(tb testing.TB, path string) uint64 {
	tb.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		tb.Fatal(err)
	}
	return uint64(st.Nlink)
}

// ctime is the change time of the file at path, in Unix ns.
func ctime(tb testing.TB, path string) int64 {
	tb.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		tb.Fatal(err)
	}
	return st.Ctim.Nano()
}
