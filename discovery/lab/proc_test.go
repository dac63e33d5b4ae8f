package lab

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Event is one stdout line of a lab process: a pcp --json event, or a plain
// line (Name "") from a helper.
type Event struct {
	Name   string         // the JSON "event" field
	At     time.Time      // when the test read the line
	Fields map[string]any // the whole JSON object
	Line   string
}

// Str returns a string field ("" if absent).
func (e Event) Str(k string) string {
	s, _ := e.Fields[k].(string)
	return s
}

// Int returns a numeric field (0 if absent).
func (e Event) Int(k string) int64 {
	switch v := e.Fields[k].(type) {
	case float64:
		return int64(v)
	case json.Number:
		n, _ := v.Int64()
		return n
	}
	return 0
}

// Bool returns a boolean field (false if absent).
func (e Event) Bool(k string) bool {
	b, _ := e.Fields[k].(bool)
	return b
}

// Strs returns a string-list field.
func (e Event) Strs(k string) []string {
	l, _ := e.Fields[k].([]any)
	var out []string
	for _, v := range l {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// Proc is a process running in a lab namespace.
type Proc struct {
	t       testing.TB
	Label   string // for logs: "sender", "receiver", "p1", …
	Host    string
	Started time.Time
	cmd     *exec.Cmd
	stderr  *os.File
	errPath string

	mu       sync.Mutex
	events   []Event
	changed  chan struct{} // closed and replaced when events or exit state change
	exited   bool
	exitCode int
	exitErr  error
	done     chan struct{} // closed when the process has exited and stdout is drained
}

// Start runs bin with args in host's namespace, with env added to the
// test's environment. The process is killed in t.Cleanup if still running;
// when the test failed, its stderr tail is logged.
func (l *Lab) Start(label, host string, env []string, bin string, args ...string) *Proc {
	t := l.t
	t.Helper()
	errPath := filepath.Join(t.TempDir(), label+".stderr")
	ef, err := os.Create(errPath)
	if err != nil {
		t.Fatal(err)
	}
	c := exec.Command("ip", append([]string{"netns", "exec", l.NS(host), bin}, args...)...)
	c.Env = append(os.Environ(), env...)
	c.Stderr = ef
	out, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &Proc{t: t, Label: label, Host: host, cmd: c, stderr: ef, errPath: errPath,
		changed: make(chan struct{}), done: make(chan struct{})}
	p.Started = time.Now()
	if err := c.Start(); err != nil {
		ef.Close()
		t.Fatalf("start %s in %s: %v", label, host, err)
	}
	t.Logf("%s@%s: started %s %s", label, host, filepath.Base(bin), strings.Join(args, " "))
	go p.read(out)
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() || os.Getenv("PCPLAB_DUMP") != "" {
			p.dump()
		}
	})
	return p
}

func (p *Proc) read(r interface{ Read([]byte) (int, error) }) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		ev := Event{At: time.Now(), Line: line}
		if strings.HasPrefix(line, "{") {
			d := json.NewDecoder(strings.NewReader(line))
			var m map[string]any
			if d.Decode(&m) == nil {
				ev.Fields = m
				ev.Name, _ = m["event"].(string)
			}
		}
		p.mu.Lock()
		p.events = append(p.events, ev)
		p.signalLocked()
		p.mu.Unlock()
	}
	err := p.cmd.Wait()
	p.stderr.Close()
	p.mu.Lock()
	p.exited = true
	p.exitErr = err
	p.exitCode = 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		p.exitCode = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			p.exitCode = 128 + int(ws.Signal())
		}
	} else if err != nil {
		p.exitCode = -1
	}
	p.signalLocked()
	p.mu.Unlock()
	close(p.done)
}

