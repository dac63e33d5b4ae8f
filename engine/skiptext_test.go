package engine

import (
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/pcp-p2p/pcp/manifest"
)

func TestSkipText(t *testing.T) {
	denied := &fs.PathError{Op: "open", Path: "/x/y", Err: syscall.EACCES}
	cases := []struct {
		err  error
		want string
	}{
		{denied, syscall.EACCES.Error()},
		{fmt.Errorf("manifest: %w", denied), syscall.EACCES.Error()},
		{&fs.PathError{Op: "lstat", Path: "/x/gone", Err: syscall.ENOENT}, syscall.ENOENT.Error()},
		{fmt.Errorf("reading: %w", os.NewSyscallError("getdents", syscall.EIO)), "reading: " + syscall.EIO.Error()},
		{fmt.Errorf("%w (a FIFO)", manifest.ErrSpecialFile), strings.TrimPrefix(manifest.ErrSpecialFile.Error(), "manifest: ") + " (a FIFO)"},
	}
	for _, c := range cases {
		got := skipText(c.err)
		if got != c.want {
			t.Errorf("skipText(%q) = %q, want %q", c.err, got, c.want)
		}
		for _, bad := range []string{"/x/", "open ", "lstat ", "getdents", "manifest: "} {
			if strings.Contains(got, bad) {
				t.Errorf("skipText(%q) = %q keeps %q", c.err, got, bad)
			}
		}
	}
}
