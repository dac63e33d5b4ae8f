package lab

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// smallTree is a few MiB of nested files.
var smallTree = map[string]int64{
	"payload/top.bin":             1<<20 + 17,
	"payload/docs/readme.txt":     10 << 10,
	"payload/docs/empty.bin":      0,
	"payload/data/a/b/deep.bin":   2<<20 + 5,
	"payload/data/c.bin":          700 << 10,
	"payload/data/a/notes.txt":    3 << 10,
	"payload/data/a/b/c/tiny.bin": 1,
}

// transfer is one sender/receiver pair's outcome.
type transfer struct {
	src, out      string // the sent tree's parent, the receiver's -o
	sender, recv  *Proc
	recvState     string
	words         string
	done          Event // the receiver's done event
	peer          Event // the receiver's first peer event
	authenticated Event
}

// checkReceived compares the trees and runs pcp verify.
func (tr *transfer) checkReceived(ctx context.Context, t *testing.T) {
	t.Helper()
	compareTrees(t, filepath.Join(tr.src, "payload"), filepath.Join(tr.out, "payload"))
	pcpVerify(ctx, t, tr.recvState, tr.out)
	if got, want := tr.done.Int("manifest_bytes"), treeSize(t, filepath.Join(tr.src, "payload")); got != want {
		t.Errorf("done manifest_bytes = %d, want %d", got, want)
	}
}

// 1. LAN: two hosts on one bridge find each other by mDNS within 1 s and
// transfer a directory.
func TestLabLAN(t *testing.T) {
	l := NewLab(t, Config{})
	ctx := scenarioCtx(t, 90*time.Second)
	src, out := t.TempDir(), t.TempDir()
	makeTree(t, src, smallTree, 1)

	sender, _ := l.StartPCP("sender", "a", pcpOpts{}, "send", "--mdns-only", filepath.Join(src, "payload"))
	words := passphrase(ctx, t, sender)
	sender.MustEvent(ctx, "listening", nil)
	recv, recvState := l.StartPCP("receiver", "b", pcpOpts{}, "receive", "--mdns-only", "--yes", "-o", out, words)

	peer := recv.MustEvent(ctx, "peer", nil)
	if src := peer.Str("source"); src != "mdns" {
		t.Errorf("peer found via %q, want mdns: %s", src, peer.Line)
	}
	found := peer.At.Sub(recv.Started)
	t.Logf("mDNS found the sender %v after the receiver started", found.Round(time.Millisecond))
	if found > time.Second {
		t.Errorf("mDNS took %v from the receiver's start, want < 1 s", found)
	}
	done := recv.MustEvent(ctx, "done", nil)
	recv.MustExit(ctx, 0)
	sender.MustExit(ctx, 0)
	if p := done.Str("path"); p != "direct" {
		t.Errorf("LAN transfer path %q, want direct", p)
	}
	tr := &transfer{src: src, out: out, recvState: recvState, done: done}
	tr.checkReceived(ctx, t)
	_ = words
}

