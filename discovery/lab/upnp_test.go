package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Port mapping (issue 11, item 6): router ra runs miniupnpd, as a home
// router with UPnP IGD and NAT-PMP does, and pcp asks it for a mapping by
// default. The receiver sits behind rc's symmetric NAT, where no hole
// punch can work and the public-like nodes relay nothing: without the
// mapping this is TestLabReachNoPath.

// upnpExtIP is ra's public address as miniupnpd reports it. miniupnpd
// refuses to map ports on a private external address (and the lab's
// "internet", 10.77.0.0/24, is private to it), so ra's wan0 also holds this
// address, one that is public to both miniupnpd and libp2p, and every
// other host on the internet segment routes it to ra. It exists only inside
// the lab's namespaces.
const upnpExtIP = "11.77.0.1"

// upnpTable is the nftables table (family inet) where miniupnpd keeps its
// redirects and forward rules.
const upnpTable = "upnp"

// requireMiniupnpd skips t unless miniupnpd with the nftables backend is
// installed (`make test-deps` installs it).
func requireMiniupnpd(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("miniupnpd"); err != nil {
		t.Skip("miniupnpd not found (apt-get install -y miniupnpd-nftables, or make test-deps)")
	}
	out, _ := exec.Command("miniupnpd", "--version").CombinedOutput()
	if !strings.Contains(string(out), "nftables") {
		t.Skipf("miniupnpd is not the nftables build (apt-get install -y miniupnpd-nftables): %s", out)
	}
}

// StartUPnP makes router ra a UPnP IGD and NAT-PMP gateway for its LAN:
// it gives ra the public address upnpExtIP (routed to ra by the rest of
// the internet), lets ra forward what miniupnpd redirects, and runs
// miniupnpd in ra until the test ends. It returns once miniupnpd listens.
func (l *Lab) StartUPnP(ctx context.Context) *Proc {
	t := l.t
	t.Helper()
	requireMiniupnpd(t)
	ra := l.NS("ra")
	l.cmd("ip", "-n", ra, "addr", "add", upnpExtIP+"/32", "dev", "wan0")
	for _, h := range append([]string{"rc"}, l.Nodes()...) {
		l.cmd("ip", "-n", l.NS(h), "route", "add", upnpExtIP+"/32", "via", l.IP("ra"))
	}
	// miniupnpd adds DNAT rules to the prerouting chain below and accept
	// rules to the forward chain; it expects the chains to exist. The lab's
	// own forward chain drops what is not a reply, so it must also accept
	// connections that a redirect created.
	rules := fmt.Sprintf(`table inet %[1]s {
  chain forward { type filter hook forward priority filter; policy accept; jump miniupnpd; }
  chain miniupnpd { }
  chain prerouting { type nat hook prerouting priority dstnat; policy accept; jump prerouting_miniupnpd; }
  chain postrouting { type nat hook postrouting priority srcnat; policy accept; jump postrouting_miniupnpd; }
  chain prerouting_miniupnpd { }
  chain postrouting_miniupnpd { }
}
add rule ip lab cfwd ct status dnat accept
`, upnpTable)
	l.cmdIn(rules, "ip", "netns", "exec", ra, "nft", "-f", "-")

	dir := t.TempDir()
	conf := filepath.Join(dir, "miniupnpd.conf")
	cfg := fmt.Sprintf(`ext_ifname=wan0
ext_ip=%s
listening_ip=lan0
enable_natpmp=yes
enable_upnp=yes
secure_mode=yes
system_uptime=no
lease_file=%s
upnp_table_name=%s
upnp_nat_table_name=%s
upnp_forward_chain=miniupnpd
upnp_nat_chain=prerouting_miniupnpd
upnp_nat_postrouting_chain=postrouting_miniupnpd
uuid=3d3c2b1a-0000-4000-8000-00000000a11b
allow 1024-65535 10.77.1.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
`, upnpExtIP, filepath.Join(dir, "leases"), upnpTable, upnpTable)
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	// -d: foreground, log to stderr (here stdout, read as plain lines);
	// -4: the lab has no IPv6; -P: not the system's pid file.
	cmd := fmt.Sprintf("exec miniupnpd -d -4 -f %s -P %s 2>&1", conf, filepath.Join(dir, "miniupnpd.pid"))
	p := l.Start("miniupnpd", "ra", nil, "/bin/sh", "-c", cmd)
	ready, err := p.WaitEvent(ctx, "", func(e Event) bool {
		return strings.Contains(e.Line, "Listening for NAT-PMP")
	})
	if err != nil {
		t.Fatalf("miniupnpd did not start: %v", err)
	}
	for _, e := range p.Events("") {
		if strings.Contains(e.Line, "impossible") || strings.Contains(e.Line, "forwarding is now disabled") {
			t.Fatalf("miniupnpd will not forward ports: %s", e.Line)
		}
	}
	t.Logf("miniupnpd up in ra %v after start", ready.At.Sub(p.Started).Round(time.Millisecond))
	return p
}

