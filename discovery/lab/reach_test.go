package lab

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// The internet as users meet it (issue: reach). Public DHT servers are pcp
// nodes whose relays have libp2p's default limits (128 KiB, 2 minutes per
// circuit): good for meeting, never for data. A transfer-grade pcp node may
// be among them, found through the DHT only. Sender and receiver sit behind
// NAT routers that drop unsolicited inbound traffic, and get no flag but
// --bootstrap (the first node's addresses).

// reachNet starts p1..pN as public-like DHT nodes, all joined through p1,
// and, if transfer, makes the last one transfer-grade. It returns p1's
// addresses, the only ones the peers are given.
func reachNet(ctx context.Context, t *testing.T, l *Lab, transfer bool, transferArgs ...string) []string {
	t.Helper()
	nodes := l.Nodes()
	var boot []string
	for i, n := range nodes {
		tg := transfer && i == len(nodes)-1
		o := pcpOpts{PublicCIDR: LabInternet, PublicLimits: !tg}
		if tg {
			o.NodeArgs = transferArgs
		}
		p, addrs := l.StartNode(ctx, n, o, boot...)
		if i == 0 {
			boot = addrs
		}
		if tg {
			// A transfer node on the internet has been up for a while:
			// its announcement is in the DHT before anyone looks.
			p.MustEvent(ctx, "relay_advertised", nil)
		}
	}
	return boot
}

// reachPair runs a sender on a and a receiver on c with only --bootstrap.
// With together, the receiver starts as soon as the words exist, as when
// the words are read out over the phone to someone already typing.
func reachPair(ctx context.Context, t *testing.T, l *Lab, boot []string, payload map[string]int64, seed uint64, together bool) *transfer {
	t.Helper()
	pub := pcpOpts{PublicCIDR: LabInternet}
	src, out := t.TempDir(), t.TempDir()
	makeTree(t, src, payload, seed)
	net := flagEach("--bootstrap", boot)
	sender, _ := l.StartPCP("sender", "a", pub, append(append([]string{"send"}, net...), filepath.Join(src, "payload"))...)
	words := passphrase(ctx, t, sender)
	if !together {
		sender.MustEvent(ctx, "listening", nil)
	}
	recv, recvState := l.StartPCP("receiver", "c", pub, append(append([]string{"receive", "--yes", "-o", out}, net...), words)...)
	return &transfer{src: src, out: out, sender: sender, recv: recv, recvState: recvState, words: words}
}

// bothStarts runs f as two subtests: the receiver started once the sender
// listens, and at once.
func bothStarts(t *testing.T, f func(t *testing.T, together bool)) {
	for _, together := range []bool{false, true} {
		name := map[bool]string{false: "sender first", true: "together"}[together]
		t.Run(name, func(t *testing.T) { f(t, together) })
	}
}

// cone / cone, public-like nodes only: the peers meet through a public
// relay and punch a hole; every data byte goes direct.
func TestLabReachHolePunch(t *testing.T) {
	bothStarts(t, func(t *testing.T, together bool) {
		l := NewLab(t, Config{NATA: NATCone, NATC: NATCone, Nodes: 3})
		ctx := scenarioCtx(t, 120*time.Second)
		boot := reachNet(ctx, t, l, false)
		tr := reachPair(ctx, t, l, boot, bigTree(8<<20), 11, together)
		tr.peer = tr.recv.MustEvent(ctx, "peer", nil)
		tr.authenticated = tr.recv.MustEvent(ctx, "authenticated", nil)
		tr.done = tr.recv.MustEvent(ctx, "done", nil)
		tr.recv.MustExit(ctx, 0)
		tr.sender.MustExit(ctx, 0)
		toPeer, toAuth := tr.peer.At.Sub(tr.recv.Started), tr.authenticated.At.Sub(tr.recv.Started)
		by := bytesByPath(tr.recv.Events("progress"))
		t.Logf("peer %v, authenticated %v (over %s) after the receiver started; done over %s; bytes by path %v",
			toPeer.Round(time.Millisecond), toAuth.Round(time.Millisecond), tr.authenticated.Str("path"), tr.done.Str("path"), by)
		if toAuth > 10*time.Second {
			t.Errorf("authenticated %v after the receiver started, want at most 10 s", toAuth)
		}
		if p := tr.done.Str("path"); p != "direct" {
			t.Errorf("done path %q, want direct (hole punch)", p)
		}
		if by["relayed"] != 0 {
			t.Errorf("%d bytes reported over a public relay: data must not use limited circuits", by["relayed"])
		}
		tr.checkReceived(ctx, t)
	})
}

