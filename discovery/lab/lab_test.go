package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// NAT is a router's behaviour towards the internet segment.
type NAT string

const (
	NATCone      NAT = "cone"      // masquerade: one external port per internal socket
	NATSymmetric NAT = "symmetric" // masquerade random,fully-random: a fresh port per destination
	NATNone      NAT = "none"      // plain routing: the LAN's addresses are public
)

// Config shapes a lab. The zero value builds both routers as cone NATs and
// no public node.
type Config struct {
	NATA  NAT // router ra (LAN of a and b); "" = cone
	NATC  NAT // router rc (LAN of c); "" = cone
	Nodes int // public hosts p1..pN on the internet segment, 10.77.0.10+i-1
}

// Lab is one built network. Hosts are named "a", "b", "c", "p1".."pN";
// routers "ra", "rc".
type Lab struct {
	t      testing.TB
	prefix string
	cfg    Config
	nss    []string // every namespace created, in creation order
	nat    map[string]NAT
}

var labSeq atomic.Int32

// requireLab skips t unless the lab can run here.
func requireLab(t testing.TB) {
	t.Helper()
	if skipReason != "" {
		t.Skip("network lab: " + skipReason)
	}
}

// NewLab builds a fresh lab and registers its teardown (and the check that
// nothing is left behind) with t.Cleanup.
func NewLab(t testing.TB, cfg Config) *Lab {
	t.Helper()
	requireLab(t)
	if cfg.NATA == "" {
		cfg.NATA = NATCone
	}
	if cfg.NATC == "" {
		cfg.NATC = NATCone
	}
	if cfg.Nodes > 100 {
		t.Fatalf("lab: %d nodes is too many", cfg.Nodes)
	}
	existing := netnsList(t)
	var prefix string
	for {
		prefix = fmt.Sprintf("pcpl%d-%d-", os.Getpid()%1000, labSeq.Add(1))
		if !hasPrefix(existing, prefix) {
			break
		}
	}
	l := &Lab{t: t, prefix: prefix, cfg: cfg, nat: map[string]NAT{}}
	t.Cleanup(l.teardown)
	start := time.Now()
	l.build()
	t.Logf("lab %s built in %v (ra %s, rc %s, %d nodes)", prefix, time.Since(start).Round(time.Millisecond), cfg.NATA, cfg.NATC, cfg.Nodes)
	return l
}

// NS returns the namespace name of a host, router or switch role.
func (l *Lab) NS(role string) string { return l.prefix + role }

// Prefix is the lab's namespace name prefix.
func (l *Lab) Prefix() string { return l.prefix }

// IP returns a host's or router's (internet-side) address.
func (l *Lab) IP(host string) string {
	switch host {
	case "a":
		return "10.77.1.11"
	case "b":
		return "10.77.1.12"
	case "c":
		return "10.77.2.11"
	case "ra":
		return "10.77.0.1"
	case "rc":
		return "10.77.0.2"
	}
	if n, ok := l.nodeIndex(host); ok {
		return fmt.Sprintf("10.77.0.%d", 9+n)
	}
	l.t.Fatalf("lab: unknown host %q", host)
	return ""
}

func (l *Lab) nodeIndex(host string) (int, bool) {
	s, ok := strings.CutPrefix(host, "p")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > l.cfg.Nodes {
		return 0, false
	}
	return n, true
}

// Nodes returns the public host names p1..pN.
func (l *Lab) Nodes() []string {
	var out []string
	for i := 1; i <= l.cfg.Nodes; i++ {
		out = append(out, fmt.Sprintf("p%d", i))
	}
	return out
}

// farEnd is the namespace and interface of the switch/router side of a
// host's link; nearEnd is the host side.
func (l *Lab) farEnd(host string) (ns, ifc string) {
	switch host {
	case "a", "b":
		return l.NS("lan"), host
	case "c":
		return l.NS("rc"), "lan0"
	case "ra", "rc":
		return l.NS("wan"), host
	}
	if _, ok := l.nodeIndex(host); ok {
		return l.NS("wan"), host
	}
	l.t.Fatalf("lab: unknown host %q", host)
	return "", ""
}

func (l *Lab) nearEnd(host string) (ns, ifc string) {
	if host == "ra" || host == "rc" {
		return l.NS(host), "wan0"
	}
	l.farEnd(host) // validates
	return l.NS(host), "eth0"
}

