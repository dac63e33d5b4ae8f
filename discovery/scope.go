package discovery

import (
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// scope is how far an address reaches: the machine, a private network, or
// the internet. The DHT's scope is the widest of its bootstrap peers'
// addresses; only addresses at least as wide are announced in it, or kept
// from it, since a peer that reached the DHT at that scope may not reach
// anything narrower. So the public DHT never carries loopback or private
// addresses (receivers would dial and wait on them), a DHT on a LAN or in
// the lab carries private ones, and a DHT on one machine carries loopback.
type scope int

const (
	scopeLoopback scope = iota
	scopePrivate
	scopePublic
)

// scopeOf a relayed address is that of its relay's address.
func scopeOf(a ma.Multiaddr) scope {
	switch {
	case manet.IsIPLoopback(a):
		return scopeLoopback
	case manet.IsPublicAddr(a):
		return scopePublic
	}
	return scopePrivate
}

// dhtScope is the widest scope among the bootstrap peers' addresses. A
// bootstrap peer listed without addresses says nothing; with no address at
// all, the DHT counts as public.
func dhtScope(boot []peer.AddrInfo) scope {
	widest, any := scopeLoopback, false
	for _, b := range boot {
		for _, a := range b.Addrs {
			any = true
			widest = max(widest, scopeOf(a))
		}
	}
	if !any {
		return scopePublic
	}
	return widest
}

// scopeFilter returns the DHT's AddressFilter for scope s.
func scopeFilter(s scope) func([]ma.Multiaddr) []ma.Multiaddr {
	return func(addrs []ma.Multiaddr) []ma.Multiaddr {
		out := make([]ma.Multiaddr, 0, len(addrs))
		for _, a := range addrs {
			if scopeOf(a) >= s {
				out = append(out, a)
			}
		}
		return out
	}
}
