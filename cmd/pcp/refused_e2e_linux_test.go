package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReceiveRefusesUnrepresentable runs real pcp processes: the sender's
// tree has a path that fits on the sender but not below the receiver's deep
// destination (Linux: 4095 bytes with the destination). The receiver shows
// the offer with the refused entry and the reason, writes nothing, and
// exits as declined.
func TestReceiveRefusesUnrepresentable(t *testing.T) {
	seg := strings.Repeat("d", 200)
	src := filepath.Join(t.TempDir(), "tree")
	writeFile(t, filepath.Join(src, "ok.txt"), []byte("fits\n"))
	writeFile(t, filepath.Join(src, seg, seg, seg, seg, "f.txt"), []byte("too deep here\n"))
	// "tree" and three levels fit below the destination, the fourth does
	// not: its length is within [4095-808, 4095-1-607].
	dest := filepath.Join(t.TempDir(), "out")
	for len(dest) < 4095-808 {
		dest = filepath.Join(dest, strings.Repeat("o", 200))
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		t.Fatal(err)
	}
	_, words, addr := sender(t, src)
	r := runPCP(t, t.TempDir(), "", "receive", "--yes", "--direct", addr, "-o", dest, words)
	if r.code != exitDeclined {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, exitDeclined, r.stdout, r.stderr)
	}
	deep := "tree/" + seg + "/" + seg + "/" + seg + "/" + seg
	for _, want := range []string{
		"refused: this destination cannot hold 2 entries (nothing is written):",
		"        " + deep + ": the path is too long for the file system\n",
		"        " + deep + "/f.txt: the path is too long for the file system\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "Nothing was written.") || !strings.Contains(r.stderr, "cannot hold some entries") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	if names, _ := os.ReadDir(dest); len(names) != 0 {
		t.Errorf("destination holds %v after the refusal", names)
	}
}
