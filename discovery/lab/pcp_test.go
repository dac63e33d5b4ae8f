package lab

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// LabInternet is the lab's "internet" segment, which pcplab builds treat as
// public when PCP_LAB_PUBLIC_CIDR names it.
const LabInternet = "10.77.0.0/24"

// pcpOpts are per-process settings for StartPCP.
type pcpOpts struct {
	// PublicCIDR is passed as PCP_LAB_PUBLIC_CIDR ("" = none: the lab's
	// addresses stay private to libp2p).
	PublicCIDR string
	// StateDir is PCP_STATE_DIR; "" = a fresh temporary directory.
	StateDir string
	// PublicLimits (StartNode only) runs the node's relay with libp2p's
	// default limits, like a public IPFS node: for meeting, not for data.
	PublicLimits bool
	// NodeArgs (StartNode only) are more `pcp node` flags, e.g. an
	// operator's relay limits.
	NodeArgs []string
	// Env is more environment, e.g. a pcplab build's hooks.
	Env []string
}

// StartPCP runs `pcp --json -v args...` in host with its own state
// directory and returns the process and that directory.
func (l *Lab) StartPCP(label, host string, o pcpOpts, args ...string) (*Proc, string) {
	l.t.Helper()
	requirePCP(l.t)
	if o.StateDir == "" {
		o.StateDir = filepath.Join(l.t.TempDir(), "state-"+label)
	}
	env := []string{
		"PCP_STATE_DIR=" + o.StateDir,
		"PCP_LAB_PUBLIC_CIDR=" + o.PublicCIDR,
		"PCP_BOOTSTRAP=", "PCP_PASSPHRASE=", "XDG_STATE_HOME=",
	}
	env = append(env, o.Env...)
	return l.Start(label, host, env, pcpBin, append([]string{"--json", "-v"}, args...)...), o.StateDir
}

// StartNode runs `pcp node` on a public host, listening on TCP and QUIC
// port 4001 of its address, joined to bootstrap, and returns its full
// /p2p/ addresses once it prints them.
func (l *Lab) StartNode(ctx context.Context, host string, o pcpOpts, bootstrap ...string) (*Proc, []string) {
	l.t.Helper()
	ip := l.IP(host)
	args := []string{"node", "--ephemeral",
		"--listen", "/ip4/" + ip + "/tcp/4001", "--listen", "/ip4/" + ip + "/udp/4001/quic-v1"}
	for _, b := range bootstrap {
		args = append(args, "--bootstrap", b)
	}
	if o.PublicLimits {
		args = append(args, "--public-limits")
	}
	args = append(args, o.NodeArgs...)
	p, _ := l.StartPCP(host, host, o, args...)
	ev := p.MustEvent(ctx, "node", nil)
	addrs := ev.Strs("addrs")
	if len(addrs) == 0 {
		l.t.Fatalf("%s: node event without addrs: %s", host, ev.Line)
	}
	for _, a := range addrs {
		if !strings.Contains(a, "/p2p/") || !strings.Contains(a, ip) {
			l.t.Fatalf("%s: node address %q is not a full address on %s", host, a, ip)
		}
	}
	return p, addrs
}

// flagEach returns --flag v for every v.
func flagEach(flag string, vs []string) []string {
	var out []string
	for _, v := range vs {
		out = append(out, flag, v)
	}
	return out
}

// passphrase waits for the sender's words.
func passphrase(ctx context.Context, t testing.TB, sender *Proc) string {
	t.Helper()
	ev := sender.MustEvent(ctx, "passphrase", nil)
	w := ev.Str("passphrase")
	if w == "" {
		t.Fatalf("passphrase event without words: %s", ev.Line)
	}
	return w
}

// makeTree writes files (relative path -> size) of seeded random bytes
// under dir; names ending in ".txt" get compressible text instead.
func makeTree(t testing.TB, dir string, files map[string]int64, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 'p', 'c', 'p'}))
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		size := files[n]
		var data []byte
		if strings.HasSuffix(n, ".txt") {
			var b bytes.Buffer
			for i := 0; int64(b.Len()) < size; i++ {
				fmt.Fprintf(&b, "line %d of %s: the quick brown fox\n", i, n)
			}
			data = b.Bytes()[:size]
		} else {
			data = make([]byte, size)
			for i := 0; i+8 <= len(data); i += 8 {
				v := rng.Uint64()
				for k := 0; k < 8; k++ {
					data[i+k] = byte(v >> (8 * k))
				}
			}
			for i := len(data) &^ 7; i < len(data); i++ {
				data[i] = byte(rng.Uint32())
			}
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// treeSize is the total size of files under dir.
func treeSize(t testing.TB, dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// compareTrees fails unless got holds exactly want's files, byte for byte.
func compareTrees(t testing.TB, want, got string) {
	t.Helper()
	list := func(root string) map[string]string {
		out := map[string]string{}
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			switch {
			case d.IsDir():
				out[rel+"/"] = "dir"
			case d.Type().IsRegular():
				f, err := os.Open(p)
				if err != nil {
					return err
				}
				defer f.Close()
				h := sha256.New()
				if _, err := io.Copy(h, f); err != nil {
					return err
				}
				out[rel] = fmt.Sprintf("%x", h.Sum(nil))
			default:
				out[rel] = "other " + d.Type().String()
			}
			return nil
		})
		if err != nil {
			t.Fatalf("walk %s: %v", root, err)
		}
		return out
	}
	w, g := list(want), list(got)
	for p, h := range w {
		switch gh, ok := g[p]; {
		case !ok:
			t.Errorf("received tree lacks %s", p)
		case gh != h:
			t.Errorf("received %s differs from the original", p)
		}
	}
	for p := range g {
		if _, ok := w[p]; !ok {
			t.Errorf("received tree has extra %s", p)
		}
	}
}

// pcpVerify runs `pcp verify DIR` with the receiver's state directory and
// fails unless it reports the tree intact.
func pcpVerify(ctx context.Context, t testing.TB, stateDir, dir string) {
	t.Helper()
	c := exec.CommandContext(ctx, pcpBin, "verify", "--json", dir)
	c.Env = append(os.Environ(), "PCP_STATE_DIR="+stateDir)
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("pcp verify %s: %v\n%s", dir, err, out)
	}
	if bytes.Contains(out, []byte(`"event":"difference"`)) {
		t.Fatalf("pcp verify %s reports differences:\n%s", dir, out)
	}
	t.Logf("pcp verify %s: ok", dir)
}

// bytesByPath splits the receiver's progress by the path each progress
// event reports: the bytes gained since the previous event are credited to
// the event's path.
func bytesByPath(evs []Event) map[string]int64 {
	out := map[string]int64{}
	var prev int64
	for _, e := range evs {
		b := e.Int("bytes")
		if b > prev {
			out[e.Str("path")] += b - prev
			prev = b
		}
	}
	return out
}

// scenarioCtx bounds a scenario.
func scenarioCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
