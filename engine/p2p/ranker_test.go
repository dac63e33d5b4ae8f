package p2p

import (
	"testing"

	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	ma "github.com/multiformats/go-multiaddr"
)

// pcp leaves libp2p's dial ranker in place because it prefers IPv6 when a
// peer has global addresses of both families (RFC 8305 style): IPv6 is
// dialed first and IPv4 only 250 ms later. This pins that behaviour: a
// change of ranker, or of libp2p's, must not lose it unnoticed.
func TestDialRankerPrefersIPv6(t *testing.T) {
	addrs := []ma.Multiaddr{
		ma.StringCast("/ip4/1.2.3.4/udp/4001/quic-v1"),
		ma.StringCast("/ip4/1.2.3.4/tcp/4001"),
		ma.StringCast("/ip6/2001:4860::1/udp/4001/quic-v1"),
		ma.StringCast("/ip6/2001:4860::1/tcp/4001"),
	}
	ranked := swarm.DefaultDialRanker(addrs)
	if len(ranked) != len(addrs) {
		t.Fatalf("ranked %d of %d addresses", len(ranked), len(addrs))
	}
	first := ranked[0]
	for _, r := range ranked[1:] {
		if r.Delay < first.Delay {
			first = r
		}
	}
	if _, err := first.Addr.ValueForProtocol(ma.P_IP6); err != nil || first.Delay != 0 {
		t.Errorf("first dial %s after %v, want an IPv6 address at once; ranking %v", first.Addr, first.Delay, ranked)
	}
	for _, r := range ranked {
		if _, err := r.Addr.ValueForProtocol(ma.P_IP4); err == nil && r.Delay == 0 {
			t.Errorf("IPv4 %s dialed at once beside IPv6", r.Addr)
		}
	}
}