func (l *Lab) build() {
	roles := []string{"lan", "wan", "ra", "rc", "a", "b", "c"}
	roles = append(roles, l.Nodes()...)
	for _, r := range roles {
		ns := l.NS(r)
		l.cmd("ip", "netns", "add", ns)
		l.nss = append(l.nss, ns)
		// IPv4 only: no IPv6 link-local noise, no DAD delays.
		l.cmd("ip", "netns", "exec", ns, "sysctl", "-qw",
			"net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
		l.cmd("ip", "-n", ns, "link", "set", "lo", "up")
	}
	// Switches: a bridge with multicast snooping off floods mDNS like a dumb switch.
	for _, sw := range []string{"lan", "wan"} {
		l.cmd("ip", "-n", l.NS(sw), "link", "add", "br0", "type", "bridge",
			"mcast_snooping", "0", "stp_state", "0", "forward_delay", "0")
		l.cmd("ip", "-n", l.NS(sw), "link", "set", "br0", "up")
	}
	l.veth(l.NS("a"), "eth0", l.NS("lan"), "a", true)
	l.veth(l.NS("b"), "eth0", l.NS("lan"), "b", true)
	l.veth(l.NS("ra"), "lan0", l.NS("lan"), "ra", true)
	l.veth(l.NS("ra"), "wan0", l.NS("wan"), "ra", true)
	l.veth(l.NS("rc"), "wan0", l.NS("wan"), "rc", true)
	l.veth(l.NS("c"), "eth0", l.NS("rc"), "lan0", false)
	for _, p := range l.Nodes() {
		l.veth(l.NS(p), "eth0", l.NS("wan"), p, true)
	}
	addr := func(role, ifc, cidr string) { l.cmd("ip", "-n", l.NS(role), "addr", "add", cidr, "dev", ifc) }
	addr("a", "eth0", "10.77.1.11/24")
	addr("b", "eth0", "10.77.1.12/24")
	addr("ra", "lan0", "10.77.1.1/24")
	addr("ra", "wan0", "10.77.0.1/24")
	addr("rc", "wan0", "10.77.0.2/24")
	addr("rc", "lan0", "10.77.2.1/24")
	addr("c", "eth0", "10.77.2.11/24")
	for _, p := range l.Nodes() {
		addr(p, "eth0", l.IP(p)+"/24")
	}
	for h, gw := range map[string]string{"a": "10.77.1.1", "b": "10.77.1.1", "c": "10.77.2.1"} {
		l.cmd("ip", "-n", l.NS(h), "route", "add", "default", "via", gw)
	}
	for _, r := range []string{"ra", "rc"} {
		l.cmd("ip", "netns", "exec", l.NS(r), "sysctl", "-qw", "net.ipv4.ip_forward=1")
	}
	l.SetNAT("ra", l.cfg.NATA)
	l.SetNAT("rc", l.cfg.NATC)
}

// veth links ns1/if1 with ns2/if2 and brings both up; with bridge, if2 is
// enslaved to br0 in ns2.
func (l *Lab) veth(ns1, if1, ns2, if2 string, bridge bool) {
	l.cmd("ip", "-n", ns1, "link", "add", if1, "type", "veth", "peer", "name", if2, "netns", ns2)
	if bridge {
		l.cmd("ip", "-n", ns2, "link", "set", "dev", if2, "master", "br0")
	}
	l.cmd("ip", "-n", ns1, "link", "set", "dev", if1, "up")
	l.cmd("ip", "-n", ns2, "link", "set", "dev", if2, "up")
}

// SetNAT changes router ("ra" or "rc") behaviour at run time and forgets
// every existing NAT mapping.
func (l *Lab) SetNAT(router string, mode NAT) {
	l.t.Helper()
	var lan, other, wanIP string
	switch router {
	case "ra":
		lan, other, wanIP = "10.77.1.0/24", "rc", l.IP("ra")
	case "rc":
		lan, other, wanIP = "10.77.2.0/24", "ra", l.IP("rc")
	default:
		l.t.Fatalf("lab: %q is not a router", router)
	}
	ns := l.NS(router)
	l.cmdOK("ip", "netns", "exec", ns, "nft", "delete", "table", "ip", "lab")
	// Internet hosts reach the LAN directly only when it is routed.
	internet := append([]string{other}, l.Nodes()...)
	for _, h := range internet {
		l.cmdOK("ip", "-n", l.NS(h), "route", "del", lan)
	}
	switch mode {
	case NATNone:
		for _, h := range internet {
			l.cmd("ip", "-n", l.NS(h), "route", "replace", lan, "via", wanIP)
		}
	case NATCone, NATSymmetric:
		masq := "masquerade"
		if mode == NATSymmetric {
			masq = "masquerade random,fully-random"
		}
		// Like a home router: forward only outbound and replies, and drop
		// unsolicited inbound silently (an RST to an early hole-punch
		// packet would kill the punch).
		rules := fmt.Sprintf(`table ip lab {
  chain cpost { type nat hook postrouting priority srcnat; oifname "wan0" %s; }
  chain cfwd {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    iifname "lan0" oifname "wan0" accept
  }
  chain cin {
    type filter hook input priority filter; policy accept;
    iifname "wan0" ct state { new, invalid } drop
  }
}
`, masq)
		l.cmdIn(rules, "ip", "netns", "exec", ns, "nft", "-f", "-")
	default:
		l.t.Fatalf("lab: unknown NAT mode %q", mode)
	}
	l.FlushNAT(router)
	l.nat[router] = mode
}

// Block drops every packet host sends to ip, in host's own output hook,
// until Unblock: a firewall on the host, which its routes do not see.
func (l *Lab) Block(host, ip string) {
	l.t.Helper()
	rules := fmt.Sprintf(`table ip labblock {
  chain out { type filter hook output priority filter; ip daddr %s drop; }
}
`, ip)
	l.cmdIn(rules, "ip", "netns", "exec", l.NS(host), "nft", "-f", "-")
}

// Unblock removes host's Block.
func (l *Lab) Unblock(host string) {
	l.t.Helper()
	l.cmd("ip", "netns", "exec", l.NS(host), "nft", "delete", "table", "ip", "labblock")
}

// FlushNAT forgets a router's connection tracking (NAT mappings).
func (l *Lab) FlushNAT(router string) {
	l.t.Helper()
	// conntrack -F exits 1 when the table was already empty on some versions.
	out, err := exec.Command("ip", "netns", "exec", l.NS(router), "conntrack", "-F").CombinedOutput()
	if err != nil && !strings.Contains(string(out), "flow entries have been deleted") {
		l.t.Fatalf("lab: conntrack -F in %s: %v: %s", router, err, out)
	}
}

// SetRate limits both directions of host's link to rate (tc syntax, e.g.
// "20mbit"); "off" removes the limit.
func (l *Lab) SetRate(host, rate string) {
	l.t.Helper()
	nearNS, nearIf := l.nearEnd(host)
	farNS, farIf := l.farEnd(host)
	for _, e := range [][2]string{{nearNS, nearIf}, {farNS, farIf}} {
		l.cmdOK("tc", "-n", e[0], "qdisc", "del", "dev", e[1], "root")
		if rate == "off" {
			continue
		}
		// burst >= rate/HZ; 32 kbit suits up to ~100 mbit; latency bounds the queue.
		l.cmd("tc", "-n", e[0], "qdisc", "add", "dev", e[1], "root", "tbf",
			"rate", rate, "burst", "32kbit", "latency", "100ms")
	}
}

// LinkDown pulls host's cable: the far end of its veth goes down, so the
// host keeps its address and routes but nothing passes.
func (l *Lab) LinkDown(host string) {
	l.t.Helper()
	ns, ifc := l.farEnd(host)
	l.cmd("ip", "-n", ns, "link", "set", "dev", ifc, "down")
}

// LinkUp plugs host's cable back in.
func (l *Lab) LinkUp(host string) {
	l.t.Helper()
	ns, ifc := l.farEnd(host)
	l.cmd("ip", "-n", ns, "link", "set", "dev", ifc, "up")
	if ns == l.NS("lan") || ns == l.NS("wan") {
		// A bridge port that comes back up forwards at once (forward_delay
		// 0); wait for that state so the test does not race it.
		l.waitBridgePort(ns, ifc)
	}
	// Both ends must have their carrier back, and neither may keep a
	// neighbour entry that failed while the cable was out: a dial would
	// otherwise get "no route to host" until the kernel retries it (seen
	// in TestLabSelf on a busy machine).
	nearNS, nearIfc := l.nearEnd(host)
	for _, end := range [][2]string{{ns, ifc}, {nearNS, nearIfc}} {
		l.waitLinkState(end[0], end[1], "LOWER_UP")
		l.cmd("ip", "-n", end[0], "neigh", "flush", "dev", end[1])
	}
}

// waitLinkState waits until the link's flags show state (e.g. LOWER_UP:
// the carrier is up).
func (l *Lab) waitLinkState(ns, ifc, state string) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, _ := exec.Command("ip", "-n", ns, "link", "show", "dev", ifc).CombinedOutput()
		if bytes.Contains(out, []byte(state)) {
			return
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("lab: %s/%s not %s after 5 s: %s", ns, ifc, state, out)
		}
		time.Sleep(20 * time.Millisecond) // polling a kernel state, not standing in for readiness
	}
}