// cone / symmetric, public-like nodes only: no punch can work and no relay
// can carry data. The receiver stops with the "no path" exit soon after
// authenticating, having fetched nothing.
func TestLabReachNoPath(t *testing.T) {
	l := NewLab(t, Config{NATA: NATCone, NATC: NATSymmetric, Nodes: 3})
	ctx := scenarioCtx(t, 120*time.Second)
	boot := reachNet(ctx, t, l, false)
	tr := reachPair(ctx, t, l, boot, bigTree(8<<20), 12, false)
	tr.authenticated = tr.recv.MustEvent(ctx, "authenticated", nil)
	ev := tr.recv.MustEvent(ctx, "error", nil)
	tr.recv.MustExit(ctx, 8)
	after := ev.At.Sub(tr.authenticated.At)
	t.Logf("authenticated over %s %v after start; error %v later: %s", tr.authenticated.Str("path"),
		tr.authenticated.At.Sub(tr.recv.Started).Round(time.Millisecond), after.Round(time.Millisecond), ev.Line)
	if k := ev.Str("kind"); k != "no_path" {
		t.Errorf("error kind %q, want no_path", k)
	}
	// 30 s of waiting, plus the receiver's prompt-free offer and a busy
	// machine's slack.
	if after > 40*time.Second {
		t.Errorf("gave up %v after authentication, want within about 30 s", after)
	}
	for _, p := range tr.recv.Events("progress") {
		if p.Int("bytes") > 0 {
			t.Fatalf("data moved over a limited circuit: %s", p.Line)
		}
	}
	tr.sender.Stop()
}

// cone / symmetric with one transfer-grade node in the DHT, named by no
// flag: the peers find it there and the data goes through it.
func TestLabReachTransferRelay(t *testing.T) {
	bothStarts(t, func(t *testing.T, together bool) {
		l := NewLab(t, Config{NATA: NATCone, NATC: NATSymmetric, Nodes: 3})
		ctx := scenarioCtx(t, 120*time.Second)
		boot := reachNet(ctx, t, l, true)
		tr := reachPair(ctx, t, l, boot, bigTree(8<<20), 13, together)
		tr.peer = tr.recv.MustEvent(ctx, "peer", nil)
		tr.authenticated = tr.recv.MustEvent(ctx, "authenticated", nil)
		tr.done = tr.recv.MustEvent(ctx, "done", nil)
		tr.recv.MustExit(ctx, 0)
		tr.sender.MustExit(ctx, 0)
		total := tr.done.Int("manifest_bytes")
		rx, tx := l.LinkBytes("p3")
		t.Logf("peer %v, authenticated %v after the receiver started; done over %s in %s; transfer relay p3 rx %d tx %d (payload %d)",
			tr.peer.At.Sub(tr.recv.Started).Round(time.Millisecond), tr.authenticated.At.Sub(tr.recv.Started).Round(time.Millisecond),
			tr.done.Str("path"), tr.done.Str("duration"), rx, tx, total)
		if p := tr.done.Str("path"); p != "relayed" {
			t.Errorf("done path %q, want relayed", p)
		}
		if rx < total || tx < total {
			t.Errorf("the transfer relay p3 carried rx %d / tx %d bytes, less than the %d-byte payload", rx, tx, total)
		}
		tr.checkReceived(ctx, t)
	})
}