// 2. Private DHT: three pcp nodes form a DHT on the internet segment; a
// sender and a receiver on two routed subnets find each other through it
// alone. The sender knows only p2 and the receiver only p3 (both joined
// through p1), so the provider record has to cross the DHT.
func TestLabPrivateDHT(t *testing.T) {
	l := NewLab(t, Config{NATA: NATNone, NATC: NATNone, Nodes: 3})
	ctx := scenarioCtx(t, 120*time.Second)
	src, out := t.TempDir(), t.TempDir()
	makeTree(t, src, smallTree, 2)

	_, boot := l.StartNode(ctx, "p1", pcpOpts{})
	_, a2 := l.StartNode(ctx, "p2", pcpOpts{}, boot...)
	_, a3 := l.StartNode(ctx, "p3", pcpOpts{}, boot...)

	sender, _ := l.StartPCP("sender", "a", pcpOpts{},
		append(append([]string{"send", "--dht-only"}, flagEach("--bootstrap", a2)...), filepath.Join(src, "payload"))...)
	words := passphrase(ctx, t, sender)
	sender.MustEvent(ctx, "listening", nil)
	recv, recvState := l.StartPCP("receiver", "c", pcpOpts{},
		append(append([]string{"receive", "--dht-only", "--yes", "-o", out}, flagEach("--bootstrap", a3)...), words)...)

	peer := recv.MustEvent(ctx, "peer", nil)
	if src := peer.Str("source"); src != "dht" {
		t.Errorf("peer found via %q, want dht: %s", src, peer.Line)
	}
	t.Logf("DHT found the sender %v after the receiver started", peer.At.Sub(recv.Started).Round(time.Millisecond))
	done := recv.MustEvent(ctx, "done", nil)
	recv.MustExit(ctx, 0)
	sender.MustExit(ctx, 0)
	if p := done.Str("path"); p != "direct" {
		t.Errorf("routed transfer path %q, want direct", p)
	}
	tr := &transfer{src: src, out: out, recvState: recvState, done: done}
	tr.checkReceived(ctx, t)
}

// relayTree is the payload for the rate-limited relay and hole-punch
// scenarios.
func bigTree(total int64) map[string]int64 {
	return map[string]int64{
		"payload/big.bin":        total - 1<<20 - 4<<10,
		"payload/sub/second.bin": 1 << 20,
		"payload/sub/notes.txt":  4 << 10,
	}
}

// natPair starts a relay node on p1, a sender on a and a receiver on c,
// both using p1 as DHT bootstrap and relay, with the internet segment
// public (PCP_LAB_PUBLIC_CIDR), and returns once the receiver has exited.
func natPair(ctx context.Context, t *testing.T, l *Lab, payload map[string]int64, seed uint64) *transfer {
	t.Helper()
	return natPairWith(ctx, t, l, payload, seed, viaRelay)
}

// natPairWith is natPair with each side's network flags (besides --dht-only)
// made from the node's addresses by netArgs.
func natPairWith(ctx context.Context, t *testing.T, l *Lab, payload map[string]int64, seed uint64,
	netArgs func(node []string) (send, recv []string)) *transfer {
	t.Helper()
	tr := startNatPair(ctx, t, l, payload, seed, netArgs)
	tr.peer = tr.recv.MustEvent(ctx, "peer", nil)
	tr.authenticated = tr.recv.MustEvent(ctx, "authenticated", nil)
	tr.done = tr.recv.MustEvent(ctx, "done", nil)
	tr.recv.MustExit(ctx, 0)
	tr.sender.MustExit(ctx, 0)
	t.Logf("receiver: peer via %s after %v, authenticated over %s, done over %s in %s",
		tr.peer.Str("source"), tr.peer.At.Sub(tr.recv.Started).Round(time.Millisecond),
		tr.authenticated.Str("path"), tr.done.Str("path"), tr.done.Str("duration"))
	return tr
}

// startNatPair starts the node on p1, the sender on a and, once the sender
// listens, the receiver on c; it returns without waiting for the transfer.
func startNatPair(ctx context.Context, t *testing.T, l *Lab, payload map[string]int64, seed uint64,
	netArgs func(node []string) (send, recv []string)) *transfer {
	t.Helper()
	pub := pcpOpts{PublicCIDR: LabInternet}
	src, out := t.TempDir(), t.TempDir()
	makeTree(t, src, payload, seed)
	_, node := l.StartNode(ctx, "p1", pub)
	sendNet, recvNet := netArgs(node)
	sendNet = append(sendNet, "--dht-only")
	recvNet = append(recvNet, "--dht-only")

	sender, _ := l.StartPCP("sender", "a", pub, append(append([]string{"send"}, sendNet...), filepath.Join(src, "payload"))...)
	words := passphrase(ctx, t, sender)
	sender.MustEvent(ctx, "listening", nil)
	recv, recvState := l.StartPCP("receiver", "c", pub,
		append(append([]string{"receive", "--yes", "-o", out}, recvNet...), words)...)
	return &transfer{src: src, out: out, sender: sender, recv: recv, recvState: recvState, words: words}
}

