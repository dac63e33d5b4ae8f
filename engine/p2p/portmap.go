package p2p

import (
	"slices"
	"sync/atomic"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/network"
	basichost "github.com/libp2p/go-libp2p/p2p/host/basic"
	ma "github.com/multiformats/go-multiaddr"
)

// portMap asks the router for port mappings (UPnP IGD or NAT-PMP, through
// libp2p's NAT manager) and keeps the mapped addresses among the host's
// addresses.
//
// libp2p alone would drop them: a host whose reachability is private and
// that has relay addresses announces only its relay and private addresses,
// and pcp's peers are private from the start (behindNAT). A mapped address
// is the one public address such a host can be dialed on, so it goes back
// in, and with it into identify and the DHT record.
type portMap struct {
	state atomic.Pointer[portMapState]
}

type portMapState struct {
	net network.Network
	mgr basichost.NATManager
}

// options returns the libp2p options: the NAT manager, and the address
// factory that adds its mappings.
func (p *portMap) options() []libp2p.Option {
	return []libp2p.Option{
		libp2p.NATManager(func(n network.Network) basichost.NATManager {
			m := basichost.NewNATManager(n)
			p.state.Store(&portMapState{net: n, mgr: m})
			return m
		}),
		libp2p.AddrsFactory(p.addrs),
	}
}

// addrs is the host's address factory: addrs plus every mapped address of
// a listen address that is not in it yet.
func (p *portMap) addrs(addrs []ma.Multiaddr) []ma.Multiaddr {
	s := p.state.Load()
	if s == nil {
		return addrs
	}
	out := slices.Clip(addrs) // append must not write into the caller's array
	for _, l := range s.net.ListenAddresses() {
		if m := s.mgr.GetMapping(l); m != nil && !containsAddr(out, m) {
			out = append(out, m)
		}
	}
	return out
}