// Several transfers back to back against the same DHT: send and receive
// join it as clients and leave no dead routing entries behind, so a
// provide and a find stay fast however many ran before.
func TestLabReachBackToBack(t *testing.T) {
	l := NewLab(t, Config{NATA: NATCone, NATC: NATCone, Nodes: 3})
	ctx := scenarioCtx(t, 180*time.Second)
	boot := reachNet(ctx, t, l, false)
	for run := 1; run <= 4; run++ {
		tr := reachPair(ctx, t, l, boot, smallTree, uint64(20+run), true)
		adv := tr.sender.MustEvent(ctx, "advertised", nil)
		tr.peer = tr.recv.MustEvent(ctx, "peer", nil)
		tr.done = tr.recv.MustEvent(ctx, "done", nil)
		tr.recv.MustExit(ctx, 0)
		tr.sender.MustExit(ctx, 0)
		provide := adv.At.Sub(tr.sender.Started)
		// The receiver started with the sender; the record cannot be
		// found before it exists.
		find := tr.peer.At.Sub(maxTime(adv.At, tr.recv.Started))
		t.Logf("run %d: provided %v after the sender started (%d addresses), found %v after that, done over %s",
			run, provide.Round(time.Millisecond), len(adv.Strs("addrs")), find.Round(time.Millisecond), tr.done.Str("path"))
		if provide > 2*time.Second {
			t.Errorf("run %d: the provide took %v, want at most 2 s", run, provide)
		}
		if find > 2*time.Second {
			t.Errorf("run %d: the find took %v after the provide, want at most 2 s", run, find)
		}
		tr.checkReceived(ctx, t)
	}
}

// cone / symmetric, and the transfer-grade node in the DHT has an
// operator's limits (a rate, bytes and time per circuit): its circuits are
// Limited, but transfer-grade, so the data flows through it, and arrives
// exact. The node's rate limit is generous enough not to slow the test.
func TestLabReachOperatorLimitedRelay(t *testing.T) {
	l := NewLab(t, Config{NATA: NATCone, NATC: NATSymmetric, Nodes: 3})
	ctx := scenarioCtx(t, 120*time.Second)
	boot := reachNet(ctx, t, l, true, "--relay-rate", "1G", "--circuit-data", "64M", "--circuit-duration", "10m")
	tr := reachPair(ctx, t, l, boot, bigTree(8<<20), 17, false)
	tr.done = tr.recv.MustEvent(ctx, "done", nil)
	tr.recv.MustExit(ctx, 0)
	tr.sender.MustExit(ctx, 0)
	total := tr.done.Int("manifest_bytes")
	rx, tx := l.LinkBytes("p3")
	t.Logf("done over %s in %s; operator-limited relay p3 rx %d tx %d (payload %d)",
		tr.done.Str("path"), tr.done.Str("duration"), rx, tx, total)
	if p := tr.done.Str("path"); p != "relayed" {
		t.Errorf("done path %q, want relayed", p)
	}
	if rx < total || tx < total {
		t.Errorf("the operator-limited relay p3 carried rx %d / tx %d bytes, less than the %d-byte payload", rx, tx, total)
	}
	tr.checkReceived(ctx, t)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// manyFiles is a tree whose manifest outgrows a public relay's 128 KiB
// circuit: n files of 512 bytes under payload/, in 20 directories.
func manyFiles(n int) map[string]int64 {
	m := make(map[string]int64, n)
	for i := range n {
		m[fmt.Sprintf("payload/d%02d/file-with-a-longish-name-%05d.txt", i%20, i)] = 512
	}
	return m
}

// cone / cone, public-like nodes only, and an offer whose manifest is
// larger than a public relay's circuit allows (128 KiB): the peers meet
// through the relay, but the manifest must not be cut by its limit; it
// travels once the hole punch has made a direct path.
func TestLabReachLargeManifest(t *testing.T) {
	l := NewLab(t, Config{NATA: NATCone, NATC: NATCone, Nodes: 3})
	ctx := scenarioCtx(t, 120*time.Second)
	boot := reachNet(ctx, t, l, false)
	tr := reachPair(ctx, t, l, boot, manyFiles(3000), 19, false)
	tr.done = tr.recv.MustEvent(ctx, "done", nil)
	tr.recv.MustExit(ctx, 0)
	tr.sender.MustExit(ctx, 0)
	t.Logf("done over %s in %s, %d files", tr.done.Str("path"), tr.done.Str("duration"), tr.done.Int("files"))
	if p := tr.done.Str("path"); p != "direct" {
		t.Errorf("done path %q, want direct (hole punch)", p)
	}
	tr.checkReceived(ctx, t)
}
