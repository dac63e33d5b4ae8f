package p2p

import (
	"sync"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// maxObserved bounds how many of our own observed addresses are kept: peers
// report them, so a hostile peer must not grow the set.
const maxObserved = 16

// punchAddrs gathers the addresses pcp offers in a hole punch (DCUtR):
// our public listen addresses, our addresses as other peers observed them
// (one observer is enough, as in libp2p's own HolePunchAddrs), and for each
// observed address a guess for our other transports.
//
// The guess: a peer that reached us over TCP tells us only our NAT's TCP
// mapping. A cone NAT that preserves ports (Linux masquerade does, when the
// port is free) maps our QUIC socket to the same external IP and our QUIC
// listen port, and the other way round. Without the guess, a sender known
// only by TCP and a receiver known only by QUIC dial each other on different
// transports and every punch misses. A wrong guess costs one failed dial.
type punchAddrs struct {
	h host.Host

	mu       sync.Mutex
	observed []ma.Multiaddr // newest last, at most maxObserved
}

// watch records observed addresses from identify until sub is closed.
func (p *punchAddrs) watch(sub event.Subscription) {
	for e := range sub.Out() {
		ev, ok := e.(event.EvtPeerIdentificationCompleted)
		if !ok || ev.ObservedAddr == nil || !manet.IsPublicAddr(ev.ObservedAddr) || isCircuit(ev.ObservedAddr) {
			continue
		}
		p.add(ev.ObservedAddr)
	}
}

func (p *punchAddrs) add(a ma.Multiaddr) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, o := range p.observed {
		if o.Equal(a) {
			p.observed = append(p.observed[:i], p.observed[i+1:]...)
			break
		}
	}
	if len(p.observed) == maxObserved {
		p.observed = p.observed[1:]
	}
	p.observed = append(p.observed, a)
}

// addrs is the listenAddrs function of the hole punch service: only public,
// non-relay addresses, without duplicates.
func (p *punchAddrs) addrs() []ma.Multiaddr {
	p.mu.Lock()
	observed := append([]ma.Multiaddr(nil), p.observed...)
	p.mu.Unlock()
	all := append(p.h.Addrs(), observed...)
	all = append(all, guessOtherTransports(observed, p.h.Network().ListenAddresses())...)
	var out []ma.Multiaddr
	for _, a := range all {
		if isCircuit(a) || !manet.IsPublicAddr(a) || containsAddr(out, a) {
			continue
		}
		out = append(out, a)
	}
	return out
}

// guessOtherTransports returns, for each observed address, the external IP
// joined with each listen address's transport part (such as /tcp/4001 or
// /udp/4001/quic-v1) that differs from the observed one's. It is pure.
func guessOtherTransports(observed, listen []ma.Multiaddr) []ma.Multiaddr {
	var out []ma.Multiaddr
	for _, o := range observed {
		ip, oRest := ma.SplitFirst(o)
		if ip == nil || len(oRest) == 0 {
			continue
		}
		for _, l := range listen {
			lip, lRest := ma.SplitFirst(l)
			if lip == nil || lip.Code() != ip.Code() || len(lRest) == 0 || lRest[0].Code() == oRest[0].Code() {
				continue // another IP family, or the transport already observed
			}
			out = append(out, ma.Join(ip, lRest))
		}
	}
	return out
}

func isCircuit(a ma.Multiaddr) bool {
	_, err := a.ValueForProtocol(ma.P_CIRCUIT)
	return err == nil
}

func containsAddr(list []ma.Multiaddr, a ma.Multiaddr) bool {
	for _, x := range list {
		if x.Equal(a) {
			return true
		}
	}
	return false
}