// viaRelay is the usual netArgs: p1 as DHT bootstrap and as relay.
func viaRelay(node []string) (send, recv []string) {
	args := append(flagEach("--bootstrap", node), flagEach("--relay", node[:1])...)
	return args, args
}

// 3. Relay: the receiver is behind a symmetric NAT, the sender behind a
// cone NAT, so no hole punch can work; the transfer goes through the pcp
// node relay at 20 Mbit.
func TestLabRelay(t *testing.T) {
	l := NewLab(t, Config{NATA: NATCone, NATC: NATSymmetric, Nodes: 1})
	l.SetRate("a", "20mbit")
	l.SetRate("c", "20mbit")
	ctx := scenarioCtx(t, 120*time.Second)
	tr := natPair(ctx, t, l, bigTree(8<<20), 3)

	if p := tr.authenticated.Str("path"); p != "relayed" {
		t.Errorf("authenticated over %q, want relayed", p)
	}
	if p := tr.done.Str("path"); p != "relayed" {
		t.Errorf("done path %q, want relayed", p)
	}
	for path, n := range bytesByPath(tr.recv.Events("progress")) {
		if path != "relayed" {
			t.Errorf("%d bytes reported over path %q, want all relayed", n, path)
		}
	}
	// The relay must really have carried the data, both ways through p1.
	rx, tx := l.LinkBytes("p1")
	t.Logf("relay p1 link: rx %d, tx %d bytes", rx, tx)
	if total := tr.done.Int("manifest_bytes"); rx < total || tx < total {
		t.Errorf("relay p1 carried rx %d / tx %d bytes, less than the %d-byte payload", rx, tx, total)
	}
	tr.checkReceived(ctx, t)
	// 8 MiB is 67 Mbit: at least 3.4 s at 20 Mbit.
	if d := tr.done.At.Sub(tr.authenticated.At); d < 2500*time.Millisecond {
		t.Errorf("8 MiB at 20 Mbit took only %v: the rate limit did not apply", d)
	} else {
		t.Logf("8 MiB relayed in %v (authenticated to done)", d.Round(time.Millisecond))
	}
}

// 4. Hole punching: both peers behind cone NATs, with a relay. The
// connection starts relayed and DCUtR upgrades it to direct; the data must
// mostly travel direct. The relay's link is limited to 20 Mbit, so the
// relayed path is slow and the upgrade shows in the progress events.
func TestLabHolePunch(t *testing.T) {
	l := NewLab(t, Config{NATA: NATCone, NATC: NATCone, Nodes: 1})
	// 48 MiB over the relay would take 40 s: on a busy machine the first
	// punch can miss, and the sender's retry still lands early enough.
	l.SetRate("p1", "10mbit")
	ctx := scenarioCtx(t, 120*time.Second)
	tr := natPair(ctx, t, l, bigTree(48<<20), 4)

	// The first connection is relayed: no direct dial passes two NATs that
	// drop unsolicited inbound traffic (TestLabSelf proves the NATs do).
	// Whether PAKE runs before or after DCUtR upgrades it is a race that
	// either side may win on a busy machine, so it is only logged: a
	// direct path here is a hole-punched one either way.
	t.Logf("authenticated over %q", tr.authenticated.Str("path"))
	if p := tr.done.Str("path"); p != "direct" {
		t.Errorf("done path %q, want direct (hole punch)", p)
	}
	by := bytesByPath(tr.recv.Events("progress"))
	t.Logf("bytes by path (from progress events): %v", by)
	total := tr.done.Int("manifest_bytes")
	if by["direct"] < total/2 {
		t.Errorf("only %d of %d bytes reported direct", by["direct"], total)
	}
	// What pcp reports is not proof: count what crossed the relay's link.
	// Data that went direct never touched p1.
	rx, tx := l.LinkBytes("p1")
	t.Logf("relay p1 link: rx %d, tx %d bytes (payload %d)", rx, tx, total)
	if rx > total/2 || tx > total/2 {
		t.Errorf("the relay carried rx %d / tx %d bytes of a %d-byte payload: the data did not go direct", rx, tx, total)
	}
	tr.checkReceived(ctx, t)
}

