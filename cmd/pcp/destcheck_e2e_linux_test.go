package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestUnwritableDestination: a destination that cannot be written is
// refused before any search, naming the directory given. /sys refuses new
// files even to root.
func TestUnwritableDestination(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	writeFile(t, file, []byte("x"))
	for _, d := range []string{file, filepath.Join(file, "sub"), "/sys/pcp-dest"} {
		r := runPCP(t, t.TempDir(), "", "receive", "-o", d, "lemon-orbit-tiger-salad")
		if r.code == exitOK || r.code == exitNotFound {
			t.Errorf("-o %s: exit %d\n%s", d, r.code, r.stderr)
		}
		if strings.Contains(r.stdout, "Looking for the sender") {
			t.Errorf("-o %s: searched before refusing:\n%s", d, r.stdout)
		}
		if !strings.Contains(r.stderr, d) || strings.Contains(r.stderr, ".pcp-") {
			t.Errorf("-o %s: the error does not name it (or names an internal file):\n%s", d, r.stderr)
		}
	}
}
