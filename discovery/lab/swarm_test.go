package lab

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Swarms (issue 14): one offer, many peers. Every pcp process here runs on
// a public host of the lab's internet segment (one bridge that floods
// multicast), finds the others by mDNS, and authenticates each with PAKE on
// the same words. Uplinks are held to 20 Mbit with tc tbf where the case
// says so; the bytes that crossed a host's link are read from the kernel
// (LinkBytes), not from pcp.

// swarmSend starts a sender on host that serves any number of receivers.
func swarmSend(ctx context.Context, t *testing.T, l *Lab, host, src string) (*Proc, string) {
	t.Helper()
	s, _ := l.StartPCP("sender", host, pcpOpts{}, "send", "--mdns-only", "--keep-serving", filepath.Join(src, "payload"))
	words := passphrase(ctx, t, s)
	s.MustEvent(ctx, "listening", nil)
	return s, words
}

// swarmRecv starts a receiver on host with extra flags (--seed, --no-seed)
// and returns it, its -o directory and its state directory.
func swarmRecv(t *testing.T, l *Lab, label, host, words string, o pcpOpts, extra ...string) (*Proc, string, string) {
	t.Helper()
	out := t.TempDir()
	args := append([]string{"receive", "--mdns-only", "--yes", "-o", out}, extra...)
	p, state := l.StartPCP(label, host, o, append(args, words)...)
	return p, out, state
}

// swarmLab builds a lab of n public hosts, a tree of size bytes under a
// temporary directory, and a sender on p1 behind a 20 Mbit uplink.
func swarmLab(t *testing.T, n int, size int64, seed uint64, d time.Duration) (*Lab, context.Context, string, *Proc, string) {
	t.Helper()
	l := NewLab(t, Config{Nodes: n})
	ctx := scenarioCtx(t, d)
	src := t.TempDir()
	makeTree(t, src, bigTree(size), seed)
	l.SetRate("p1", "20mbit")
	sender, words := swarmSend(ctx, t, l, "p1", src)
	return l, ctx, src, sender, words
}

// seeder starts a receiver on host that seeds after it is done, and
// returns once it has everything.
func seeder(ctx context.Context, t *testing.T, l *Lab, label, host, words string, o pcpOpts) (*Proc, string, Event) {
	t.Helper()
	p, out, _ := swarmRecv(t, l, label, host, words, o, "--seed", "10m")
	return p, out, p.MustEvent(ctx, "done", nil)
}

// sourcesJoined counts the peers a receiver fetched from.
func sourcesJoined(p *Proc) int {
	n := 0
	for _, e := range p.Events("source") {
		if e.Bool("joined") {
			n++
		}
	}
	return n
}

// chunksBySource says how many chunks a receiver got from each peer.
func chunksBySource(p *Proc) string {
	var b strings.Builder
	for _, e := range p.Events("source") {
		if !e.Bool("joined") && e.Str("other_root") == "" {
			peer := e.Str("peer")
			fmt.Fprintf(&b, " %s:%d", peer[max(0, len(peer)-6):], e.Int("chunks"))
		}
	}
	return b.String()
}

