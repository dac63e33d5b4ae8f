package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSendText: a message goes through the built binaries; the receiver
// prints it, escaped, with its line breaks, asks nothing (stdin is empty:
// a question would be declined) and writes nothing at its destination.
// With --json a "text" event carries it as sent.
func TestSendText(t *testing.T) {
	msg := "first line\nsecond \x1b[2J line"
	s, words, addr := sender(t, "--text", msg)
	dest := t.TempDir()
	r := runPCP(t, t.TempDir(), "", "receive", "--direct", addr, "-o", dest, words)
	if r.code != exitOK {
		t.Fatalf("receive exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "first line\nsecond \\x1b[2J line\n") {
		t.Errorf("the message is not printed, escaped, with its line break:\n%q", r.stdout)
	}
	if strings.Contains(r.stdout+r.stderr, "\x1b[2J") || strings.Contains(r.stdout, "Accept?") {
		t.Errorf("raw escape sequence or a question:\n%q\n%q", r.stdout, r.stderr)
	}
	if ents, _ := os.ReadDir(dest); len(ents) != 0 {
		t.Errorf("the destination holds %d entries after a message", len(ents))
	}
	if code := s.wait(); code != exitOK {
		t.Fatalf("send exit %d\n%s", code, s.errText())
	}

	s, words, addr = sender(t, "--text", msg)
	rp := start(t, t.TempDir(), nil, "receive", "--json", "--direct", addr, "-o", dest, words)
	ev := rp.waitEvent("text", nil)
	if ev["text"] != msg || num(ev, "bytes") != int64(len(msg)) {
		t.Errorf("text event = %v, want %q", ev, msg)
	}
	if code := rp.wait(); code != exitOK {
		t.Fatalf("receive --json exit %d\n%s", code, rp.errText())
	}
	s.wait()
}

// TestSendTextRefused: --text fails before the words are shown when it is
// too long (with advice to send a file), empty, or given with paths.
func TestSendTextRefused(t *testing.T) {
	f := filepath.Join(t.TempDir(), "x")
	writeFile(t, f, []byte("1"))
	for name, args := range map[string][]string{
		"too long":   {"send", "--text", strings.Repeat("x", 64<<10+1)},
		"with paths": {"send", "--text", "hi", f},
		"no paths":   {"send"},
		"exclude":    {"send", "--text", "hi", "--exclude", "*.log"},
	} {
		r := runPCP(t, t.TempDir(), "", args...)
		if r.code != exitUsage || strings.Contains(r.stdout+r.stderr, "pcp receive") {
			t.Errorf("%s: exit %d, want %d before any words\n%s\n%s", name, r.code, exitUsage, r.stdout, r.stderr)
		}
		if name == "too long" && !strings.Contains(r.stderr, "send it as a file") {
			t.Errorf("too long: no advice to send a file:\n%s", r.stderr)
		}
	}
}

func TestEscapeText(t *testing.T) {
	for in, want := range map[string]string{
		"a\nb\tc":             "a\nb\tc",
		"over\rwrite":         `over\x0dwrite`,
		"\x1b[31mred\u202e\n": `\x1b[31mred\u202e` + "\n",
		"bad \xff byte":       `bad \xff byte`,
	} {
		if got := escapeText(in); got != want {
			t.Errorf("escapeText(%q) = %q, want %q", in, got, want)
		}
	}
}