// UPnPRedirects returns miniupnpd's rules on ra (its nftables table).
func (l *Lab) UPnPRedirects() string {
	l.t.Helper()
	return l.cmd("ip", "netns", "exec", l.NS("ra"), "nft", "list", "table", "inet", upnpTable)
}

// mappedAddr returns the first of addrs on upnpExtIP ("" if none).
func mappedAddr(addrs []string) string {
	for _, a := range addrs {
		if strings.HasPrefix(a, "/ip4/"+upnpExtIP+"/") {
			return a
		}
	}
	return ""
}

// cone (ra, with miniupnpd) / symmetric (rc), public-like nodes only: the
// sender's router maps its port, the sender announces the mapped address,
// and the receiver dials it directly. Every data byte goes direct. With
// together, the receiver starts as soon as the words exist, before the
// mapping does: it meets the sender through a public relay, and the mapped
// address reaches it while it waits for a direct path.
func TestLabUPnPPortMap(t *testing.T) {
	for _, together := range []bool{false, true} {
		name := map[bool]string{false: "sender first", true: "together"}[together]
		t.Run(name, func(t *testing.T) { upnpPortMap(t, together) })
	}
}

func upnpPortMap(t *testing.T, together bool) {
	l := NewLab(t, Config{NATA: NATCone, NATC: NATSymmetric, Nodes: 3})
	ctx := scenarioCtx(t, 150*time.Second)
	l.StartUPnP(ctx)
	boot := reachNet(ctx, t, l, false)

	pub := pcpOpts{PublicCIDR: LabInternet}
	tr := &transfer{src: t.TempDir(), out: t.TempDir()}
	makeTree(t, tr.src, bigTree(8<<20), 14)
	net := flagEach("--bootstrap", boot)
	tr.sender, _ = l.StartPCP("sender", "a", pub, append(append([]string{"send"}, net...), filepath.Join(tr.src, "payload"))...)
	tr.words = passphrase(ctx, t, tr.sender)
	startReceiver := func() {
		tr.recv, tr.recvState = l.StartPCP("receiver", "c", pub, append(append([]string{"receive", "--yes", "-o", tr.out}, net...), tr.words)...)
	}
	if together {
		startReceiver()
	}
	// libp2p announces a mapped address only once the router gave it one;
	// the sender then provides its record again.
	adv := tr.sender.MustEvent(ctx, "advertised", func(e Event) bool { return mappedAddr(e.Strs("addrs")) != "" })
	mapped := mappedAddr(adv.Strs("addrs"))
	t.Logf("sender advertised %s %v after it started", mapped, adv.At.Sub(tr.sender.Started).Round(time.Millisecond))

	// The mapping is a redirect on ra from the mapped port to the sender.
	f := strings.Split(mapped, "/") // "", ip4, IP, tcp|udp, PORT, ...
	if len(f) < 5 {
		t.Fatalf("mapped address %q has no port", mapped)
	}
	rules := l.UPnPRedirects()
	if !strings.Contains(rules, "dport "+f[4]) || !strings.Contains(rules, "dnat") || !strings.Contains(rules, l.IP("a")+":") {
		t.Fatalf("ra has no redirect of %s port %s to %s:\n%s", f[3], f[4], l.IP("a"), rules)
	}

	if !together {
		startReceiver()
	}
	tr.peer = tr.recv.MustEvent(ctx, "peer", nil)
	tr.authenticated = tr.recv.MustEvent(ctx, "authenticated", nil)
	tr.done = tr.recv.MustEvent(ctx, "done", nil)
	tr.recv.MustExit(ctx, 0)
	tr.sender.MustExit(ctx, 0)
	by := bytesByPath(tr.recv.Events("progress"))
	t.Logf("peer %v, authenticated %v (over %s) after the receiver started; done over %s in %s; bytes by path %v",
		tr.peer.At.Sub(tr.recv.Started).Round(time.Millisecond),
		tr.authenticated.At.Sub(tr.recv.Started).Round(time.Millisecond), tr.authenticated.Str("path"),
		tr.done.Str("path"), tr.done.Str("duration"), by)
	if p := tr.done.Str("path"); p != "direct" {
		t.Errorf("done path %q, want direct (through ra's port mapping)", p)
	}
	if by["relayed"] != 0 {
		t.Errorf("%d bytes reported over a public relay: data must not use limited circuits", by["relayed"])
	}
	// The receiver's packets really went through the mapping: ra tracked
	// connections from rc to the mapped address.
	ct, _ := l.Exec(ctx, "ra", "conntrack", "-L", "-d", upnpExtIP)
	if !strings.Contains(ct, "src="+l.IP("rc")) {
		t.Errorf("ra tracked no connection from rc to %s:\n%s", upnpExtIP, ct)
	}
	tr.checkReceived(ctx, t)
}

