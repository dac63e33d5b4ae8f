package p2p

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	ma "github.com/multiformats/go-multiaddr"
)

func addrs(ss ...string) []ma.Multiaddr {
	out := make([]ma.Multiaddr, len(ss))
	for i, s := range ss {
		out[i] = ma.StringCast(s)
	}
	return out
}

// delays maps each ranked address to its delay, failing on a lost or
// repeated address.
func delays(t *testing.T, in []ma.Multiaddr, ranked []network.AddrDelay) map[string]time.Duration {
	t.Helper()
	if len(ranked) != len(in) {
		t.Fatalf("ranked %d of %d addresses: %v", len(ranked), len(in), ranked)
	}
	m := map[string]time.Duration{}
	for _, r := range ranked {
		if _, dup := m[r.Addr.String()]; dup {
			t.Fatalf("%s ranked twice", r.Addr)
		}
		m[r.Addr.String()] = r.Delay
	}
	return m
}

// pcp's ranker dials TCP before QUIC (bulk data is 3x cheaper over TCP),
// and keeps libp2p's IPv6-first happy eyeballs within each transport.
func TestDialRankerOrder(t *testing.T) {
	const step, pub = swarm.PrivateTCPDelay, swarm.PublicTCPDelay
	cases := []struct {
		name string
		in   []string
		want map[string]time.Duration
	}{
		{"loopback tcp and quic", []string{
			"/ip4/127.0.0.1/udp/4001/quic-v1", "/ip4/127.0.0.1/tcp/4002",
		}, map[string]time.Duration{
			"/ip4/127.0.0.1/tcp/4002": 0, "/ip4/127.0.0.1/udp/4001/quic-v1": step,
		}},
		{"lan both families", []string{
			"/ip4/192.168.1.2/udp/4001/quic-v1", "/ip6/fd00::2/udp/4001/quic-v1",
			"/ip4/192.168.1.2/tcp/4001", "/ip6/fd00::2/tcp/4001",
		}, map[string]time.Duration{
			"/ip6/fd00::2/tcp/4001": 0, "/ip4/192.168.1.2/tcp/4001": step,
			"/ip6/fd00::2/udp/4001/quic-v1": 2 * step, "/ip4/192.168.1.2/udp/4001/quic-v1": 3 * step,
		}},
		{"public both families", []string{
			"/ip4/1.2.3.4/udp/4001/quic-v1", "/ip4/1.2.3.4/tcp/4001",
			"/ip6/2001:4860::1/udp/4001/quic-v1", "/ip6/2001:4860::1/tcp/4001",
		}, map[string]time.Duration{
			"/ip6/2001:4860::1/tcp/4001": 0, "/ip4/1.2.3.4/tcp/4001": pub,
			"/ip6/2001:4860::1/udp/4001/quic-v1": 2 * pub, "/ip4/1.2.3.4/udp/4001/quic-v1": 3 * pub,
		}},
		{"lowest port first, rest after the second", []string{
			"/ip4/1.2.3.4/tcp/9000", "/ip4/1.2.3.4/tcp/10", "/ip4/1.2.3.4/tcp/500",
		}, map[string]time.Duration{
			"/ip4/1.2.3.4/tcp/10": 0, "/ip4/1.2.3.4/tcp/500": pub, "/ip4/1.2.3.4/tcp/9000": pub,
		}},
		{"quic alone is dialed at once", []string{"/ip4/1.2.3.4/udp/4001/quic-v1"},
			map[string]time.Duration{"/ip4/1.2.3.4/udp/4001/quic-v1": 0}},
		{"relay after public", []string{
			"/ip4/1.2.3.4/tcp/4001", "/ip4/5.6.7.8/tcp/4001/p2p/12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf/p2p-circuit",
		}, map[string]time.Duration{
			"/ip4/1.2.3.4/tcp/4001": 0,
			"/ip4/5.6.7.8/tcp/4001/p2p/12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf/p2p-circuit": swarm.RelayDelay,
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := addrs(c.in...)
			got := delays(t, in, DialRanker(in))
			for a, d := range c.want {
				if got[a] != d {
					t.Errorf("%s at %v, want %v; ranking %v", a, got[a], d, got)
				}
			}
		})
	}
}

// A simultaneous connect (hole punch) must still dial QUIC at once: the
// swarm uses NoDelayDialRanker for it, whatever ranker the host sets.
func TestHolePunchDialsAllAtOnce(t *testing.T) {
	in := addrs("/ip4/1.2.3.4/udp/4001/quic-v1", "/ip4/1.2.3.4/tcp/4001")
	for _, r := range swarm.NoDelayDialRanker(in) {
		if r.Delay != 0 {
			t.Errorf("%s delayed %v in a simultaneous connect", r.Addr, r.Delay)
		}
	}
}

// Two real hosts listening on TCP and QUIC: an ordinary dial, given both
// addresses, ends up on TCP, and TransportOf says so.
func TestHostDialsTCPFirst(t *testing.T) {
	both := HostOptions{ListenAddrs: []string{"/ip4/127.0.0.1/udp/0/quic-v1", "/ip4/127.0.0.1/tcp/0"}}
	a := newTestHost(t, both)
	b := newTestHost(t, both)
	var tcp, quic bool
	for _, m := range b.Addrs() {
		tcp = tcp || isTCPAddr(m)
		quic = quic || isQUICAddr(m)
	}
	if !tcp || !quic {
		t.Fatalf("b listens on %v, want TCP and QUIC", b.Addrs())
	}
	if got := TransportOf(a, b.ID()); got != "" {
		t.Fatalf("before connect: %q", got)
	}
	if err := a.Connect(t.Context(), addrInfo(b)); err != nil {
		t.Fatal(err)
	}
	for _, c := range a.Network().ConnsToPeer(b.ID()) {
		if ConnTransport(c) != TransportTCP {
			t.Errorf("connection over %s, want only TCP", c.RemoteMultiaddr())
		}
	}
	if got := TransportOf(a, b.ID()); got != TransportTCP {
		t.Errorf("TransportOf = %q, want tcp", got)
	}
}
