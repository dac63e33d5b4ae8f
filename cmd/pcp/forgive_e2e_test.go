package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// conflictDest is a destination holding two files of sampleTree that differ
// from it (the user's own).
func conflictDest(t *testing.T) (dest string, mine []byte) {
	t.Helper()
	dest = t.TempDir()
	mine = []byte("mine, not yours\n")
	writeFile(t, filepath.Join(dest, "tree", "top.txt"), mine)
	writeFile(t, filepath.Join(dest, "tree", "a", "f03.dat"), mine)
	return dest, mine
}

func keptMine(t *testing.T, dest string, mine []byte) {
	t.Helper()
	for _, f := range []string{"top.txt", filepath.Join("a", "f03.dat")} {
		if b, _ := os.ReadFile(filepath.Join(dest, "tree", f)); string(b) != string(mine) {
			t.Errorf("%s was replaced: %q", f, b)
		}
	}
}

// TestConflictQuestion answers the conflict question three ways through
// the built binary: cancel (the sender keeps offering), skip (the rest
// arrives, the user's files stay, verify does not vouch for them) and
// replace.
func TestConflictQuestion(t *testing.T) {
	src := sampleTree(t)
	dest, mine := conflictDest(t)
	s, words, addr := sender(t, src)

	r := runPCP(t, t.TempDir(), "c\n", "receive", "--direct", addr, "-o", dest, words)
	if r.code != exitDeclined {
		t.Fatalf("cancel: exit %d, want %d\n%s\n%s", r.code, exitDeclined, r.stdout, r.stderr)
	}
	for _, want := range []string{"2 files here differ from the offer", "tree/top.txt (differs)", "tree/a/f03.dat (differs)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("offer lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "[r/s/C]") || strings.Contains(r.stdout+r.stderr, "[tree") {
		t.Errorf("no question, or a Go slice:\n%s\n%s", r.stdout, r.stderr)
	}
	keptMine(t, dest, mine)
	s.waitEvent("declined", nil)

	// --yes alone never replaces: refused, exit 7, the offer stands.
	r = runPCP(t, t.TempDir(), "", "receive", "--yes", "--direct", addr, "-o", dest, words)
	if r.code != exitDeclined || !strings.Contains(r.stderr, "--skip-existing") {
		t.Fatalf("--yes: exit %d, want %d with advice\n%s", r.code, exitDeclined, r.stderr)
	}
	s.waitEvent("declined", nil)

	state := t.TempDir()
	r = runPCP(t, state, "s\n", "receive", "--direct", addr, "-o", dest, words)
	if r.code != exitOK {
		t.Fatalf("skip: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "Left 2 existing files as they were") {
		t.Errorf("skip: the summary does not count the skipped files:\n%s", r.stdout)
	}
	if code := s.wait(); code != exitOK {
		t.Fatalf("send exit %d\n%s", code, s.errText())
	}
	keptMine(t, dest, mine)
	for _, f := range []string{filepath.Join("a", "b", "c", "deep.bin"), filepath.Join("a", "f04.dat")} {
		x, _ := os.ReadFile(filepath.Join(src, f))
		y, err := os.ReadFile(filepath.Join(dest, "tree", f))
		if err != nil || string(x) != string(y) {
			t.Errorf("skip: %s not received (%v)", f, err)
		}
	}
	v := runPCP(t, state, "", "verify", filepath.Join(dest, "tree"))
	if v.code != exitVerify {
		t.Errorf("verify after skip: exit %d, want %d (the user's files do not match)\n%s\n%s", v.code, exitVerify, v.stdout, v.stderr)
	}

	s, words, addr = sender(t, src)
	r = runPCP(t, t.TempDir(), "r\n", "receive", "--direct", addr, "-o", dest, words)
	if r.code != exitOK {
		t.Fatalf("replace: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	s.wait()
	sameTree(t, src, filepath.Join(dest, "tree"))
}

// TestSkipExistingFlag: --skip-existing answers without a question; the
// JSON says how many files were skipped.
func TestSkipExistingFlag(t *testing.T) {
	src := sampleTree(t)
	dest, mine := conflictDest(t)
	s, words, addr := sender(t, src)
	rp := start(t, t.TempDir(), nil, "receive", "--json", "--yes", "--skip-existing", "--direct", addr, "-o", dest, words)
	ev := rp.waitEvent("skipped_existing", nil)
	if num(ev, "files") != 2 {
		t.Errorf("skipped_existing = %v, want 2 files", ev)
	}
	if code := rp.wait(); code != exitOK {
		t.Fatalf("receive exit %d\n%s", code, rp.errText())
	}
	if d := rp.eventsNamed("done"); len(d) != 1 || num(d[0], "skipped_files") != 2 {
		t.Errorf("done events %v, want one with skipped_files 2", d)
	}
	s.wait()
	keptMine(t, dest, mine)
	r := runPCP(t, t.TempDir(), "", "receive", "--overwrite", "--skip-existing", "-o", dest, "x-y-z-w")
	if r.code != exitUsage {
		t.Errorf("--overwrite with --skip-existing: exit %d, want %d", r.code, exitUsage)
	}
}

// TestSendChecksBeforeWords: what can fail fails before the words are shown.
func TestSendChecksBeforeWords(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a", "x"), []byte("1"))
	writeFile(t, filepath.Join(dir, "b", "x"), []byte("2"))
	for _, args := range [][]string{
		{filepath.Join(dir, "a", "x"), filepath.Join(dir, "b", "x")},
		{filepath.Join(dir, "a"), filepath.Join(dir, "missing")},
	} {
		r := runPCP(t, t.TempDir(), "", append([]string{"send", "--no-discovery"}, args...)...)
		if r.code != exitUsage {
			t.Errorf("send %v: exit %d, want %d\n%s", args, r.code, exitUsage, r.stderr)
		}
		if strings.Contains(r.stdout, "Passphrase") {
			t.Errorf("send %v showed the words before failing:\n%s", args, r.stdout)
		}
	}
}

// TestCtrlCAtPrompt: Ctrl-C at the question tells one story on both sides:
// the receiver stopped at the prompt and nothing was received (exit 5);
// the sender was declined and keeps offering.
func TestCtrlCAtPrompt(t *testing.T) {
	src := sampleTree(t)
	s, words, addr := sender(t, src)
	dest := t.TempDir()
	// An answer that never comes; an *os.File, so that the child holds it
	// and nothing copies into it after the child exits.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	defer pr.Close()
	rp := start(t, t.TempDir(), pr, "receive", "--json", "--direct", addr, "-o", dest, words)
	rp.waitEvent("offer", nil)
	if err := rp.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := rp.wait(); code != exitInterrupted {
		t.Fatalf("receive: exit %d, want %d\n%s", code, exitInterrupted, rp.errText())
	}
	if !strings.Contains(rp.errText(), "Cancelled at the prompt") || !strings.Contains(rp.errText(), "keeps offering") {
		t.Errorf("receiver's story:\n%s", rp.errText())
	}
	s.waitEvent("declined", nil)
	if ents, _ := os.ReadDir(dest); len(ents) != 0 {
		t.Errorf("wrote %d entries", len(ents))
	}
	// Still offering: a receiver that accepts gets everything.
	r := runPCP(t, t.TempDir(), "y\n", "receive", "--direct", addr, "-o", dest, words)
	if r.code != exitOK {
		t.Fatalf("receive after Ctrl-C: exit %d\n%s", r.code, r.stderr)
	}
	s.wait()
	sameTree(t, src, filepath.Join(dest, "tree"))
}