// reached returns a match for progress events at or past frac of the total.
func reached(frac float64) func(Event) bool {
	return func(e Event) bool {
		total := e.Int("total_bytes")
		return total > 0 && float64(e.Int("bytes")) >= frac*float64(total)
	}
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// Three sources, each behind a 20 Mbit uplink: the sender and two
// receivers that hold everything and seed. A fourth receiver fetches from
// all three at once, at least 2.5x as fast as the first receiver did from
// the sender alone.
func TestLabSwarmThreeSources(t *testing.T) {
	l, ctx, src, sender, words := swarmLab(t, 4, 32<<20, 21, 4*time.Minute)
	payload := treeSize(t, filepath.Join(src, "payload"))
	// No other holder exists yet: r1 fetches from the sender alone.
	_, out1, d1 := seeder(ctx, t, l, "r1", "p2", words, pcpOpts{})
	_, out2, _ := seeder(ctx, t, l, "r2", "p3", words, pcpOpts{})
	l.SetRate("p2", "20mbit")
	l.SetRate("p3", "20mbit")

	r3, out3, state3 := swarmRecv(t, l, "r3", "p4", words, pcpOpts{}, "--no-seed")
	d3 := r3.MustEvent(ctx, "done", nil)
	r3.MustExit(ctx, 0)
	one, three := d1.Int("transfer_ms"), d3.Int("transfer_ms")
	_, tx1 := l.LinkBytes("p1")
	_, tx2 := l.LinkBytes("p2")
	_, tx3 := l.LinkBytes("p3")
	t.Logf("%s: from one source %d ms, from three %d ms (%.2fx); r3 joined %d sources; uplinks sent p1 %s, p2 %s, p3 %s",
		mib(payload), one, three, float64(one)/float64(max(three, 1)), sourcesJoined(r3), mib(tx1), mib(tx2), mib(tx3))
	for _, e := range r3.Events("source") {
		if e.Bool("joined") {
			t.Logf("r3: source %s joined %v after r3 started", e.Str("peer"), e.At.Sub(r3.Started).Round(time.Millisecond))
		} else {
			t.Logf("r3: source %s delivered %d chunks", e.Str("peer"), e.Int("chunks"))
		}
	}
	if n := sourcesJoined(r3); n < 3 {
		t.Errorf("r3 fetched from %d sources, want 3", n)
	}
	if float64(one) < 2.5*float64(three) {
		t.Errorf("three sources took %d ms against %d ms from one: %.2fx, want at least 2.5x", three, one, float64(one)/float64(three))
	}
	for _, out := range []string{out1, out2, out3} {
		compareTrees(t, filepath.Join(src, "payload"), filepath.Join(out, "payload"))
	}
	pcpVerify(ctx, t, state3, out3)
	sender.Stop()
}

// The sender is killed (SIGKILL) once the receivers still fetching are
// half done. A receiver that holds everything seeds; the others finish
// from it and from each other, identical.
func TestLabSwarmSenderKilled(t *testing.T) {
	l, ctx, src, sender, words := swarmLab(t, 4, 16<<20, 22, 4*time.Minute)
	_, out1, _ := seeder(ctx, t, l, "r1", "p2", words, pcpOpts{})
	l.SetRate("p2", "20mbit") // so that the others are still fetching at 50%

	r2, out2, state2 := swarmRecv(t, l, "r2", "p3", words, pcpOpts{}, "--seed", "10m")
	r3, out3, state3 := swarmRecv(t, l, "r3", "p4", words, pcpOpts{})
	r2.MustEvent(ctx, "progress", reached(0.5))
	r3.MustEvent(ctx, "progress", reached(0.5))
	_, sentBefore := l.LinkBytes("p1")
	sender.Kill()
	t.Logf("sender killed when r2 and r3 were half done; it had sent %s", mib(sentBefore))

	d3 := r3.MustEvent(ctx, "done", nil)
	r3.MustExit(ctx, 0)
	r2.MustEvent(ctx, "done", nil)
	r2.Stop() // it seeds; pcp verify needs its state unlocked
	t.Logf("r3 done in %s, %d sources", d3.Str("duration"), sourcesJoined(r3))
	for _, out := range []string{out1, out2, out3} {
		compareTrees(t, filepath.Join(src, "payload"), filepath.Join(out, "payload"))
	}
	pcpVerify(ctx, t, state2, out2)
	pcpVerify(ctx, t, state3, out3)
}

// One source serves corrupt chunks (a pcplab build's hook: it received
// honestly, then flips a byte of every chunk it serves). A receiver drops
// it, fetches those chunks again from the others, and ends identical.
func TestLabSwarmCorruptSource(t *testing.T) {
	l, ctx, src, sender, words := swarmLab(t, 4, 16<<20, 23, 4*time.Minute)
	seeder(ctx, t, l, "corrupt", "p2", words, pcpOpts{Env: []string{"PCP_LAB_CORRUPT_SEED=1"}})
	seeder(ctx, t, l, "good", "p3", words, pcpOpts{})
	l.SetRate("p3", "20mbit") // the corrupt source, unlimited, is the fastest

	r, out, state := swarmRecv(t, l, "r", "p4", words, pcpOpts{}, "--no-seed")
	d := r.MustEvent(ctx, "done", nil)
	r.MustExit(ctx, 0)
	dropped := 0
	for _, e := range r.Events("source") {
		if e.Str("error") != "" {
			dropped++
			t.Logf("source %s dropped after %d good chunks: %s", e.Str("peer"), e.Int("chunks"), e.Str("error"))
		}
	}
	t.Logf("r: %d sources, %d chunks fetched again, done in %s", sourcesJoined(r), d.Int("chunks_refetched"), d.Str("duration"))
	if dropped != 1 {
		t.Errorf("%d sources dropped, want the corrupt one", dropped)
	}
	if d.Int("chunks_refetched") == 0 {
		t.Error("no chunk was fetched again: the corrupt source was never asked")
	}
	compareTrees(t, filepath.Join(src, "payload"), filepath.Join(out, "payload"))
	pcpVerify(ctx, t, state, out)
	sender.Stop()
}

// One sender behind a 20 Mbit uplink, five receivers, each started once
// the one before is a fifth of the way. Every tree is identical, and the
// sender's uplink carries about twice the data: the receivers serve each
// other (without seeding, each would fetch all of it from the sender:
// five times).
func TestLabSwarmFiveReceivers(t *testing.T) {
	l, ctx, src, sender, words := swarmLab(t, 6, 16<<20, 24, 5*time.Minute)
	payload := treeSize(t, filepath.Join(src, "payload"))
	_, tx0 := l.LinkBytes("p1")

	type rx struct {
		p          *Proc
		out, state string
	}
	var rs []rx
	for i := range 5 {
		p, out, state := swarmRecv(t, l, fmt.Sprintf("r%d", i+1), fmt.Sprintf("p%d", i+2), words, pcpOpts{}, "--seed", "10m")
		rs = append(rs, rx{p, out, state})
		if i < 4 {
			p.MustEvent(ctx, "progress", reached(0.2))
		}
	}
	for _, r := range rs {
		d := r.p.MustEvent(ctx, "done", nil)
		t.Logf("%s: done in %s, %d sources, %s verified; chunks by source%s", r.p.Label, d.Str("duration"), sourcesJoined(r.p), mib(d.Int("fetched_bytes")), chunksBySource(r.p))
	}
	_, tx := l.LinkBytes("p1")
	sent := tx - tx0
	t.Logf("the sender's uplink carried %s for a %s payload and 5 receivers: %.2fx", mib(sent), mib(payload), float64(sent)/float64(payload))
	for _, e := range sender.Events("receiver_done") {
		t.Logf("the sender put %s on the wire for %s", mib(e.Int("wire_bytes")), e.Str("peer"))
	}
	// Issue 14 asks for about 2x. Beside two CPU hogs: 1.44-2.17x in 11
	// runs (median 1.84x). It was 2.2-2.7x before a source's window could
	// fall to one chunk and calls whose chunks came elsewhere were cut,
	// 3.4-3.6x before the scheduler spared the sender, and would be 5x
	// without re-seeding.
	if float64(sent) > 2.5*float64(payload) {
		t.Errorf("the sender's uplink carried %.2fx the payload, want at most about 2x (2.5x)", float64(sent)/float64(payload))
	}
	for _, r := range rs {
		compareTrees(t, filepath.Join(src, "payload"), filepath.Join(r.out, "payload"))
	}
	rs[4].p.Stop() // it seeds; pcp verify needs its state unlocked
	pcpVerify(ctx, t, rs[4].state, rs[4].out)
	sender.Stop()
}