func (l *Lab) waitBridgePort(ns, ifc string) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, _ := exec.Command("ip", "-n", ns, "-d", "link", "show", "dev", ifc).CombinedOutput()
		if bytes.Contains(out, []byte("state forwarding")) || bytes.Contains(out, []byte("state FORWARDING")) {
			return
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("lab: bridge port %s/%s not forwarding after 5 s: %s", ns, ifc, out)
		}
		time.Sleep(20 * time.Millisecond) // polling a kernel state, not standing in for readiness
	}
}

// cmd runs a command and fails the test on error.
func (l *Lab) cmd(name string, args ...string) string {
	l.t.Helper()
	return l.cmdIn("", name, args...)
}

func (l *Lab) cmdIn(stdin, name string, args ...string) string {
	l.t.Helper()
	c := exec.Command(name, args...)
	if stdin != "" {
		c.Stdin = strings.NewReader(stdin)
	}
	out, err := c.CombinedOutput()
	if err != nil {
		l.t.Fatalf("lab: %s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// cmdOK runs a command whose failure is expected and harmless (deleting
// what may not exist).
func (l *Lab) cmdOK(name string, args ...string) {
	_ = exec.Command(name, args...).Run()
}

// Exec runs a short command inside host's namespace and returns its
// combined output and error.
func (l *Lab) Exec(ctx context.Context, host string, name string, args ...string) (string, error) {
	c := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", l.NS(host), name}, args...)...)
	out, err := c.CombinedOutput()
	return string(out), err
}

// teardown kills what still runs in the lab, deletes its namespaces and
// checks that none is left.
func (l *Lab) teardown() {
	t := l.t
	start := time.Now()
	mine := func() []string {
		var out []string
		for _, ns := range netnsList(t) {
			if strings.HasPrefix(ns, l.prefix) {
				out = append(out, ns)
			}
		}
		return out
	}
	for _, sig := range []string{"TERM", "KILL"} {
		any := false
		for _, ns := range mine() {
			for _, pid := range nsPids(ns) {
				any = true
				_ = exec.Command("kill", "-"+sig, pid).Run()
			}
		}
		if !any {
			break
		}
		if sig == "TERM" {
			deadline := time.Now().Add(3 * time.Second)
			for time.Now().Before(deadline) && l.anyPids(mine()) {
				time.Sleep(20 * time.Millisecond) // polling process exit
			}
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for l.anyPids(mine()) {
		if time.Now().After(deadline) {
			t.Errorf("lab teardown: processes survive SIGKILL in %v", mine())
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, ns := range mine() {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("lab teardown: ip netns del %s: %v: %s", ns, err, out)
		}
	}
	if left := mine(); len(left) > 0 {
		t.Errorf("lab teardown: namespaces left behind: %v", left)
	}
	t.Logf("lab %s torn down in %v", l.prefix, time.Since(start).Round(time.Millisecond))
}

func (l *Lab) anyPids(nss []string) bool {
	for _, ns := range nss {
		if len(nsPids(ns)) > 0 {
			return true
		}
	}
	return false
}

func nsPids(ns string) []string {
	out, err := exec.Command("ip", "netns", "pids", ns).Output()
	if err != nil {
		return nil
	}
	return strings.Fields(string(out))
}

// netnsList returns the names in `ip netns list`.
func netnsList(t testing.TB) []string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v: %s", err, out)
	}
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names
}

func hasPrefix(names []string, prefix string) bool {
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			return true
		}
	}
	return false
}

// LinkBytes returns the bytes received and sent on host's own interface
// (eth0; wan0 for a router) since the lab was built: a measure of what
// really crossed the host, independent of what pcp reports.
func (l *Lab) LinkBytes(host string) (rx, tx int64) {
	l.t.Helper()
	ns, ifc := l.nearEnd(host)
	out := l.cmd("ip", "-n", ns, "-j", "-s", "link", "show", "dev", ifc)
	var links []struct {
		Stats64 struct {
			RX struct{ Bytes int64 } `json:"rx"`
			TX struct{ Bytes int64 } `json:"tx"`
		} `json:"stats64"`
	}
	if err := json.Unmarshal([]byte(out), &links); err != nil || len(links) != 1 {
		l.t.Fatalf("lab: link stats of %s/%s: %v: %s", ns, ifc, err, out)
	}
	return links[0].Stats64.RX.Bytes, links[0].Stats64.TX.Bytes
}
