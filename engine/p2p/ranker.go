package p2p

import (
	"cmp"
	"slices"
	"strconv"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// DialRanker orders a peer's addresses for an ordinary dial: TCP first, and
// QUIC only if TCP has not connected after a short delay. libp2p's
// DefaultDialRanker does the reverse, and a connection over QUIC costs
// three times the CPU of TCP+TLS and caps at about 500 MB/s where TCP
// carries 1.3 GB/s (PERF.md); the first connection is the one data
// streams use.
//
// Otherwise it ranks as libp2p does: private and public addresses are
// dialed in parallel, relay addresses 500 ms after any public one; within
// a transport, IPv6 comes first and the first IPv4 address one step later
// (RFC 8305), lowest port first. A step is 30 ms on private addresses and
// 250 ms on public ones; QUIC starts one step after the last TCP dial.
//
// Hole punching is not affected: a simultaneous connect (DCUtR) dials
// every address at once with NoDelayDialRanker, so a punched connection is
// usually QUIC, which gets through NATs better.
func DialRanker(addrs []ma.Multiaddr) []network.AddrDelay {
	relay, addrs := partition(addrs, isRelayAddr)
	private, addrs := partition(addrs, manet.IsPrivateAddr)
	public, other := partition(addrs, isIPAddr)
	var relayOffset time.Duration
	if len(public) > 0 {
		relayOffset = swarm.RelayDelay
	}
	res := make([]network.AddrDelay, 0, len(relay)+len(private)+len(public)+len(other))
	res = rankGroup(res, private, swarm.PrivateTCPDelay, swarm.PrivateOtherDelay, 0)
	res = rankGroup(res, public, swarm.PublicTCPDelay, swarm.PublicOtherDelay, 0)
	res = rankGroup(res, relay, swarm.PublicTCPDelay, swarm.PublicOtherDelay, relayOffset)
	var last time.Duration
	for _, r := range res {
		last = max(last, r.Delay)
	}
	for _, a := range other {
		res = append(res, network.AddrDelay{Addr: a, Delay: last + swarm.PublicOtherDelay})
	}
	return res
}

// rankGroup appends addrs to res: TCP from offset, QUIC one step after the
// last TCP dial, anything else otherDelay after the last of those.
func rankGroup(res []network.AddrDelay, addrs []ma.Multiaddr, step, otherDelay, offset time.Duration) []network.AddrDelay {
	tcp, addrs := partition(addrs, isTCPAddr)
	quic, rest := partition(addrs, isQUICAddr)
	at := offset
	if len(tcp) > 0 {
		res, at = happyEyeballs(res, tcp, at, step)
		at += step
	}
	if len(quic) > 0 {
		res, at = happyEyeballs(res, quic, at, step)
	}
	for _, a := range rest {
		res = append(res, network.AddrDelay{Addr: a, Delay: at + otherDelay})
	}
	return res
}

// happyEyeballs appends addrs (one transport) from start: the lowest-port
// IPv6 address at once, the lowest-port IPv4 address one step later, the
// rest one step after that. It returns res and the last delay used.
func happyEyeballs(res []network.AddrDelay, addrs []ma.Multiaddr, start, step time.Duration) ([]network.AddrDelay, time.Duration) {
	slices.SortStableFunc(addrs, func(a, b ma.Multiaddr) int {
		if c := cmp.Compare(ipVersion(b), ipVersion(a)); c != 0 { // IPv6 first
			return c
		}
		return cmp.Compare(port(a), port(b))
	})
	both := ipVersion(addrs[0]) == 6 && ipVersion(addrs[len(addrs)-1]) == 4
	if both {
		i := slices.IndexFunc(addrs, func(a ma.Multiaddr) bool { return ipVersion(a) == 4 })
		v4 := addrs[i]
		copy(addrs[2:i+1], addrs[1:i])
		addrs[1] = v4
	}
	last := start
	for i, a := range addrs {
		d := start
		switch {
		case i == 1:
			d += step
		case i > 1 && both:
			d += 2 * step
		case i > 1:
			d += step
		}
		last = d
		res = append(res, network.AddrDelay{Addr: a, Delay: d})
	}
	return res, last
}

// Transport names reported by TransportOf.
const (
	TransportTCP  = "tcp"
	TransportQUIC = "quic"
)

// TransportOf names the transport of the direct connection to p that
// libp2p opens new streams on (of several, the one with most streams):
// TransportTCP, TransportQUIC, or "" when every connection is relayed or
// there is none.
func TransportOf(h host.Host, p peer.ID) string {
	var best network.Conn
	for _, c := range h.Network().ConnsToPeer(p) {
		if IsRelayed(c) {
			continue
		}
		if best == nil || c.Stat().NumStreams >= best.Stat().NumStreams {
			best = c
		}
	}
	if best == nil {
		return ""
	}
	return ConnTransport(best)
}

// ConnTransport names c's transport: TransportTCP, TransportQUIC, or "" for
// a relayed or other connection.
func ConnTransport(c network.Conn) string {
	a := c.RemoteMultiaddr()
	switch {
	case IsRelayed(c):
		return ""
	case isQUICAddr(a):
		return TransportQUIC
	case isTCPAddr(a):
		return TransportTCP
	}
	return ""
}

func partition(addrs []ma.Multiaddr, f func(ma.Multiaddr) bool) (in, out []ma.Multiaddr) {
	for _, a := range addrs {
		if f(a) {
			in = append(in, a)
		} else {
			out = append(out, a)
		}
	}
	return in, out
}

func has(a ma.Multiaddr, code int) bool {
	_, err := a.ValueForProtocol(code)
	return err == nil
}

func isRelayAddr(a ma.Multiaddr) bool { return has(a, ma.P_CIRCUIT) }
func isIPAddr(a ma.Multiaddr) bool    { return has(a, ma.P_IP4) || has(a, ma.P_IP6) }
func isQUICAddr(a ma.Multiaddr) bool  { return has(a, ma.P_QUIC_V1) || has(a, ma.P_QUIC) }

// isTCPAddr: plain TCP, not a WebSocket or other transport layered on it.
func isTCPAddr(a ma.Multiaddr) bool {
	return has(a, ma.P_TCP) && !has(a, ma.P_WS) && !has(a, ma.P_WSS) && !has(a, ma.P_TLS)
}

func ipVersion(a ma.Multiaddr) int {
	if has(a, ma.P_IP6) {
		return 6
	}
	return 4
}

func port(a ma.Multiaddr) int {
	for _, code := range []int{ma.P_TCP, ma.P_UDP} {
		if v, err := a.ValueForProtocol(code); err == nil {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}