// The opt-out: with --no-port-map the sender asks ra for nothing, so the
// cone / symmetric pair has no path again (exit 8) and ra holds no
// redirect, though miniupnpd was there to give one.
func TestLabUPnPOptOut(t *testing.T) {
	l := NewLab(t, Config{NATA: NATCone, NATC: NATSymmetric, Nodes: 3})
	ctx := scenarioCtx(t, 120*time.Second)
	l.StartUPnP(ctx)
	boot := reachNet(ctx, t, l, false)

	pub := pcpOpts{PublicCIDR: LabInternet}
	src, out := t.TempDir(), t.TempDir()
	makeTree(t, src, smallTree, 15)
	net := flagEach("--bootstrap", boot)
	sender, _ := l.StartPCP("sender", "a", pub, append(append([]string{"send", "--no-port-map"}, net...), filepath.Join(src, "payload"))...)
	words := passphrase(ctx, t, sender)
	sender.MustEvent(ctx, "listening", nil)
	recv, _ := l.StartPCP("receiver", "c", pub, append(append([]string{"receive", "--yes", "-o", out}, net...), words)...)
	recv.MustEvent(ctx, "authenticated", nil)
	ev := recv.MustEvent(ctx, "error", nil)
	recv.MustExit(ctx, 8)
	if k := ev.Str("kind"); k != "no_path" {
		t.Errorf("error kind %q, want no_path", k)
	}
	// By now (30 s after authentication) a sender that asked would long
	// have had its mapping.
	for _, e := range sender.Events("advertised") {
		if m := mappedAddr(e.Strs("addrs")); m != "" {
			t.Errorf("sender with --no-port-map advertised the mapped address %s", m)
		}
	}
	if rules := l.UPnPRedirects(); strings.Contains(rules, "dnat") {
		t.Errorf("ra holds a redirect though the sender opted out:\n%s", rules)
	}
	sender.Stop()
}
