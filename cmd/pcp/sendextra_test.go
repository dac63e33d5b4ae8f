package main

import (
	"bufio"
	"encoding/json"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestExcluder(t *testing.T) {
	ex, err := parseExcludes([]string{"*.log", "node_modules/", "/build", "docs/**/*.tmp", "!keep.log"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		dir  bool
		want bool
	}{
		{"top/a.log", false, true},
		{"top/deep/b.log", false, true},
		{"top/keep.log", false, false}, // "!keep.log" comes last
		{"top/node_modules", true, true},
		{"top/node_modules", false, false}, // a file of that name: dirs only
		{"top/build", true, true},          // anchored below the top level
		{"top/src/build", true, false},     // anchored: not at any depth
		{"top/docs/a/b/x.tmp", false, true},
		{"top/a.txt", false, false},
	} {
		if got := ex.match(c.path, c.dir); got != c.want {
			t.Errorf("match(%q, dir=%v) = %v, want %v", c.path, c.dir, got, c.want)
		}
	}
	if _, err := parseExcludes([]string{"[oops"}, nil); err == nil {
		t.Error("a bad pattern was accepted")
	}
	if _, err := parseExcludes(nil, []string{filepath.Join(t.TempDir(), "missing")}); err == nil {
		t.Error("a missing --exclude-from file was accepted")
	}
}

func TestParseRate(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
	}{
		{"10M", 10 << 20}, {"500K", 500 << 10}, {"1.5G", 3 << 29}, {"2048", 2048},
		{"10MiB", 10 << 20}, {"10MB/s", 10 << 20}, {"64k", 64 << 10},
	} {
		if got, err := parseRate(c.in); err != nil || got != c.want {
			t.Errorf("parseRate(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "fast", "-1M", "0", "10X"} {
		if _, err := parseRate(bad); err == nil {
			t.Errorf("parseRate(%q) accepted", bad)
		}
	}
}

// TestSendExclude: --exclude and --exclude-from leave entries out of the
// offer, and the receiver gets the rest.
func TestSendExclude(t *testing.T) {
	src := filepath.Join(t.TempDir(), "proj")
	writeFile(t, filepath.Join(src, "main.go"), []byte("package main\n"))
	writeFile(t, filepath.Join(src, "debug.log"), []byte("noise\n"))
	writeFile(t, filepath.Join(src, "node_modules", "dep", "index.js"), []byte("dep\n"))
	writeFile(t, filepath.Join(src, "sub", "keep.txt"), []byte("keep\n"))
	patterns := filepath.Join(t.TempDir(), "excludes")
	writeFile(t, patterns, []byte("# dependencies\nnode_modules/\n\n"))
	s, words, addr := sender(t, "--exclude", "*.log", "--exclude-from", patterns, src)
	dest := t.TempDir()
	r := runPCP(t, t.TempDir(), "", "receive", "--yes", "--direct", addr, "-o", dest, words)
	if r.code != exitOK {
		t.Fatalf("receive exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	s.wait()
	for _, p := range []string{"proj/main.go", "proj/sub/keep.txt"} {
		if _, err := os.Stat(filepath.Join(dest, p)); err != nil {
			t.Errorf("%s not received: %v", p, err)
		}
	}
	for _, p := range []string{"proj/debug.log", "proj/node_modules"} {
		if _, err := os.Lstat(filepath.Join(dest, p)); err == nil {
			t.Errorf("%s was sent despite --exclude", p)
		}
	}
	if !strings.Contains(r.stdout, "2 files") {
		t.Errorf("offer should count 2 files:\n%s", r.stdout)
	}
	if b := runPCP(t, t.TempDir(), "", "send", "--exclude", "[oops", src); b.code != exitUsage || strings.Contains(b.stdout, "Passphrase") {
		t.Errorf("a bad pattern: exit %d (want %d, before the words)\n%s%s", b.code, exitUsage, b.stdout, b.stderr)
	}
}

// TestLimitRate: --limit-rate on either side holds the data rate, shows in
// the progress events, and the receiver's resume advice repeats it.
func TestLimitRate(t *testing.T) {
	src := filepath.Join(t.TempDir(), "data")
	rng := rand.New(rand.NewPCG(1, 2))
	writeFile(t, filepath.Join(src, "blob.bin"), randBytes(rng, 2<<20)) // incompressible
	for _, side := range []string{"send", "receive"} {
		t.Run(side, func(t *testing.T) {
			var sargs, rargs []string
			if side == "send" {
				sargs = []string{"--limit-rate", "512K"}
			} else {
				rargs = []string{"--limit-rate", "512K"}
			}
			s, words, addr := sender(t, append(sargs, src)...)
			dest := t.TempDir()
			began := time.Now()
			rp := start(t, t.TempDir(), nil, append(append([]string{"receive", "--json", "--yes", "--direct", addr, "-o", dest}, rargs...), words)...)
			if code := rp.wait(); code != exitOK {
				t.Fatalf("receive exit %d\n%s", code, rp.errText())
			}
			took := time.Since(began)
			s.wait()
			// 2 MiB at 512 KiB/s, less a burst of 128 KiB: at least 3.75 s.
			if took < 3500*time.Millisecond {
				t.Errorf("2 MiB at 512K took %v", took)
			}
			if side == "receive" {
				pe := rp.eventsNamed("progress")
				if len(pe) == 0 || num(pe[len(pe)-1], "rate_limit") != 512<<10 {
					t.Errorf("progress events without rate_limit: %v", pe)
				}
			}
		})
	}
	if r := runPCP(t, t.TempDir(), "", "receive", "--limit-rate", "fast", "a-b-c-d"); r.code != exitUsage {
		t.Errorf("--limit-rate fast: exit %d\n%s", r.code, r.stderr)
	}
}

// TestResumeAdviceRepeatsCommand: after Ctrl-C the receiver prints the
// command to paste, with the real words and the flags it was run with.
func TestResumeAdviceRepeatsCommand(t *testing.T) {
	src := filepath.Join(t.TempDir(), "data")
	rng := rand.New(rand.NewPCG(3, 4))
	writeFile(t, filepath.Join(src, "blob.bin"), randBytes(rng, 4<<20))
	s, words, addr := sender(t, src)
	defer s.cmd.Process.Kill()
	dest := t.TempDir()
	rp := start(t, t.TempDir(), nil, "receive", "--json", "--yes", "--limit-rate", "256K", "--direct", addr, "-o", dest, words)
	rp.waitEvent("progress", func(ev map[string]any) bool { return num(ev, "bytes") > 0 })
	if err := rp.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := rp.wait(); code != exitInterrupted {
		t.Fatalf("exit %d\n%s", code, rp.errText())
	}
	want := "pcp receive --direct " + addr + " --json --limit-rate 256K -o " + dest + " --yes " + words
	lines := strings.Split(strings.TrimSpace(rp.errText()), "\n")
	i := indexOf(lines, "pcp: interrupted")
	if i < 0 || i >= len(lines)-1 || strings.TrimSpace(lines[len(lines)-1]) != want {
		t.Errorf("want the error line, then advice ending in\n    %s\ngot:\n%s", want, rp.errText())
	}
}

// TestSendQR: --qr draws the receive command as a QR code under the words,
// and nothing of it in JSON mode.
func TestSendQR(t *testing.T) {
	src := filepath.Join(t.TempDir(), "f.txt")
	writeFile(t, src, []byte("hi\n"))
	cmd := exec.Command(pcpBin, "send", "--qr", "--no-discovery", "--listen", "/ip4/127.0.0.1/tcp/0", src)
	cmd.Env = childEnv("PCP_STATE_DIR=" + t.TempDir())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	sc := bufio.NewScanner(out)
	var seen []string
	blocks := 0
	for sc.Scan() && len(seen) < 60 {
		l := sc.Text()
		seen = append(seen, l)
		if strings.Contains(l, "█") {
			blocks++
		}
		if strings.HasPrefix(l, "Discovery is off") {
			break // the QR code comes before the addresses
		}
	}
	if blocks < 10 || !strings.Contains(strings.Join(seen, "\n"), "pcp receive ") {
		t.Fatalf("no QR code under the words:\n%s", strings.Join(seen, "\n"))
	}
	// JSON: the passphrase event only, no drawing on stdout.
	j := exec.Command(pcpBin, "send", "--json", "--qr", "--no-discovery", "--listen", "/ip4/127.0.0.1/tcp/0", src)
	j.Env = childEnv("PCP_STATE_DIR=" + t.TempDir())
	jo, err := j.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = j.Process.Kill(); _ = j.Wait() }()
	br := bufio.NewReader(jo)
	for range 2 { // passphrase, then listening
		l, err := br.ReadString('\n')
		if err != nil && err != io.EOF {
			t.Fatal(err)
		}
		var ev map[string]any
		if json.Unmarshal([]byte(l), &ev) != nil {
			t.Fatalf("a line that is not JSON with --json --qr: %q", l)
		}
	}
}
