package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// streamSender starts `pcp send --json ... -` with stdin as its standard
// input, on loopback without discovery, and returns it with its passphrase,
// first address and state directory.
func streamSender(t *testing.T, stdin *os.File, extra ...string) (p *proc, words, addr, state string) {
	t.Helper()
	args := append([]string{"send", "--json", "--no-discovery", "--listen", "/ip4/127.0.0.1/tcp/0"}, extra...)
	state = t.TempDir()
	p = start(t, state, stdin, append(args, "-")...)
	pe := p.waitEvent("passphrase", nil)
	words, _ = pe["passphrase"].(string)
	le := p.waitEvent("listening", nil)
	addrs, _ := le["addrs"].([]any)
	if len(addrs) == 0 || words == "" {
		t.Fatalf("bad passphrase/listening events: %v %v", pe, le)
	}
	addr, _ = addrs[0].(string)
	return p, words, addr, state
}

// seededFile writes size seeded bytes to a new file and opens it, to be a
// child's standard input.
func seededFile(t *testing.T, size int64) (string, *os.File) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "input")
	writeSeeded(t, path, size, 9)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return path, f
}

// TestSendStdinToStdout: pcp send - reads its standard input while a
// receiver with --stdout writes it out, byte for byte; the sender exits 0
// and its spool is gone from the state directory.
func TestSendStdinToStdout(t *testing.T) {
	const size = 5<<20 + 77
	src, in := seededFile(t, size)
	s, words, addr, state := streamSender(t, in)
	r := receiveStdout(t, t.TempDir(), 0, "receive", "--stdout", "--yes", "--direct", addr, words)
	if r.code != exitOK {
		t.Fatalf("receive --stdout exit %d\n%s", r.code, r.stderr)
	}
	if r.n != size || r.sum != sha256File(t, src) {
		t.Fatalf("stdout: %d bytes of %d, hash equal: %v", r.n, size, r.sum == sha256File(t, src))
	}
	if code := s.wait(); code != exitOK {
		t.Fatalf("send - exit %d\n%s", code, s.errText())
	}
	spools, _ := filepath.Glob(filepath.Join(state, "pcp-stream-*"))
	if len(spools) != 0 {
		t.Fatalf("spool left in the state directory: %v", spools)
	}
}

// TestSendStdinToFile: pcp send --name NAME - arrives as the file NAME at
// the receiver's destination; --no-spool sends it as well.
func TestSendStdinToFile(t *testing.T) {
	for _, extra := range [][]string{{"--name", "backup.tar"}, {"--name", "backup.tar", "--no-spool"}} {
		t.Run(strings.Join(extra, " "), func(t *testing.T) {
			src, in := seededFile(t, 3<<20+5)
			s, words, addr, state := streamSender(t, in, extra...)
			dest := t.TempDir()
			res := runPCP(t, t.TempDir(), "", "receive", "--yes", "--direct", addr, "-o", dest, words)
			if res.code != exitOK {
				t.Fatalf("receive exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
			}
			if sha256File(t, filepath.Join(dest, "backup.tar")) != sha256File(t, src) {
				t.Fatal("the received file differs from the input")
			}
			if code := s.wait(); code != exitOK {
				t.Fatalf("send - exit %d\n%s", code, s.errText())
			}
			if spools, _ := filepath.Glob(filepath.Join(state, "pcp-stream-*")); len(spools) != 0 {
				t.Fatalf("spool left in the state directory: %v", spools)
			}
		})
	}
}

// TestSendStdinUsage: '-' goes alone, the stream flags go with it only,
// and their values are checked before the words are shown.
func TestSendStdinUsage(t *testing.T) {
	for _, args := range [][]string{
		{"send", "-", "other"},
		{"send", "--text", "hi", "-"},
		{"send", "--exclude", "*.o", "-"},
		{"send", "--name", "x", "somefile"},
		{"send", "--no-spool", "somefile"},
		{"send", "--no-spool", "--spool-max", "1G", "-"},
		{"send", "--name", "a/b", "-"},
		{"send", "--name", "..", "-"},
		{"send", "--spool-max", "lots", "-"},
	} {
		var out, errw bytes.Buffer
		if code := run(args, strings.NewReader("data"), &out, &errw); code != exitUsage {
			t.Errorf("run %v = %d, want %d; stderr %q", args, code, exitUsage, errw.String())
		}
		if strings.Contains(out.String()+errw.String(), "Passphrase") {
			t.Errorf("run %v showed the words before failing", args)
		}
	}
}

// TestSendStdinSpoolFull: standard input larger than --spool-max ends the
// send (exit 1) with a message that names the bound and the ways out, and
// leaves no spool behind.
func TestSendStdinSpoolFull(t *testing.T) {
	_, in := seededFile(t, 3<<20)
	state := t.TempDir()
	p := start(t, state, in, "send", "--no-discovery", "--listen", "/ip4/127.0.0.1/tcp/0", "--spool-max", "1M", "-")
	if code := p.wait(); code != exitOther {
		t.Fatalf("exit %d, want %d\n%s", code, exitOther, p.errText())
	}
	for _, w := range []string{"spool", "--spool-max", "--no-spool"} {
		if !strings.Contains(p.errText(), w) {
			t.Errorf("stderr does not say %q:\n%s", w, p.errText())
		}
	}
	if spools, _ := filepath.Glob(filepath.Join(state, "pcp-stream-*")); len(spools) != 0 {
		t.Fatalf("spool left in the state directory: %v", spools)
	}
}