// 4b. Hole punching when each peer reached the relay over a different
// transport: the sender over TCP only, the receiver over QUIC only. Each
// side's NAT mapping was observed for one transport alone, so without pcp's
// guess of the other transport's mapping (engine/p2p/punchaddrs.go) the
// sender dials QUIC, the receiver dials TCP, and every punch misses.
func TestLabHolePunchCrossTransport(t *testing.T) {
	l := NewLab(t, Config{NATA: NATCone, NATC: NATCone, Nodes: 1})
	l.SetRate("p1", "10mbit") // the transfer outlasts a retried punch
	ctx := scenarioCtx(t, 120*time.Second)
	tr := natPairWith(ctx, t, l, bigTree(48<<20), 6, func(node []string) (send, recv []string) {
		tcp, quic := addrWith(t, node, "/tcp/"), addrWith(t, node, "/quic-v1/")
		return []string{"--bootstrap", tcp, "--relay", tcp}, []string{"--bootstrap", quic, "--relay", quic}
	})
	t.Logf("authenticated over %q", tr.authenticated.Str("path"))
	// Without the guess no punch ever succeeds, however often it is tried.
	punches := tr.sender.Events("hole_punch")
	direct := 0
	for _, e := range punches {
		if e.Bool("direct") {
			direct++
		}
	}
	t.Logf("sender: %d punches, %d direct", len(punches), direct)
	if direct == 0 {
		t.Errorf("no punch made a direct connection across transports")
	}
	if p := tr.done.Str("path"); p != "direct" {
		t.Errorf("done path %q, want direct (hole punch across transports)", p)
	}
	rx, tx := l.LinkBytes("p1")
	t.Logf("relay p1 link: rx %d, tx %d bytes (payload %d); bytes by path %v", rx, tx, tr.done.Int("manifest_bytes"),
		bytesByPath(tr.recv.Events("progress")))
	tr.checkReceived(ctx, t)
}

// 4c. A hole punch that misses at first is tried again while the transfer
// runs relayed. Until the sender has reported three missed punches (all of
// libp2p's own attempts), c drops whatever it sends to a's router, so no
// punch can work; then the block goes. Only pcp's own retry
// (engine/p2p.Upgrade) can still move the transfer to a direct path.
func TestLabHolePunchRetry(t *testing.T) {
	l := NewLab(t, Config{NATA: NATCone, NATC: NATCone, Nodes: 1})
	l.SetRate("p1", "10mbit") // 160 MiB relayed would take 134 s
	l.Block("c", l.IP("ra"))
	ctx := scenarioCtx(t, 240*time.Second)
	tr := startNatPair(ctx, t, l, bigTree(160<<20), 7, viaRelay)
	sender, recv := tr.sender, tr.recv
	tr.authenticated = recv.MustEvent(ctx, "authenticated", nil)

	missed := 0
	sender.MustEvent(ctx, "hole_punch", func(e Event) bool {
		if e.Bool("direct") {
			t.Fatalf("a punch succeeded while c was blocked: %s", e.Line)
		}
		missed++
		return missed == 3
	})
	l.Unblock("c")
	t.Logf("sender reported %d missed punches; unblocked", missed)
	punched := sender.MustEvent(ctx, "hole_punch", func(e Event) bool { return e.Bool("direct") })
	tr.done = recv.MustEvent(ctx, "done", nil)
	recv.MustExit(ctx, 0)
	sender.MustExit(ctx, 0)
	t.Logf("direct %v after authentication; done over %s in %s", punched.At.Sub(tr.authenticated.At).Round(time.Millisecond),
		tr.done.Str("path"), tr.done.Str("duration"))
	if p := tr.done.Str("path"); p != "direct" {
		t.Errorf("done path %q, want direct (hole punch retried)", p)
	}
	total := tr.done.Int("manifest_bytes")
	by := bytesByPath(recv.Events("progress"))
	t.Logf("bytes by path (from progress events): %v", by)
	if by["direct"] == 0 {
		t.Errorf("no bytes reported direct")
	}
	// Without the retry every byte crosses the relay's link. When the retry
	// lands depends on the machine's load; that it lands does not.
	rx, tx := l.LinkBytes("p1")
	t.Logf("relay p1 link: rx %d, tx %d bytes (payload %d)", rx, tx, total)
	if rx >= total || tx >= total {
		t.Errorf("the relay carried rx %d / tx %d bytes of a %d-byte payload: the data did not move to the punched path", rx, tx, total)
	}
	tr.checkReceived(ctx, t)
}

