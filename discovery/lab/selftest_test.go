package lab

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// helperBin is the test binary itself, run in helper mode.
func helperBin(t testing.TB) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// helperProc starts a helper mode in host.
func (l *Lab) helperProc(label, host, mode string, args ...string) *Proc {
	l.t.Helper()
	return l.Start(label, host, []string{helperEnv + "=" + mode}, helperBin(l.t), args...)
}

// tcpRate runs a tcp-sink on to and a tcp-send from `from` for d, and
// returns the measured bits per second, or an error if the dial fails.
func (l *Lab) tcpRate(ctx context.Context, from, to string, port int, d time.Duration) (float64, error) {
	l.t.Helper()
	addr := fmt.Sprintf("%s:%d", l.IP(to), port)
	sink := l.helperProc("sink-"+to, to, "tcp-sink", addr)
	if err := sink.WaitLine(ctx, "ready"); err != nil {
		l.t.Fatal(err)
	}
	send := l.helperProc("send-"+from, from, "tcp-send", addr, d.String())
	code, err := send.Wait(ctx)
	if err != nil {
		l.t.Fatal(err)
	}
	sink.Stop()
	if code != 0 {
		return 0, fmt.Errorf("tcp %s -> %s: exit %d: %s", from, addr, code, send.stderrTail(3))
	}
	lines := send.Events("")
	if len(lines) == 0 {
		return 0, fmt.Errorf("tcp %s -> %s: no reply", from, addr)
	}
	return parseSinkReply(lines[len(lines)-1].Line)
}

// mappedPorts asks two UDP echo servers on `to` (ports p and p+1) from one
// socket on `from`, and returns the source addresses they saw.
func (l *Lab) mappedAddrs(ctx context.Context, from, to string, port int) []string {
	l.t.Helper()
	a1 := fmt.Sprintf("%s:%d", l.IP(to), port)
	a2 := fmt.Sprintf("%s:%d", l.IP(to), port+1)
	echo := l.helperProc("echo-"+to, to, "udp-echo", a1, a2)
	if err := echo.WaitLine(ctx, "ready"); err != nil {
		l.t.Fatal(err)
	}
	defer echo.Stop()
	probe := l.helperProc("probe-"+from, from, "udp-probe", a1, a2)
	probe.MustExit(ctx, 0)
	var out []string
	for _, e := range probe.Events("") {
		out = append(out, e.Line)
	}
	if len(out) != 2 {
		l.t.Fatalf("udp-probe from %s: %q", from, out)
	}
	return out
}

func hostPort(s string) (string, string) {
	i := strings.LastIndexByte(s, ':')
	return s[:i], s[i+1:]
}

