package discovery

import (
	"context"
	"net"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/pcp-p2p/pcp/engine/p2p"
)

var loopback = []string{"/ip4/127.0.0.1/tcp/0"}

func newHost(t testing.TB) host.Host {
	t.Helper()
	h, err := p2p.NewHost(p2p.HostOptions{ListenAddrs: loopback})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// privateDHT starts n real DHT server nodes on loopback, each bootstrapped
// to the ones before it, and returns their addresses.
func privateDHT(t testing.TB, n int) []peer.AddrInfo {
	_, infos := privateDHTNodes(t, n)
	return infos
}

func privateDHTNodes(t testing.TB, n int) ([]*p2p.Node, []peer.AddrInfo) {
	t.Helper()
	var nodes []*p2p.Node
	var infos []peer.AddrInfo
	for range n {
		node, err := p2p.NewNode(t.Context(), p2p.NodeOptions{ListenAddrs: loopback, Bootstrap: append([]peer.AddrInfo(nil), infos...)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { node.Close() })
		nodes = append(nodes, node)
		infos = append(infos, node.AddrInfo())
	}
	return nodes, infos
}

// first waits for the first candidate from ch or fails at the deadline.
func first(t testing.TB, ch <-chan Candidate, d time.Duration) Candidate {
	t.Helper()
	select {
	case c, ok := <-ch:
		if !ok {
			t.Fatal("candidate channel closed early")
		}
		return c
	case <-time.After(d):
		t.Fatalf("no candidate within %v", d)
	}
	return Candidate{}
}

// TestDHTFindAcrossSlotBoundary: a sender advertises just before a slot
// boundary, a receiver looks just after it, via a private DHT of three real
// nodes and the DHT alone; the candidate is the sender and dialable.
func TestDHTFindAcrossSlotBoundary(t *testing.T) {
	boot := privateDHT(t, 3)
	boundary := time.Unix(1700000100, 0)
	sender, receiver := newHost(t), newHost(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	start := time.Now()
	err := Advertise(ctx, sender, "apple", Options{DHT: true, Bootstrap: boot,
		Clock: func() time.Time { return boundary.Add(-time.Second) }})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := Find(ctx, receiver, "apple", Options{DHT: true, Bootstrap: boot,
		Clock: func() time.Time { return boundary.Add(time.Second) }})
	if err != nil {
		t.Fatal(err)
	}
	c := first(t, ch, 45*time.Second)
	t.Logf("found via %s after %v: %v", c.Source, time.Since(start), c.Info)
	if c.Info.ID != sender.ID() || c.Source != SourceDHT {
		t.Fatalf("candidate %v from %s, want %s via dht", c.Info.ID, c.Source, sender.ID())
	}
	if len(c.Info.Addrs) == 0 {
		t.Fatal("candidate has no addresses")
	}
	// Dialable: a fresh host that knows nothing else connects with them.
	probe := newHost(t)
	if err := probe.Connect(ctx, c.Info); err != nil {
		t.Fatalf("candidate not dialable: %v", err)
	}
	cancel()
	for range ch { // closed once Find's goroutines end
	}
}

func TestDHTSharedPerHost(t *testing.T) {
	h := newHost(t)
	none := []peer.AddrInfo{}
	log := Options{}.withDefaults().Logger
	a, err := acquireDHT(t.Context(), h, none, log)
	if err != nil {
		t.Fatal(err)
	}
	b, err := acquireDHT(t.Context(), h, none, log)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Fatal("two DHT clients for one host")
	}
	a.release()
	registryMu.Lock()
	_, live := registry[h]
	registryMu.Unlock()
	if !live {
		t.Fatal("DHT dropped while still referenced")
	}
	b.release()
	registryMu.Lock()
	_, live = registry[h]
	registryMu.Unlock()
	if live {
		t.Fatal("DHT kept after last release")
	}
}

// TestFindIdleCPU: a receiver whose only bootstrap peer is unreachable must
// back off rather than spin.
func TestFindIdleCPU(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 6 s")
	}
	// An address nobody listens on: a port from a closed listener.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().(*net.TCPAddr)
	l.Close()
	k, _, _ := crypto.GenerateEd25519Key(nil)
	id, _ := peer.IDFromPrivateKey(k)
	boot := []peer.AddrInfo{{ID: id, Addrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/" + strconv.Itoa(dead.Port))}}}

	h := newHost(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ch, err := Find(ctx, h, "apple", Options{DHT: true, Bootstrap: boot})
	if err != nil {
		t.Fatal(err)
	}
	cpu0, wall0 := cpuTime(t), time.Now()
	select {
	case c := <-ch:
		t.Fatalf("candidate from nowhere: %v", c)
	case <-time.After(6 * time.Second):
	}
	cpu, wall := cpuTime(t)-cpu0, time.Since(wall0)
	share := float64(cpu) / float64(wall)
	t.Logf("Find with an unreachable DHT: %v CPU over %v wall (%.1f%%)", cpu, wall.Round(time.Millisecond), 100*share)
	if share > 0.10 {
		t.Fatalf("Find used %.1f%% CPU while idle, want < 10%%", 100*share)
	}
	cancel()
	for range ch {
	}
}

// TestDHTReprovideOnSlotChange: the sender's clock stays in slot N until a
// DHT node holds its provider record for slot N, then moves to slot N+1.
// The receiver's clock is in slot N+2, so it searches N+2 and N+1 only: it
// can find the sender only through the re-provide after the slot change.
func TestDHTReprovideOnSlotChange(t *testing.T) {
	nodes, boot := privateDHTNodes(t, 3)
	boundary := time.Unix(1700000100, 0) // start of slot N+1
	initial := RendezvousKey("pear", boundary.Add(-time.Second), 0)
	var sender host.Host
	var moved atomic.Bool
	senderClock := func() time.Time {
		if !moved.Load() {
			for _, n := range nodes {
				provs, err := n.DHT.ProviderStore().GetProviders(t.Context(), keyCID(initial).Hash())
				if err == nil && slices.ContainsFunc(provs, func(ai peer.AddrInfo) bool { return ai.ID == sender.ID() }) {
					moved.Store(true)
				}
			}
		}
		if moved.Load() {
			return boundary.Add(time.Second)
		}
		return boundary.Add(-time.Second)
	}
	receiverClock := func() time.Time { return boundary.Add(DefaultSlot + time.Second) }
	for _, k := range searchKeys("pear", receiverClock(), DefaultSlot) {
		if k == initial {
			t.Fatal("receiver would search the sender's initial key")
		}
	}
	sender = newHost(t)
	receiver := newHost(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	start := time.Now()
	if err := Advertise(ctx, sender, "pear", Options{DHT: true, Bootstrap: boot, Clock: senderClock}); err != nil {
		t.Fatal(err)
	}
	ch, err := Find(ctx, receiver, "pear", Options{DHT: true, Bootstrap: boot, Clock: receiverClock})
	if err != nil {
		t.Fatal(err)
	}
	c := first(t, ch, 45*time.Second)
	t.Logf("found after %v", time.Since(start))
	if c.Info.ID != sender.ID() {
		t.Fatalf("candidate %v, want %v", c.Info.ID, sender.ID())
	}
	if !moved.Load() {
		t.Fatal("found before the slot-N record landed")
	}
}