// addrWith returns the first address in addrs that contains part.
func addrWith(t *testing.T, addrs []string, part string) string {
	t.Helper()
	for _, a := range addrs {
		if strings.Contains(a, part) {
			return a
		}
	}
	t.Fatalf("no address with %q in %v", part, addrs)
	return ""
}

// linkDropSetup starts a 40 MiB mDNS transfer from a to b over a 20 Mbit
// link (about 17 s), and returns once the receiver has verified 8 MiB.
func linkDropSetup(ctx context.Context, t *testing.T, l *Lab, recvArgs ...string) *transfer {
	t.Helper()
	l.SetRate("b", "20mbit")
	src, out := t.TempDir(), t.TempDir()
	makeTree(t, src, bigTree(40<<20), 5)
	sender, _ := l.StartPCP("sender", "a", pcpOpts{}, "send", "--mdns-only", filepath.Join(src, "payload"))
	words := passphrase(ctx, t, sender)
	sender.MustEvent(ctx, "listening", nil)
	args := append([]string{"receive", "--mdns-only", "--yes", "-o", out}, recvArgs...)
	recv, recvState := l.StartPCP("receiver", "b", pcpOpts{}, append(args, words)...)
	tr := &transfer{src: src, out: out, sender: sender, recv: recv, recvState: recvState, words: words}
	ev := recv.MustEvent(ctx, "progress", func(e Event) bool { return e.Int("bytes") >= 8<<20 })
	t.Logf("receiver at %d of %d bytes: pulling b's cable", ev.Int("bytes"), ev.Int("total_bytes"))
	return tr
}