// TestLabSelf checks the lab itself: addressing and routing, cone and
// symmetric NAT mappings, silent drop of unsolicited inbound, routed
// ("none") mode, the rate limit, link drop and teardown.
func TestLabSelf(t *testing.T) {
	l := NewLab(t, Config{NATA: NATCone, NATC: NATSymmetric, Nodes: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// Same LAN, no router.
	if _, err := l.tcpRate(ctx, "a", "b", 7000, 200*time.Millisecond); err != nil {
		t.Fatalf("a -> b on the LAN: %v", err)
	}
	// Out through each NAT.
	if _, err := l.tcpRate(ctx, "a", "p1", 7000, 200*time.Millisecond); err != nil {
		t.Fatalf("a -> p1 through cone NAT: %v", err)
	}
	if _, err := l.tcpRate(ctx, "c", "p2", 7000, 200*time.Millisecond); err != nil {
		t.Fatalf("c -> p2 through symmetric NAT: %v", err)
	}

	// Cone: the same external address and port towards both destinations.
	m := l.mappedAddrs(ctx, "a", "p1", 7100)
	h1, port1 := hostPort(m[0])
	h2, port2 := hostPort(m[1])
	if h1 != l.IP("ra") || h2 != l.IP("ra") || port1 != port2 {
		t.Errorf("cone NAT: mapped %v, want %s with one port", m, l.IP("ra"))
	}
	// Symmetric: a fresh external port per destination.
	m = l.mappedAddrs(ctx, "c", "p1", 7200)
	h1, port1 = hostPort(m[0])
	h2, port2 = hostPort(m[1])
	if h1 != l.IP("rc") || h2 != l.IP("rc") || port1 == port2 {
		t.Errorf("symmetric NAT: mapped %v, want %s with two ports", m, l.IP("rc"))
	}

	// Unsolicited inbound: p1 has no route to a NATed LAN, and the
	// router's own address drops new connections silently (a timeout, not
	// a refusal).
	if _, err := l.tcpRate(ctx, "p1", "a", 7300, 100*time.Millisecond); err == nil {
		t.Errorf("p1 reached a behind a cone NAT")
	}
	out, err := l.Exec(ctx, "ra", "nft", "list", "table", "ip", "lab")
	if err != nil || !strings.Contains(out, "ct state { invalid, new } drop") {
		t.Errorf("ra has no inbound drop rule: %v\n%s", err, out)
	}

	// Routed: p1 reaches a directly once ra stops translating.
	l.SetNAT("ra", NATNone)
	if _, err := l.tcpRate(ctx, "p1", "a", 7400, 200*time.Millisecond); err != nil {
		t.Errorf("p1 -> a with ra routed: %v", err)
	}
	m = l.mappedAddrs(ctx, "a", "p1", 7500)
	if h, _ := hostPort(m[0]); h != l.IP("a") {
		t.Errorf("routed: p1 saw %s, want a's own address %s", m[0], l.IP("a"))
	}
	l.SetNAT("ra", NATCone)
	if _, err := l.tcpRate(ctx, "p1", "a", 7600, 100*time.Millisecond); err == nil {
		t.Errorf("p1 reached a after ra went back to NAT")
	}

	// Rate limit: 8 mbit measured over 2 s (the reference lab saw 7.7).
	l.SetRate("a", "8mbit")
	bps, err := l.tcpRate(ctx, "a", "p1", 7700, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("a -> p1 at 8mbit: %.2f Mbit/s", bps/1e6)
	if bps < 6e6 || bps > 8.8e6 {
		t.Errorf("rate limit 8mbit: measured %.2f Mbit/s", bps/1e6)
	}
	l.SetRate("a", "off")
	bps, err = l.tcpRate(ctx, "a", "p1", 7800, 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if bps < 50e6 {
		t.Errorf("rate limit removed: still %.2f Mbit/s", bps/1e6)
	}

	// Link drop: the host keeps its address and route, nothing passes.
	l.LinkDown("c")
	if _, err := l.tcpRate(ctx, "c", "p1", 7900, 100*time.Millisecond); err == nil {
		t.Errorf("c reached p1 with its link down")
	}
	if out, _ := l.Exec(ctx, "c", "ip", "route"); !strings.Contains(out, "default via 10.77.2.1") {
		t.Errorf("c lost its default route with the far end down: %s", out)
	}
	l.LinkUp("c")
	if _, err := l.tcpRate(ctx, "c", "p1", 8000, 100*time.Millisecond); err != nil {
		t.Errorf("c -> p1 after link up: %v", err)
	}
	l.LinkDown("b")
	if _, err := l.tcpRate(ctx, "a", "b", 8100, 100*time.Millisecond); err == nil {
		t.Errorf("a reached b with b's link down")
	}
	l.LinkUp("b")
	if _, err := l.tcpRate(ctx, "a", "b", 8200, 100*time.Millisecond); err != nil {
		t.Errorf("a -> b after link up: %v", err)
	}
}

// TestLabTeardown checks that a lab with running processes leaves nothing
// behind: no namespace and no process.
func TestLabTeardown(t *testing.T) {
	requireLab(t)
	var prefix string
	var pid int
	t.Run("build", func(t *testing.T) {
		l := NewLab(t, Config{Nodes: 1})
		prefix = l.Prefix()
		// A process that would run forever.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		p := l.helperProc("echo", "p1", "udp-echo", "10.77.0.10:9000")
		if err := p.WaitLine(ctx, "ready"); err != nil {
			t.Fatal(err)
		}
		pid = p.cmd.Process.Pid
		if len(netnsWith(t, prefix)) != 8 {
			t.Fatalf("namespaces: %v", netnsWith(t, prefix))
		}
	})
	if left := netnsWith(t, prefix); len(left) > 0 {
		t.Errorf("namespaces left behind: %v", left)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
		t.Errorf("process %d left behind", pid)
	}
}

func netnsWith(t testing.TB, prefix string) []string {
	var out []string
	for _, n := range netnsList(t) {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out
}
