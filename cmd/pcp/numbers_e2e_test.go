package main

import (
	"testing"
)

// TestSenderCountsFiles: the sender's progress counts the files it has
// sent in full (an empty file is never asked for, so the count may stay
// below the total), and its done event has the total.
func TestSenderCountsFiles(t *testing.T) {
	src := sampleTree(t)
	s, words, addr := sender(t, src)
	r := runPCP(t, t.TempDir(), "", "receive", "--yes", "--direct", addr, "-o", t.TempDir(), words)
	if r.code != exitOK {
		t.Fatalf("receive exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if code := s.wait(); code != exitOK {
		t.Fatalf("send exit %d\n%s", code, s.errText())
	}
	prog := s.eventsNamed("progress")
	if len(prog) == 0 {
		t.Fatal("no sender progress events")
	}
	last := prog[len(prog)-1]
	total := num(last, "files_total")
	// 23 files, one of them empty: 22 are asked for and sent.
	if total != 23 || num(last, "files") != 22 {
		t.Errorf("last sender progress %v: want 22 of 23 files sent", last)
	}
	if d := s.eventsNamed("done"); len(d) != 1 || num(d[0], "files") != 23 {
		t.Errorf("sender done events %v, want files 23", d)
	}
}