// 5a. A 5 s link drop mid-transfer: the transfer continues in the same
// session (reconnects allowed) and ends verified.
func TestLabLinkDrop5s(t *testing.T) {
	l := NewLab(t, Config{})
	ctx := scenarioCtx(t, 120*time.Second)
	tr := linkDropSetup(ctx, t, l)
	l.LinkDown("b")
	downAt := time.Now()
	select {
	case <-time.After(5 * time.Second): // the drop's duration itself
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	l.LinkUp("b")
	if tr.recv.Exited() {
		t.Fatalf("receiver gave up during a 5 s drop")
	}
	tr.done = tr.recv.MustEvent(ctx, "done", nil)
	tr.recv.MustExit(ctx, 0)
	tr.sender.MustExit(ctx, 0)
	t.Logf("done %v after the drop began: reconnects %d, fetched %d, wire %d",
		tr.done.At.Sub(downAt).Round(time.Millisecond), tr.done.Int("reconnects"),
		tr.done.Int("fetched_bytes"), tr.done.Int("wire_bytes"))
	if n := len(tr.recv.Events("resumed")); n != 0 {
		t.Errorf("the same session reported %d resumed events", n)
	}
	tr.checkReceived(ctx, t)
}

// 5b. A 60 s link drop mid-transfer. The receiver (patience 20 s) either
// continues, or gives up with exit 5 and a re-run resumes, fetching only
// the missing chunks.
func TestLabLinkDrop60s(t *testing.T) {
	l := NewLab(t, Config{})
	ctx := scenarioCtx(t, 240*time.Second)
	tr := linkDropSetup(ctx, t, l, "--patience", "20s")
	l.LinkDown("b")
	downAt := time.Now()
	up := time.After(60 * time.Second) // the drop's duration itself
	recvExit := make(chan int, 1)
	go func() {
		code, _ := tr.recv.Wait(ctx)
		recvExit <- code
	}()
	gaveUp := -1
	for waiting := true; waiting; {
		select {
		case <-up:
			waiting = false
		case code := <-recvExit:
			t.Logf("receiver exited with %d after %v of link down", code, time.Since(downAt).Round(time.Millisecond))
			if code != 5 {
				t.Fatalf("receiver exited with %d during the drop, want 5 (interrupted, resumable)", code)
			}
			gaveUp = code
			recvExit = nil
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
	l.LinkUp("b")
	if gaveUp < 0 {
		// Still running at link-up: it either finishes in the same session,
		// or its patience (already running) ends now and it exits 5.
		select {
		case gaveUp = <-recvExit:
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
		t.Logf("receiver exited with %d, %v after the drop began", gaveUp, time.Since(downAt).Round(time.Millisecond))
		switch gaveUp {
		case 0:
			tr.done = tr.recv.MustEvent(ctx, "done", nil)
			tr.sender.MustExit(ctx, 0)
			t.Logf("the receiver continued in the same session: reconnects %d", tr.done.Int("reconnects"))
			tr.checkReceived(ctx, t)
			return
		case 5:
		default:
			t.Fatalf("receiver exited with %d, want 0 (continued) or 5 (interrupted, resumable)", gaveUp)
		}
	}
	first := tr.recv
	if len(first.Events("error")) == 0 {
		t.Errorf("receiver exited 5 without an error event")
	}
	// Re-run: with the sender still serving, else restarted on the same words.
	if tr.sender.Exited() {
		code, _ := tr.sender.Wait(ctx)
		t.Logf("sender exited with %d during the drop; restarting it with --passphrase", code)
		tr.sender, _ = l.StartPCP("sender2", "a", pcpOpts{}, "send", "--mdns-only", "--passphrase", tr.words, filepath.Join(tr.src, "payload"))
		tr.sender.MustEvent(ctx, "listening", nil)
	}
	recv2, _ := l.StartPCP("receiver2", "b", pcpOpts{StateDir: tr.recvState},
		"receive", "--mdns-only", "--yes", "-o", tr.out, "--patience", "20s", tr.words)
	tr.recv = recv2
	resumed := recv2.MustEvent(ctx, "resumed", nil)
	tr.done = recv2.MustEvent(ctx, "done", nil)
	recv2.MustExit(ctx, 0)
	tr.sender.MustExit(ctx, 0)
	total, fetched, skipped := tr.done.Int("manifest_bytes"), tr.done.Int("fetched_bytes"), tr.done.Int("skipped_bytes")
	t.Logf("re-run: resumed %s; done: total %d, skipped %d, fetched %d, wire %d", resumed.Line, total, skipped, fetched, tr.done.Int("wire_bytes"))
	if skipped < 8<<20 {
		t.Errorf("re-run skipped %d bytes, want at least the 8 MiB verified before the drop", skipped)
	}
	if fetched > total-skipped {
		t.Errorf("re-run fetched %d bytes, more than the %d missing (total %d - skipped %d)", fetched, total-skipped, total, skipped)
	}
	if fetched+skipped != total {
		t.Errorf("re-run: fetched %d + skipped %d != total %d", fetched, skipped, total)
	}
	tr.checkReceived(ctx, t)
}