func (p *Proc) signalLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// WaitEvent returns the first event (from the start of the process) named
// name for which match (nil = any) is true. It fails when the process
// exits first or ctx ends.
func (p *Proc) WaitEvent(ctx context.Context, name string, match func(Event) bool) (Event, error) {
	seen := 0
	for {
		p.mu.Lock()
		for ; seen < len(p.events); seen++ {
			e := p.events[seen]
			if e.Name == name && (match == nil || match(e)) {
				p.mu.Unlock()
				return e, nil
			}
		}
		exited, code, ch := p.exited, p.exitCode, p.changed
		p.mu.Unlock()
		if exited {
			return Event{}, fmt.Errorf("%s exited (code %d) before event %q; stderr: %s", p.Label, code, name, p.stderrTail(15))
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return Event{}, fmt.Errorf("%s: no event %q: %w", p.Label, name, ctx.Err())
		}
	}
}

// MustEvent is WaitEvent that fails the test.
func (p *Proc) MustEvent(ctx context.Context, name string, match func(Event) bool) Event {
	p.t.Helper()
	e, err := p.WaitEvent(ctx, name, match)
	if err != nil {
		p.t.Fatal(err)
	}
	return e
}

// WaitLine returns the first plain stdout line equal to s.
func (p *Proc) WaitLine(ctx context.Context, s string) error {
	seen := 0
	for {
		p.mu.Lock()
		for ; seen < len(p.events); seen++ {
			if p.events[seen].Line == s {
				p.mu.Unlock()
				return nil
			}
		}
		exited, ch := p.exited, p.changed
		p.mu.Unlock()
		if exited {
			return fmt.Errorf("%s exited before printing %q; stderr: %s", p.Label, s, p.stderrTail(15))
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("%s: no line %q: %w", p.Label, s, ctx.Err())
		}
	}
}

// Events returns a copy of the events named name ("" = all) so far.
func (p *Proc) Events(name string) []Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Event
	for _, e := range p.events {
		if name == "" || e.Name == name {
			out = append(out, e)
		}
	}
	return out
}

// Wait waits for the process to exit and returns its exit code.
func (p *Proc) Wait(ctx context.Context) (int, error) {
	select {
	case <-p.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.exitCode, nil
	case <-ctx.Done():
		return -1, fmt.Errorf("%s still running: %w", p.Label, ctx.Err())
	}
}

// MustExit waits for the exit and fails the test unless the code is want.
func (p *Proc) MustExit(ctx context.Context, want int) {
	p.t.Helper()
	code, err := p.Wait(ctx)
	if err != nil {
		p.t.Fatal(err)
	}
	if code != want {
		p.t.Fatalf("%s exited with code %d, want %d; stderr: %s", p.Label, code, want, p.stderrTail(20))
	}
}

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop ends the process: SIGTERM, then SIGKILL after 3 s.
func (p *Proc) Stop() {
	if p.Exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return
	case <-time.After(3 * time.Second):
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Kill ends the process with SIGKILL, as a crash or a power cut would,
// and waits for it.
func (p *Proc) Kill() {
	if p.Exited() {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// stderrTail returns the last n lines of the process's stderr.
func (p *Proc) stderrTail(n int) string {
	b, _ := os.ReadFile(p.errPath)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// dump logs the process's events and stderr tail (for a failed test).
func (p *Proc) dump() {
	var b bytes.Buffer
	fmt.Fprintf(&b, "---- %s@%s (exit %d) stdout:\n", p.Label, p.Host, p.exitCode)
	evs := p.Events("")
	if len(evs) > 60 {
		fmt.Fprintf(&b, "  … %d earlier lines\n", len(evs)-60)
		evs = evs[len(evs)-60:]
	}
	for _, e := range evs {
		fmt.Fprintf(&b, "  +%6.3fs %s\n", e.At.Sub(p.Started).Seconds(), e.Line)
	}
	fmt.Fprintf(&b, "---- %s stderr (tail):\n%s", p.Label, p.stderrTail(200))
	// One t.Log per line: make test keeps only lab output lines that name
	// a test file, and a failure in CI must show what the peers did.
	for line := range strings.SplitSeq(b.String(), "\n") {
		p.t.Log(line)
	}
}
