package main

import (
	"bytes"
	"crypto/sha256"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// stdoutRun is a finished `pcp receive --stdout`: the SHA-256 and length
// of what it wrote to stdout, its stderr and its process state.
type stdoutRun struct {
	sum    [32]byte
	n      int64
	stderr string
	code   int
	ps     *os.ProcessState
}

// receiveStdout runs pcp with args, hashing its stdout as it arrives;
// keep, when > 0, closes stdout after that many bytes (a reader that goes
// away, like head -c).
func receiveStdout(t testing.TB, state string, keep int64, args ...string) stdoutRun {
	t.Helper()
	return receiveStdoutWatch(t, state, keep, nil, args...)
}

// receiveStdoutWatch is receiveStdout; watch, if not nil, is given the
// child's pid once it runs and returns a writer that sees stdout too.
func receiveStdoutWatch(t testing.TB, state string, keep int64, watch func(pid int) io.Writer, args ...string) stdoutRun {
	t.Helper()
	cmd := exec.Command(pcpBin, args...)
	cmd.Env = childEnv("PCP_STATE_DIR=" + state)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	var w io.Writer = h
	if watch != nil {
		w = io.MultiWriter(h, watch(cmd.Process.Pid))
	}
	var n int64
	if keep > 0 {
		n, _ = io.CopyN(h, out, keep)
		out.Close()
	} else if n, err = io.Copy(w, out); err != nil {
		t.Fatal(err)
	}
	code := exitCodeOf(t, cmd.Wait())
	return stdoutRun{sum: [32]byte(h.Sum(nil)), n: n, stderr: errb.String(), code: code, ps: cmd.ProcessState}
}

func sha256File(t testing.TB, path string) [32]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return [32]byte(h.Sum(nil))
}

// TestReceiveStdout: a file sent with pcp send arrives on the receiver's
// stdout byte for byte; the messages went to stderr, and the state
// directory keeps nothing of it.
func TestReceiveStdout(t *testing.T) {
	src := filepath.Join(t.TempDir(), "data.bin")
	writeSeeded(t, src, 24<<20+123, 7)
	s, words, addr := sender(t, src)
	state := t.TempDir()
	r := receiveStdout(t, state, 0, "receive", "--stdout", "--yes", "--direct", addr, words)
	if r.code != exitOK {
		t.Fatalf("receive --stdout exit %d\n%s", r.code, r.stderr)
	}
	if r.n != 24<<20+123 || r.sum != sha256File(t, src) {
		t.Fatalf("stdout: %d bytes, hash differs: %v", r.n, r.sum != sha256File(t, src))
	}
	if !strings.Contains(r.stderr, "data.bin") {
		t.Errorf("the offer is not on stderr:\n%s", r.stderr)
	}
	ents, _ := os.ReadDir(state)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "stdout-") {
			t.Errorf("%s left in the state directory", e.Name())
		}
	}
	if code := s.wait(); code != exitOK {
		t.Fatalf("send exit %d\n%s", code, s.errText())
	}
}

// TestReceiveStdoutRefusals: --stdout with a flag about a destination is a
// usage error; an offer of two files is declined with what to do instead,
// and nothing reaches stdout.
func TestReceiveStdoutRefusals(t *testing.T) {
	for _, extra := range [][]string{{"-o", t.TempDir()}, {"--only", "x"}, {"--skip", "x"}, {"--overwrite"}, {"--skip-existing"}} {
		args := append([]string{"receive", "--stdout"}, extra...)
		r := runPCP(t, t.TempDir(), "", append(args, "lemon-orbit-tiger-salad")...)
		if r.code != exitUsage || r.stdout != "" || !strings.Contains(r.stderr, "--stdout") {
			t.Errorf("%v: exit %d, want %d\nstdout %q\nstderr %s", extra, r.code, exitUsage, r.stdout, r.stderr)
		}
	}

	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.txt"), []byte("a"))
	writeFile(t, filepath.Join(dir, "b.txt"), []byte("b"))
	s, words, addr := sender(t, filepath.Join(dir, "a.txt"), filepath.Join(dir, "b.txt"))
	r := receiveStdout(t, t.TempDir(), 0, "receive", "--stdout", "--yes", "--direct", addr, words)
	want := "--stdout takes an offer of one file; this offer has 2 files: receive it with -o DIR"
	if r.code != exitDeclined || r.n != 0 || !strings.Contains(r.stderr, want) {
		t.Fatalf("two files: exit %d, %d bytes on stdout, want exit %d and %q\n%s", r.code, r.n, exitDeclined, want, r.stderr)
	}
	// The sender keeps offering: a receive into a directory gets both.
	out := t.TempDir()
	if rr := runPCP(t, t.TempDir(), "", "receive", "--yes", "--direct", addr, "-o", out, words); rr.code != exitOK {
		t.Fatalf("receive after the refusal: exit %d\n%s", rr.code, rr.stderr)
	}
	if code := s.wait(); code != exitOK {
		t.Fatalf("send exit %d\n%s", code, s.errText())
	}
}

// TestReceiveStdoutClosed: a reader that goes away (head -c 10) ends the
// receive with its own exit code and one clear line, no stack trace.
func TestReceiveStdoutClosed(t *testing.T) {
	src := filepath.Join(t.TempDir(), "data.bin")
	writeSeeded(t, src, 32<<20, 8)
	_, words, addr := sender(t, src)
	r := receiveStdout(t, t.TempDir(), 10, "receive", "--stdout", "--yes", "--direct", addr, words)
	if r.code != exitOutput || !strings.Contains(r.stderr, "standard output was closed") ||
		strings.Contains(r.stderr, "goroutine") {
		t.Fatalf("closed stdout: exit %d, want %d\n%s", r.code, exitOutput, r.stderr)
	}
}
