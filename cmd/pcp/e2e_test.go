package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// pcpBin is the binary built once by TestMain.
var pcpBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pcp-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pcpBin = filepath.Join(dir, "pcp")
	out, err := exec.Command("go", "build", "-o", pcpBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building pcp: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// eventWait bounds every wait on a child's event; it is a failure deadline,
// not a readiness delay.
const eventWait = 90 * time.Second

// childEnv is the environment without any PCP_ variable, plus extra.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PCP_") && !strings.HasPrefix(kv, "XDG_STATE_HOME=") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// proc is a running pcp whose stdout is parsed as JSON events (lines that
// are not JSON are kept as text).
type proc struct {
	t      testing.TB
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	events chan map[string]any
	mu     sync.Mutex
	all    []map[string]any
	lines  []string
	done   chan struct{}
	code   int
}

// start runs pcp with args and state directory state; stdin may be nil.
func start(t testing.TB, state string, stdin io.Reader, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(pcpBin, args...)
	cmd.Env = childEnv("PCP_STATE_DIR=" + state)
	cmd.Stdin = stdin
	p := &proc{t: t, cmd: cmd, stderr: &bytes.Buffer{}, events: make(chan map[string]any, 4096), done: make(chan struct{})}
	cmd.Stderr = &lockedWriter{w: p.stderr, mu: &p.mu}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.lines = append(p.lines, line)
			p.mu.Unlock()
			var ev map[string]any
			if json.Unmarshal([]byte(line), &ev) == nil {
				p.mu.Lock()
				p.all = append(p.all, ev)
				p.mu.Unlock()
				select {
				case p.events <- ev:
				default:
				}
			}
		}
		err := cmd.Wait()
		p.code = 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			p.code = ee.ExitCode()
		} else if err != nil {
			p.code = -1
		}
		close(p.events)
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// waitEvent returns the next event named name for which ok (if not nil)
// holds, failing if the process ends first.
func (p *proc) waitEvent(name string, ok func(map[string]any) bool) map[string]any {
	p.t.Helper()
	timer := time.NewTimer(eventWait)
	defer timer.Stop()
	for {
		select {
		case ev, open := <-p.events:
			if !open {
				p.t.Fatalf("pcp %v exited (%d) before event %q\nstdout:\n%s\nstderr:\n%s", p.cmd.Args[1:], p.code, name, p.stdout(), p.errText())
			}
			if ev["event"] == name && (ok == nil || ok(ev)) {
				return ev
			}
		case <-timer.C:
			p.t.Fatalf("no event %q from pcp %v within %v\nstdout:\n%s\nstderr:\n%s", name, p.cmd.Args[1:], eventWait, p.stdout(), p.errText())
		}
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait() int {
	p.t.Helper()
	go func() {
		for range p.events { // drain, so the reader never blocks
		}
	}()
	select {
	case <-p.done:
	case <-time.After(eventWait):
		p.t.Fatalf("pcp %v did not exit\nstderr:\n%s", p.cmd.Args[1:], p.errText())
	}
	return p.code
}

func (p *proc) stdout() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

func (p *proc) errText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

func (p *proc) eventsNamed(name string) []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []map[string]any
	for _, e := range p.all {
		if e["event"] == name {
			out = append(out, e)
		}
	}
	return out
}

// sender starts `pcp send --json` on loopback without discovery and returns
// it with its passphrase and first address.
func sender(t testing.TB, extra ...string) (p *proc, words, addr string) {
	t.Helper()
	args := append([]string{"send", "--json", "--no-discovery", "--listen", "/ip4/127.0.0.1/tcp/0"}, extra...)
	p = start(t, t.TempDir(), nil, args...)
	pe := p.waitEvent("passphrase", nil)
	words, _ = pe["passphrase"].(string)
	le := p.waitEvent("listening", nil)
	addrs, _ := le["addrs"].([]any)
	if len(addrs) == 0 {
		t.Fatalf("listening event without addrs: %v", le)
	}
	addr, _ = addrs[0].(string)
	if words == "" || addr == "" {
		t.Fatalf("bad passphrase/listening events: %v %v", pe, le)
	}
	return p, words, addr
}

// result is a finished pcp run.
type result struct {
	code           int
	stdout, stderr string
}

// runPCP runs pcp to completion.
func runPCP(t testing.TB, state, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(pcpBin, args...)
	cmd.Env = childEnv("PCP_STATE_DIR=" + state)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	return result{exitCodeOf(t, cmd.Run()), out.String(), errb.String()}
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// sampleTree makes a small nested tree and returns its root.
func sampleTree(t testing.TB) string {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	src := filepath.Join(t.TempDir(), "tree")
	writeFile(t, filepath.Join(src, "top.txt"), []byte("hello pcp\n"))
	writeFile(t, filepath.Join(src, "empty"), nil)
	writeFile(t, filepath.Join(src, "a", "b", "c", "deep.bin"), randBytes(r, 3<<20+17))
	for i := range 20 {
		writeFile(t, filepath.Join(src, "a", fmt.Sprintf("f%02d.dat", i)), randBytes(r, r.IntN(70000)))
	}
	if err := os.MkdirAll(filepath.Join(src, "emptydir"), 0o755); err != nil {
		t.Fatal(err)
	}
	return src
}

// sameTree fails unless b holds exactly a's directories and files, byte for
// byte.
func sameTree(t testing.TB, a, b string) {
	t.Helper()
	seen := map[string]bool{}
	err := filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(a, p)
		seen[rel] = true
		q := filepath.Join(b, rel)
		fi, err := os.Lstat(q)
		if err != nil {
			return fmt.Errorf("%s missing: %w", rel, err)
		}
		if d.IsDir() != fi.IsDir() {
			return fmt.Errorf("%s: kind differs", rel)
		}
		if d.Type().IsRegular() {
			x, err1 := os.ReadFile(p)
			y, err2 := os.ReadFile(q)
			if err := errors.Join(err1, err2); err != nil {
				return err
			}
			if !bytes.Equal(x, y) {
				return fmt.Errorf("%s: content differs (%d vs %d bytes)", rel, len(x), len(y))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(b, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(b, p)
		if !seen[rel] {
			return fmt.Errorf("extra %s in the copy", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func num(ev map[string]any, key string) int64 {
	f, _ := ev[key].(float64)
	return int64(f)
}

func TestSendReceiveDirectoryWithPrompt(t *testing.T) {
	src := sampleTree(t)
	s, words, addr := sender(t, src)
	dest := t.TempDir()
	r := runPCP(t, t.TempDir(), "y\n", "receive", "--direct", addr, "-o", dest, words)
	if r.code != exitOK {
		t.Fatalf("receive exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if code := s.wait(); code != exitOK {
		t.Fatalf("send exit %d\n%s", code, s.errText())
	}
	sameTree(t, src, filepath.Join(dest, "tree"))
	for _, want := range []string{"Offer from", "tree", "23 files", "Done:", "verified"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("receive output lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "Accept? [y/N]") {
		t.Errorf("no prompt on stderr:\n%s", r.stderr)
	}
	if len(s.eventsNamed("done")) != 1 {
		t.Errorf("sender: no done event:\n%s", s.stdout())
	}
}

func TestReceiveDeclined(t *testing.T) {
	src := sampleTree(t)
	s, words, addr := sender(t, src)
	dest := t.TempDir()
	r := runPCP(t, t.TempDir(), "n\n", "receive", "--direct", addr, "-o", dest, words)
	if r.code != exitDeclined {
		t.Fatalf("receive exit %d, want %d\n%s\n%s", r.code, exitDeclined, r.stdout, r.stderr)
	}
	if ents, _ := os.ReadDir(dest); len(ents) != 0 {
		t.Fatalf("declined receive wrote %d entries", len(ents))
	}
	if !strings.Contains(r.stderr, "declined") {
		t.Errorf("stderr does not say declined:\n%s", r.stderr)
	}
	// The receiver waits until the sender has read the Decline: the sender
	// says so and keeps offering.
	s.waitEvent("declined", nil)
	// Closed stdin without an answer also declines, with advice.
	r = runPCP(t, t.TempDir(), "", "receive", "--direct", addr, "-o", dest, words)
	if r.code != exitDeclined || !strings.Contains(r.stderr, "--yes") {
		t.Fatalf("receive with empty stdin: exit %d\n%s", r.code, r.stderr)
	}
	s.waitEvent("declined", nil)
	// The offer still stands: a receiver that accepts gets everything.
	r = runPCP(t, t.TempDir(), "y\n", "receive", "--direct", addr, "-o", dest, words)
	if r.code != exitOK {
		t.Fatalf("receive after two declines: exit %d\n%s", r.code, r.stderr)
	}
	if code := s.wait(); code != exitOK {
		t.Fatalf("send exit %d, want %d\n%s", code, exitOK, s.errText())
	}
	sameTree(t, src, filepath.Join(dest, "tree"))
}

func TestJSONEvents(t *testing.T) {
	src := sampleTree(t)
	var size int64
	var files int64
	filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if d.Type().IsRegular() {
			fi, _ := d.Info()
			size += fi.Size()
			files++
		}
		return nil
	})
	s, words, addr := sender(t, src)
	dest := t.TempDir()
	rp := start(t, t.TempDir(), nil, "receive", "--json", "--yes", "--direct", addr, "-o", dest, words)
	if code := rp.wait(); code != exitOK {
		t.Fatalf("receive exit %d\n%s\n%s", code, rp.stdout(), rp.errText())
	}
	if code := s.wait(); code != exitOK {
		t.Fatalf("send exit %d\n%s", code, s.errText())
	}
	// Every stdout line is a JSON event.
	for _, p := range []*proc{s, rp} {
		for _, l := range strings.Split(p.stdout(), "\n") {
			var ev map[string]any
			if err := json.Unmarshal([]byte(l), &ev); err != nil || ev["event"] == nil {
				t.Errorf("not a JSON event line: %q", l)
			}
		}
	}
	first := s.all[0]
	if first["event"] != "passphrase" || first["command"] != "pcp receive "+words {
		t.Errorf("sender's first event: %v", first)
	}
	sm := s.eventsNamed("manifest")
	if len(sm) != 1 || num(sm[0], "bytes") != size || num(sm[0], "files") != files {
		t.Errorf("sender manifest events %v, want %d files %d bytes", sm, files, size)
	}
	order := []string{"peer", "authenticated", "manifest", "offer", "progress", "done"}
	last := -1
	for _, name := range order {
		idx := -1
		for i, e := range rp.all {
			if e["event"] == name {
				idx = i
				break
			}
		}
		if idx < 0 || idx < last {
			t.Fatalf("receiver event %q missing or out of order (index %d after %d):\n%s", name, idx, last, rp.stdout())
		}
		last = idx
	}
	if a := rp.eventsNamed("authenticated")[0]; a["path"] != "direct" || a["peer"] == "" {
		t.Errorf("authenticated: %v", a)
	}
	if p := rp.eventsNamed("peer")[0]; p["source"] != "direct" {
		t.Errorf("peer: %v", p)
	}
	off := rp.eventsNamed("offer")[0]
	if tl, _ := off["top_level"].([]any); len(tl) != 1 || tl[0] != "tree" || num(off, "bytes") != size {
		t.Errorf("offer: %v", off)
	}
	prog := rp.eventsNamed("progress")
	if lp := prog[len(prog)-1]; num(lp, "bytes") != size || num(lp, "total_bytes") != size {
		t.Errorf("last progress %v, want %d bytes", lp, size)
	}
	d := rp.eventsNamed("done")[0]
	if num(d, "manifest_bytes") != size || num(d, "wire_bytes") <= 0 || num(d, "skipped_bytes") != 0 ||
		num(d, "chunks_refetched") != 0 || num(d, "files") != files || d["path"] != "direct" {
		t.Errorf("done: %v", d)
	}
	if _, ok := d["duration_ms"]; !ok {
		t.Errorf("done without duration_ms: %v", d)
	}
	if len(rp.eventsNamed("resumed")) != 0 {
		t.Errorf("fresh receive reported resumed")
	}
	sameTree(t, src, filepath.Join(dest, "tree"))
}

// freeAddr returns a loopback TCP address nobody listens on, with a valid
// peer ID.
func deadAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return fmt.Sprintf("/ip4/127.0.0.1/tcp/%d/p2p/12D3KooWRkT6GM464TGnLHMxFMVYdL8NXzdCASrMHB7yHCBDP5aR", port)
}

func TestExitCodes(t *testing.T) {
	state := t.TempDir()
	const words = "lemon-orbit-tiger-salad"
	usage := [][]string{
		{"send"},
		{"send", "/nonexistent/path/x"},
		{"send", "--words", "2", "."},
		{"receive", "--streams", "0", words},
		{"receive", "--mdns-only", "--dht-only", words},
		{"receive", "lemon-orbitt-tiger-salad"},
		{"receive", "--no-such-flag"},
		{"bogus"},
		{"verify"},
		{"status", "--all"},
	}
	for _, args := range usage {
		r := runPCP(t, state, "", args...)
		if r.code != exitUsage {
			t.Errorf("pcp %v: exit %d, want %d\n%s", args, r.code, exitUsage, r.stderr)
		}
		if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); len(lines) > 2 || !strings.HasPrefix(lines[0], "pcp: ") {
			t.Errorf("pcp %v: stderr is not one error line:\n%s", args, r.stderr)
		}
	}
	// Typos get suggestions.
	if r := runPCP(t, state, "", "receive", "lemon-orbitt-tiger-salad"); !strings.Contains(r.stderr, "orbit") {
		t.Errorf("no suggestion for a typo: %s", r.stderr)
	}
	// Peer not found: no discovery and nothing direct; or a dead address.
	if r := runPCP(t, state, "", "receive", "--no-discovery", words); r.code != exitNotFound {
		t.Errorf("no discovery: exit %d, want %d\n%s", r.code, exitNotFound, r.stderr)
	}
	if r := runPCP(t, state, "", "receive", "--timeout", "2s", "--direct", deadAddr(t), "--yes", words); r.code != exitNotFound {
		t.Errorf("dead address: exit %d, want %d\n%s", r.code, exitNotFound, r.stderr)
	}
	// Other: nothing to verify against.
	if r := runPCP(t, state, "", "verify", t.TempDir()); r.code != exitOther {
		t.Errorf("verify without transfer: exit %d, want %d\n%s", r.code, exitOther, r.stderr)
	}
	// JSON error events carry the code.
	r := runPCP(t, state, "", "receive", "--json", "--no-discovery", words)
	var ev map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(r.stdout)), &ev); err != nil || ev["event"] != "error" ||
		num(ev, "code") != exitNotFound || ev["kind"] != "peer_not_found" {
		t.Errorf("json error event: %q (%v)", r.stdout, err)
	}
	// Version.
	if r := runPCP(t, state, "", "version"); r.code != 0 || !strings.HasPrefix(r.stdout, "pcp ") {
		t.Errorf("version: %d %q", r.code, r.stdout)
	}
}

func TestWrongPassphrase(t *testing.T) {
	src := sampleTree(t)
	s, words, addr := sender(t, src)
	wrong := "lemon-orbit-tiger-salad"
	if words == wrong {
		wrong = "lemon-orbit-tiger-sauce"
	}
	// Three receivers with the wrong words: each exits 3; the sender gives
	// up after the third failure, also with 3.
	var wg sync.WaitGroup
	codes := make([]result, 3)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = runPCP(t, t.TempDir(), "", "receive", "--yes", "--direct", addr, wrong)
		}()
	}
	wg.Wait()
	for i, r := range codes {
		if r.code != exitWrongPass {
			t.Errorf("receiver %d: exit %d, want %d\n%s", i, r.code, exitWrongPass, r.stderr)
		}
	}
	if code := s.wait(); code != exitWrongPass {
		t.Fatalf("sender exit %d, want %d\n%s", code, exitWrongPass, s.errText())
	}
	if n := len(s.eventsNamed("auth_failed")); n != 3 {
		t.Errorf("sender reported %d auth failures, want 3", n)
	}
}

func TestExistingDifferentFile(t *testing.T) {
	src := sampleTree(t)
	dest := t.TempDir()
	writeFile(t, filepath.Join(dest, "tree", "top.txt"), []byte("mine, not yours\n"))
	s, words, addr := sender(t, src)
	r := runPCP(t, t.TempDir(), "", "receive", "--yes", "--direct", addr, "-o", dest, words)
	if r.code != exitDeclined || !strings.Contains(r.stderr, "--overwrite") {
		t.Fatalf("exit %d, want %d with advice\n%s", r.code, exitDeclined, r.stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "tree", "top.txt")); string(b) != "mine, not yours\n" {
		t.Fatalf("existing file replaced without --overwrite")
	}
	// The refusal did not end the offer: the same sender serves the retry.
	s.waitEvent("declined", nil)
	r = runPCP(t, t.TempDir(), "", "receive", "--yes", "--overwrite", "--direct", addr, "-o", dest, words)
	if r.code != exitOK {
		t.Fatalf("--overwrite: exit %d\n%s", r.code, r.stderr)
	}
	s.wait()
	sameTree(t, src, filepath.Join(dest, "tree"))
}

func TestInterruptThenResume(t *testing.T) {
	if testing.Short() {
		t.Skip("300 MiB transfer")
	}
	const size = 300 << 20
	src := filepath.Join(t.TempDir(), "big")
	writeSeeded(t, filepath.Join(src, "blob.bin"), size, 7)
	writeFile(t, filepath.Join(src, "small.txt"), []byte("small\n"))

	s, words, addr := sender(t, src)
	state, dest := t.TempDir(), t.TempDir()
	rp := start(t, state, nil, "receive", "--json", "--yes", "--streams", "1", "--direct", addr, "-o", dest, words)
	ev := rp.waitEvent("progress", func(ev map[string]any) bool { return num(ev, "bytes") > 0 })
	if num(ev, "bytes") >= num(ev, "total_bytes") {
		t.Fatalf("transfer finished before it could be interrupted: %v", ev)
	}
	if err := rp.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := rp.wait(); code != exitInterrupted {
		t.Fatalf("interrupted receive: exit %d, want %d\n%s\n%s", code, exitInterrupted, rp.stdout(), rp.errText())
	}
	if !strings.Contains(rp.errText(), "resume") {
		t.Errorf("no resume advice on stderr:\n%s", rp.errText())
	}
	if strings.Contains(rp.errText(), "context canceled") {
		t.Errorf("context.Canceled shown to the user:\n%s", rp.errText())
	}
	if ee := rp.eventsNamed("error"); len(ee) != 1 || num(ee[0], "code") != exitInterrupted {
		t.Errorf("error events: %v", ee)
	}
	st := runPCP(t, state, "", "status")
	if st.code != 0 || !strings.Contains(st.stdout, "resumable") {
		t.Errorf("status after interrupt: %d\n%s", st.code, st.stdout)
	}

	// Resume against the same, still running sender: the resumed event
	// carries what the first run verified.
	rp2 := start(t, state, nil, "receive", "--json", "--yes", "--direct", addr, "-o", dest, words)
	res := rp2.waitEvent("resumed", nil)
	if b := num(res, "resume_bytes"); b <= 0 || b >= size {
		t.Errorf("resumed event %v: want 0 < resume_bytes < %d", res, size)
	}
	d := rp2.waitEvent("done", nil)
	if num(d, "skipped_bytes") != num(res, "bytes") || num(d, "fetched_bytes")+num(d, "skipped_bytes") != size+6 {
		t.Errorf("done %v after resumed %v", d, res)
	}
	if code := rp2.wait(); code != exitOK {
		t.Fatalf("resumed receive: exit %d\n%s", code, rp2.errText())
	}
	if code := s.wait(); code != exitOK {
		t.Fatalf("send exit %d\n%s", code, s.errText())
	}
	sameTree(t, src, filepath.Join(dest, "big"))

	// Once more, human output, with a fresh sender: all of it is present.
	s3, words3, addr3 := sender(t, src)
	r3 := runPCP(t, state, "", "receive", "--yes", "--direct", addr3, "-o", dest, words3)
	if r3.code != exitOK || !strings.Contains(r3.stdout, "resuming: 300 MiB of 300 MiB already verified") {
		t.Errorf("third receive: exit %d, resume not announced:\n%s\n%s", r3.code, r3.stdout, r3.stderr)
	}
	if code := s3.wait(); code != exitOK {
		t.Fatalf("third send exit %d\n%s", code, s3.errText())
	}
}

func TestVerifyDetectsModifiedFile(t *testing.T) {
	src := sampleTree(t)
	mf := filepath.Join(t.TempDir(), "tree.pcpm")
	s, words, addr := sender(t, "--manifest-out", mf, src)
	state, dest := t.TempDir(), t.TempDir()
	if r := runPCP(t, state, "", "receive", "--yes", "--direct", addr, "-o", dest, words); r.code != 0 {
		t.Fatalf("receive: %d %s", r.code, r.stderr)
	}
	s.wait()
	for _, dir := range []string{dest, filepath.Join(dest, "tree")} {
		if r := runPCP(t, state, "", "verify", dir); r.code != exitOK || !strings.Contains(r.stdout, "OK") {
			t.Fatalf("verify %s of an intact tree: %d\n%s\n%s", dir, r.code, r.stdout, r.stderr)
		}
	}
	if r := runPCP(t, state, "", "verify", "--manifest", mf, dest); r.code != exitOK {
		t.Fatalf("verify --manifest: %d %s", r.code, r.stderr)
	}
	// Flip one byte in the middle of the big file; remove a small one.
	deep := filepath.Join(dest, "tree", "a", "b", "c", "deep.bin")
	b, err := os.ReadFile(deep)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	writeFile(t, deep, b)
	if err := os.Remove(filepath.Join(dest, "tree", "top.txt")); err != nil {
		t.Fatal(err)
	}
	r := runPCP(t, state, "", "verify", dest)
	if r.code != exitVerify {
		t.Fatalf("verify of a modified tree: exit %d, want %d\n%s\n%s", r.code, exitVerify, r.stdout, r.stderr)
	}
	for _, want := range []string{"content", "tree/a/b/c/deep.bin", "missing", "tree/top.txt"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("verify output lacks %q:\n%s", want, r.stdout)
		}
	}
	rj := runPCP(t, state, "", "verify", "--json", "--manifest", mf, dest)
	if rj.code != exitVerify {
		t.Fatalf("verify --json --manifest: exit %d", rj.code)
	}
	var diffs []string
	for _, l := range strings.Split(strings.TrimSpace(rj.stdout), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("bad JSON line %q", l)
		}
		if ev["event"] == "difference" {
			diffs = append(diffs, fmt.Sprint(ev["path"], ":", ev["problem"]))
		}
	}
	want := []string{"tree/a/b/c/deep.bin:content", "tree/top.txt:missing"}
	if strings.Join(diffs, ",") != strings.Join(want, ",") && strings.Join(diffs, ",") != strings.Join([]string{want[1], want[0]}, ",") {
		t.Errorf("differences %v, want %v", diffs, want)
	}
	// status shows it finished; prune forgets it.
	if st := runPCP(t, state, "", "status"); !strings.Contains(st.stdout, "finished") {
		t.Errorf("status: %s", st.stdout)
	}
	if st := runPCP(t, state, "", "status", "--prune", "--json"); !strings.Contains(st.stdout, `"count":1`) {
		t.Errorf("prune: %s %s", st.stdout, st.stderr)
	}
	if st := runPCP(t, state, "", "status"); !strings.Contains(st.stdout, "No transfers") {
		t.Errorf("status after prune: %s", st.stdout)
	}
}

