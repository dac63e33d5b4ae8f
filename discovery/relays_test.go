package discovery

import (
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/pcp-p2p/pcp/engine/p2p"
)

// relayNodes starts a private DHT of real nodes on loopback; the ones whose
// index is in transfer are transfer-grade and provide RelayKey, the others
// have public-like limits.
func relayNodes(t *testing.T, n int, transfer map[int]bool) ([]*p2p.Node, []peer.AddrInfo) {
	t.Helper()
	var nodes []*p2p.Node
	var infos []peer.AddrInfo
	for i := range n {
		node, err := p2p.NewNode(t.Context(), p2p.NodeOptions{ListenAddrs: loopback,
			Bootstrap: append([]peer.AddrInfo(nil), infos...), PublicLimits: !transfer[i]})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { node.Close() })
		if transfer[i] {
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); AdvertiseRelay(ctx, node.DHT, nil, nil) }()
			t.Cleanup(func() { cancel(); <-done })
		}
		nodes = append(nodes, node)
		infos = append(infos, node.AddrInfo())
	}
	return nodes, infos
}

func collect(ch <-chan peer.AddrInfo) []peer.ID {
	var out []peer.ID
	for ai := range ch {
		out = append(out, ai.ID)
	}
	return out
}

// A transfer-grade node in the DHT is found under RelayKey, and it alone is
// yielded: public-like relays are left out when one exists.
func TestFindRelaysTransferGrade(t *testing.T) {
	nodes, infos := relayNodes(t, 4, map[int]bool{2: true})
	h := newHost(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Until the node's provide has landed, the fallback (every
	// relay-capable peer, this one among them) is the right answer, and
	// autorelay asks again. Once it is found under RelayKey it must come
	// alone: the fallback would always add the three others.
	tg := nodes[2].Host.ID()
	for {
		got := collect(FindRelays(ctx, h, Options{DHT: true, Bootstrap: infos[:1]}, 4))
		if len(got) == 1 && got[0] == tg {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("the transfer-grade relay never came alone: last %v (want [%s])", got, tg)
		}
	}
}

// With no transfer-grade node, FindRelays yields relay-capable peers of the
// routing table (here: the public-like nodes).
func TestFindRelaysFallsBackToDHTPeers(t *testing.T) {
	nodes, infos := relayNodes(t, 3, nil)
	h := newHost(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got := collect(FindRelays(ctx, h, Options{DHT: true, Bootstrap: infos}, 2))
	if len(got) == 0 || len(got) > 2 {
		t.Fatalf("FindRelays yielded %v, want 1 or 2 of the nodes", got)
	}
	for _, id := range got {
		found := false
		for _, n := range nodes {
			found = found || n.Host.ID() == id
		}
		if !found {
			t.Errorf("yielded %s, not one of the nodes", id)
		}
	}
}
