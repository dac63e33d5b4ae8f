package engine

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pcp-p2p/pcp/auth"
)

// TestHelperProcess is not a test: the kill tests re-run the test binary as
// a receiver or sender child process (PCP_CHILD=receive|send), so a real
// process can be killed with SIGKILL. It reports on stdout, one JSON object
// per line.
func TestHelperProcess(t *testing.T) {
	role := os.Getenv("PCP_CHILD")
	if role == "" {
		t.Skip("helper process for the kill tests")
	}
	pass, err := auth.Parse(os.Getenv("PCP_CHILD_PASS"))
	if err != nil {
		fmt.Println(`{"err":"bad pass"}`)
		os.Exit(2)
	}
	out := json.NewEncoder(os.Stdout)
	ctx := context.Background()
	switch role {
	case "receive":
		ro := recvOpts(pass, os.Getenv("PCP_CHILD_DEST"), strings.Fields(os.Getenv("PCP_CHILD_ADDRS")))
		ro.ResumeLogPath = os.Getenv("PCP_CHILD_LOG")
		ro.Events = func(e Event) {
			if p, ok := e.(ProgressEvent); ok {
				out.Encode(map[string]int64{"bytes": p.Bytes, "total": p.TotalBytes})
			}
		}
		sum, err := Receive(ctx, ro)
		if err != nil {
			out.Encode(map[string]string{"err": err.Error()})
			os.Exit(1)
		}
		out.Encode(map[string]any{"done": true, "fetched": sum.FetchedBytes, "skipped": sum.SkippedBytes})
	case "send":
		opts := SendOptions{Paths: []string{os.Getenv("PCP_CHILD_SRC")}, Passphrase: pass, Network: loopback,
			HashCachePath: os.Getenv("PCP_CHILD_CACHE")}
		opts.Events = func(e Event) {
			if l, ok := e.(ListeningEvent); ok {
				out.Encode(map[string]any{"addrs": l.Addrs})
			}
		}
		if _, err := Send(ctx, opts); err != nil {
			out.Encode(map[string]string{"err": err.Error()})
			os.Exit(1)
		}
		out.Encode(map[string]any{"done": true})
	}
	os.Exit(0)
}

// child is a running helper process.
type child struct {
	cmd   *exec.Cmd
	lines chan map[string]any
}

func startChild(t *testing.T, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.v=false")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, lines: make(chan map[string]any, 1024)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				c.lines <- m
			}
		}
		close(c.lines)
	}()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return c
}

// waitFor returns the first line for which ok is true.
func (c *child) waitFor(t *testing.T, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case m, open := <-c.lines:
			if !open {
				t.Fatal("child exited before the expected event")
			}
			if m["err"] != nil {
				t.Fatalf("child: %v", m["err"])
			}
			if ok(m) {
				return m
			}
		case <-timeout:
			t.Fatal("timed out waiting for the child")
		}
	}
}

func (c *child) kill(t *testing.T) {
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	c.cmd.Wait()
}

func progressPast(frac float64) func(map[string]any) bool {
	return func(m map[string]any) bool {
		b, ok1 := m["bytes"].(float64)
		tot, ok2 := m["total"].(float64)
		return ok1 && ok2 && tot > 0 && b >= frac*tot
	}
}

func TestReceiverKilledAndResumed(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes mid-transfer")
	}
	dir := t.TempDir()
	size := int64(200 << 20)
	writeRandom(t, filepath.Join(dir, "src", "big.bin"), size)
	pass := testPass(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	addrs, res := startSender(t, ctx, SendOptions{Paths: []string{filepath.Join(dir, "src")}, Passphrase: pass})
	env := []string{"PCP_CHILD=receive", "PCP_CHILD_PASS=" + pass.String(), "PCP_CHILD_DEST=" + filepath.Join(dir, "out"),
		"PCP_CHILD_ADDRS=" + strings.Join(addrs, " "), "PCP_CHILD_LOG=" + filepath.Join(dir, "resume.db")}

	c := startChild(t, env...)
	c.waitFor(t, progressPast(0.4))
	c.kill(t)

	c = startChild(t, env...)
	done := c.waitFor(t, func(m map[string]any) bool { return m["done"] == true })
	r := <-res
	if r.err != nil {
		t.Fatalf("sender: %v", r.err)
	}
	if !sameBytes(t, filepath.Join(dir, "src", "big.bin"), filepath.Join(dir, "out", "src", "big.bin")) {
		t.Fatal("bytes differ after resume")
	}
	skipped := int64(done["skipped"].(float64))
	if skipped < size/4 {
		t.Fatalf("resumed with only %d bytes skipped after a kill at 40%%", skipped)
	}
	// The sender's own counter: everything it ever read and sent. Re-sent
	// bytes are bounded by the in-flight window plus one uncommitted batch.
	resent := r.sum.FetchedBytes - size
	if bound := int64(DefaultMaxInFlight + commitBytes + 1<<20); resent > bound {
		t.Fatalf("re-sent %d bytes, bound %d", resent, bound)
	}
	t.Logf("killed at >=40%%; resumed with %d MiB skipped; %d MiB re-sent", skipped>>20, resent>>20)
}

func TestSenderKilledAndRestarted(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes mid-transfer")
	}
	dir := t.TempDir()
	size := int64(200 << 20)
	src := filepath.Join(dir, "src")
	writeRandom(t, filepath.Join(src, "big.bin"), size)
	pass := testPass(t)
	env := []string{"PCP_CHILD=send", "PCP_CHILD_PASS=" + pass.String(), "PCP_CHILD_SRC=" + src,
		"PCP_CHILD_CACHE=" + filepath.Join(dir, "hashcache.db")}
	addrsOf := func(m map[string]any) []string {
		var out []string
		for _, a := range m["addrs"].([]any) {
			out = append(out, a.(string))
		}
		return out
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	s := startChild(t, env...)
	addrs := addrsOf(s.waitFor(t, func(m map[string]any) bool { return m["addrs"] != nil }))
	ro := recvOpts(pass, filepath.Join(dir, "out"), addrs)
	ro.ResumeLogPath = filepath.Join(dir, "resume.db")
	ro.Patience = time.Second
	killed := make(chan struct{})
	ro.Events = func(e Event) {
		if p, ok := e.(ProgressEvent); ok && p.Bytes > size*4/10 {
			select {
			case <-killed:
			default:
				close(killed)
				s.kill(t)
			}
		}
	}
	_, err := Receive(ctx, ro)
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("after sender kill: %v, want ErrInterrupted", err)
	}

	s = startChild(t, env...)
	ro.Network.Direct = addrsOf(s.waitFor(t, func(m map[string]any) bool { return m["addrs"] != nil }))
	ro.Events = nil
	sum, err := Receive(ctx, ro)
	if err != nil {
		t.Fatal(err)
	}
	if sum.SkippedBytes < size/4 || sum.SkippedBytes+sum.FetchedBytes != size {
		t.Fatalf("second run skipped %d and fetched %d of %d", sum.SkippedBytes, sum.FetchedBytes, size)
	}
	if !sameBytes(t, filepath.Join(src, "big.bin"), filepath.Join(dir, "out", "src", "big.bin")) {
		t.Fatal("bytes differ")
	}
}
