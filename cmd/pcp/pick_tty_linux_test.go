package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ttySession is pcp running with a terminal on stdin, stdout and stderr:
// the test reads what it draws and types answers.
type ttySession struct {
	t      *testing.T
	cmd    *exec.Cmd
	master *os.File
	mu     sync.Mutex
	out    bytes.Buffer
	more   chan struct{} // signalled when output arrives
	ended  chan error
}

func startOnTTY(t *testing.T, state string, args ...string) *ttySession {
	t.Helper()
	m, s := openPTY(t)
	cmd := exec.Command(pcpBin, args...)
	cmd.Env = childEnv("PCP_STATE_DIR="+state, "TERM=xterm")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s, s, s
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	ts := &ttySession{t: t, cmd: cmd, master: m, more: make(chan struct{}, 1), ended: make(chan error, 1)}
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := m.Read(b)
			ts.mu.Lock()
			ts.out.Write(b[:n])
			ts.mu.Unlock()
			select {
			case ts.more <- struct{}{}:
			default:
			}
			if err != nil { // EIO once the child closed its end
				ts.ended <- err
				return
			}
		}
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return ts
}

func (ts *ttySession) text() string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.out.String()
}

// waitFor waits until pcp has drawn s (an event, not a sleep: each read
// of the terminal signals).
func (ts *ttySession) waitFor(s string) { ts.t.Helper(); ts.waitCount(s, 1) }

// waitCount waits until pcp has drawn s n times.
func (ts *ttySession) waitCount(s string, n int) {
	ts.t.Helper()
	deadline := time.After(eventWait)
	for strings.Count(ts.text(), s) < n {
		select {
		case <-ts.more:
		case <-deadline:
			ts.t.Fatalf("pcp never drew %q; it drew:\n%s", s, ts.text())
		}
	}
}

func (ts *ttySession) typeLine(s string) {
	ts.t.Helper()
	if _, err := ts.master.WriteString(s + "\n"); err != nil {
		ts.t.Fatal(err)
	}
}

// wait returns pcp's exit code once it ended.
func (ts *ttySession) wait() int {
	ts.t.Helper()
	select {
	case err := <-ts.ended:
		if err != nil && !errors.Is(err, syscall.EIO) {
			ts.t.Fatalf("reading the terminal: %v", err)
		}
	case <-time.After(eventWait):
		ts.t.Fatalf("pcp did not finish; it drew:\n%s", ts.text())
	}
	return exitCodeOf(ts.t, ts.cmd.Wait())
}

// TestPickOnTTY: `pcp receive --pick` lists the offer's top-level entries
// on the terminal, takes the numbers typed, says what is selected in the
// offer, and receives exactly that; a wrong answer is asked again.
func TestPickOnTTY(t *testing.T) {
	dir := t.TempDir()
	tree := sampleTree(t)
	one := filepath.Join(dir, "one.txt")
	writeFile(t, one, []byte("the first"))
	two := filepath.Join(dir, "two[2].bin")
	writeFile(t, two, bytes.Repeat([]byte("2"), 5000))
	s, words, addr := sender(t, tree, one, two)
	dest := t.TempDir()
	ts := startOnTTY(t, t.TempDir(), "receive", "--pick", "--direct", addr, "-o", dest, words)
	ts.waitFor("Receive which?")
	for _, want := range []string{"3 entries", "tree/", "23 files", "one.txt", "two[2].bin"} {
		if !strings.Contains(ts.text(), want) {
			t.Errorf("the list lacks %q:\n%s", want, ts.text())
		}
	}
	// The numbers of one.txt and two[2].bin, as drawn.
	var picks []string
	for _, l := range strings.Split(ts.text(), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && (f[1] == "one.txt" || f[1] == "two[2].bin") {
			picks = append(picks, f[0])
		}
	}
	if len(picks) != 2 {
		t.Fatalf("could not find both files in the list:\n%s", ts.text())
	}
	ts.typeLine("7")
	ts.waitFor("not an entry number")
	ts.waitCount("Receive which?", 2) // asked again
	ts.typeLine(strings.Join(picks, ","))
	ts.waitFor("Accept?")
	if strings.Count(ts.text(), "Receive which?") != 2 {
		t.Errorf("asked again after a good answer:\n%s", ts.text())
	}
	if !strings.Contains(ts.text(), "selected: 2 of 25 files") {
		t.Errorf("the offer does not say what is selected:\n%s", ts.text())
	}
	ts.typeLine("y")
	if code := ts.wait(); code != exitOK {
		t.Fatalf("receive --pick: exit %d\n%s", code, ts.text())
	}
	for _, f := range []string{one, two} {
		want, _ := os.ReadFile(f)
		if got, err := os.ReadFile(filepath.Join(dest, filepath.Base(f))); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %v, or it differs", filepath.Base(f), err)
		}
	}
	// The bar's last frame counts the selected files, not the offer's.
	if strings.Contains(ts.text(), "25/25 files") || !strings.Contains(ts.text(), "2/2 files") {
		t.Errorf("the progress bar does not end at the 2 files selected:\n%s", ts.text())
	}
	if _, err := os.Lstat(filepath.Join(dest, "tree")); err == nil {
		t.Error("tree received, but not picked")
	}
	if code := s.wait(); code != exitOK {
		t.Fatalf("send exit %d\n%s", code, s.errText())
	}
}

// TestPickNeedsTerminal: --pick without a terminal on stdin, or with
// --only or --stdout, is a usage error that says why, before any search.
func TestPickNeedsTerminal(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"receive", "--pick", "lemon-orbit-tiger-salad"}, "terminal"},
		{[]string{"receive", "--pick", "--only", "a", "lemon-orbit-tiger-salad"}, "--only"},
		{[]string{"receive", "--pick", "--stdout", "lemon-orbit-tiger-salad"}, "--stdout"},
	} {
		r := runPCP(t, t.TempDir(), "", c.args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, c.want) || strings.Contains(r.stdout+r.stderr, "Looking for") {
			t.Errorf("%v: exit %d, want %d naming %q\n%s%s", c.args, r.code, exitUsage, c.want, r.stdout, r.stderr)
		}
	}
}
