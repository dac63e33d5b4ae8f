//go:build unix

package manifest

import (
	"syscall"
	"testing"
)

func mkfifo(tb testing.TB, path string) {
	tb.Helper()
	must(tb, syscall.Mkfifo(path, 0o644))
}