func TestNodePrintsAddrsAndStopsOnCtrlC(t *testing.T) {
	p := start(t, t.TempDir(), nil, "node", "--json", "--listen", "/ip4/127.0.0.1/tcp/0")
	ev := p.waitEvent("node", nil)
	addrs, _ := ev["addrs"].([]any)
	if len(addrs) == 0 || !strings.Contains(fmt.Sprint(addrs[0]), "/p2p/12D3") {
		t.Fatalf("node event: %v", ev)
	}
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(); code != 0 {
		t.Fatalf("node exit %d after Ctrl-C\n%s", code, p.errText())
	}
}

func TestHelpHasExamples(t *testing.T) {
	for _, c := range []string{"send", "receive", "node", "verify", "status", "version"} {
		r := runPCP(t, t.TempDir(), "", c, "--help")
		if r.code != 0 || !strings.Contains(r.stdout, "Examples:") {
			t.Errorf("pcp %s --help: exit %d, no examples:\n%s", c, r.code, r.stdout)
		}
	}
}

// exitCodeOf is the exit code of a finished child process (0 for a nil
// error); any other error fails the test.
func exitCodeOf(t testing.TB, err error) int {
	t.Helper()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0
}

// writeSeeded writes size bytes of a ChaCha8 stream seeded with seed to
// path, creating its directory.
func writeSeeded(t testing.TB, path string, size int64, seed byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.CopyN(f, rand.NewChaCha8([32]byte{seed}), size); err != nil {
		t.Fatal(err)
	}
}
