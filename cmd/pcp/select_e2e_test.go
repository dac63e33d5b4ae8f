package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSelectiveReceiveE2E: `pcp receive --only` takes one subtree, says so
// in the offer and at the end, and `pcp verify` checks that part and counts
// the rest as not selected.
func TestSelectiveReceiveE2E(t *testing.T) {
	src := sampleTree(t) // 23 files; tree/a/b/c/deep.bin is the only one under a/b
	state, dest := t.TempDir(), t.TempDir()

	if r := runPCP(t, state, "", "receive", "--only", "a[", "lemon-orbit-tiger-salad"); r.code != exitUsage ||
		!strings.Contains(r.stderr, "a[") {
		t.Errorf("bad glob: exit %d, want %d naming it\n%s", r.code, exitUsage, r.stderr)
	}

	s, words, addr := sender(t, src)
	r := runPCP(t, state, "", "receive", "--yes", "--only", "tree/a/b/", "--direct", addr, "-o", dest, words)
	if r.code != exitOK {
		t.Fatalf("receive --only: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// The sender learns that the receiver took a selection: it does not
	// claim the receiver has every file.
	if de := s.waitEvent("done", nil); de["selected"] != 1.0 || de["receivers"] != 1.0 {
		t.Errorf("sender's done event: %v, want 1 receiver, 1 selected", de)
	}
	if code := s.wait(); code != exitOK {
		t.Fatalf("send exit %d\n%s", code, s.errText())
	}
	for _, want := range []string{"selected: 1 of 23 files", "--only tree/a/b", "Done: the selected 1 of 23 files"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("receive output lacks %q:\n%s", want, r.stdout)
		}
	}
	deep := filepath.Join("a", "b", "c", "deep.bin")
	if b1, _ := os.ReadFile(filepath.Join(src, deep)); len(b1) == 0 {
		t.Fatal("no source")
	} else if b2, _ := os.ReadFile(filepath.Join(dest, "tree", deep)); string(b1) != string(b2) {
		t.Fatal("deep.bin not received")
	}
	for _, not := range []string{"top.txt", "emptydir", filepath.Join("a", "f00.dat")} {
		if _, err := os.Lstat(filepath.Join(dest, "tree", not)); err == nil {
			t.Errorf("%s received, but not selected", not)
		}
	}

	v := runPCP(t, state, "", "verify", dest)
	if v.code != exitOK || !strings.Contains(v.stdout, "22 files") || !strings.Contains(v.stdout, "not selected") {
		t.Fatalf("verify of the part received: exit %d\n%s\n%s", v.code, v.stdout, v.stderr)
	}
	vj := runPCP(t, state, "", "verify", "--json", dest)
	var verified map[string]any
	for _, l := range strings.Split(strings.TrimSpace(vj.stdout), "\n") {
		var ev map[string]any
		if json.Unmarshal([]byte(l), &ev) == nil && ev["event"] == "verified" {
			verified = ev
		}
	}
	if vj.code != exitOK || verified["ok"] != true || verified["files"] != 1.0 || verified["not_selected_files"] != 22.0 {
		t.Fatalf("verify --json: exit %d, verified %v", vj.code, verified)
	}
	// A damaged selected file still fails it.
	writeFile(t, filepath.Join(dest, "tree", deep), []byte("damaged"))
	if v := runPCP(t, state, "", "verify", dest); v.code != exitVerify {
		t.Fatalf("verify of a damaged selected file: exit %d\n%s", v.code, v.stdout)
	}

	// A selection that matches nothing is declined: exit 7, nothing written.
	s2, words2, addr2 := sender(t, src)
	dest2 := t.TempDir()
	r2 := runPCP(t, t.TempDir(), "", "receive", "--yes", "--json", "--only", "a/b", "--direct", addr2, "-o", dest2, words2)
	if r2.code != exitDeclined || !strings.Contains(r2.stderr+r2.stdout, "matches nothing") {
		t.Errorf("selection matching nothing: exit %d, want %d\n%s\n%s", r2.code, exitDeclined, r2.stdout, r2.stderr)
	}
	if ents, _ := os.ReadDir(dest2); len(ents) != 0 {
		t.Errorf("selection matching nothing wrote %v", ents)
	}
	_ = s2.cmd.Process.Kill()
	s2.wait()
}
