//go:build unix

package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestSendSpecialFiles: a FIFO in a tree is reported, not silently left
// out; a FIFO alone is nothing to send, which fails instead of offering
// "0 files, 0 B" and exiting 0.
func TestSendSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe\x1b[2J")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	r := runPCP(t, t.TempDir(), "", "send", "--no-discovery", "--listen", "/ip4/127.0.0.1/tcp/0", fifo)
	if r.code == exitOK {
		t.Fatalf("pcp send FIFO: exit 0\n%s%s", r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "nothing to send") {
		t.Errorf("stderr does not say there is nothing to send:\n%s", r.stderr)
	}
	if !strings.Contains(r.stdout, `skipped `+filepath.Join(dir, `pipe\x1b[2J`)+`: not a regular file, directory or symlink (a FIFO)`) {
		t.Errorf("the FIFO is not reported (escaped):\n%s", r.stdout)
	}
	if hasControl([]byte(r.stdout + r.stderr)) {
		t.Errorf("raw control bytes in the output:\n%q", r.stdout+r.stderr)
	}

	// In a tree, with --json: a "skipped" event names it, and the send
	// goes on (the sender is stopped once its manifest is ready).
	tree := filepath.Join(dir, "tree")
	writeFile(t, filepath.Join(tree, "a.txt"), []byte("a"))
	if err := syscall.Mkfifo(filepath.Join(tree, "p"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, _, _ := sender(t, tree)
	ev := p.waitEvent("skipped", nil)
	if ev["path"] != filepath.Join(tree, "p") || !strings.Contains(ev["reason"].(string), "FIFO") {
		t.Errorf("skipped event %v", ev)
	}
	m := p.waitEvent("manifest", nil)
	if num(m, "files") != 1 {
		b, _ := json.Marshal(m)
		t.Errorf("manifest event %s, want 1 file", b)
	}
}
