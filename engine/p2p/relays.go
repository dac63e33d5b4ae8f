package p2p

import (
	"context"
	"net"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/host/autorelay"
	manet "github.com/multiformats/go-multiaddr/net"
)

// RelaySource yields relay candidates found at run time, such as the DHT's
// transfer-grade relays and its relay-capable peers, best first; it closes
// the channel when it has no more. num is how many autorelay asks for.
type RelaySource func(ctx context.Context, num int) <-chan peer.AddrInfo

// autoRelay returns the autorelay option for a peer's host: the static
// relays first, then whatever source finds. A pcp peer lives for minutes,
// so it reserves at once (no boot delay) with the first candidate.
func autoRelay(static []peer.AddrInfo, source RelaySource) libp2p.Option {
	src := func(ctx context.Context, num int) <-chan peer.AddrInfo {
		out := make(chan peer.AddrInfo, len(static))
		for _, s := range static {
			out <- s
		}
		if source == nil {
			close(out)
			return out
		}
		go func() {
			defer close(out)
			for ai := range source(ctx, num) {
				select {
				case out <- ai:
				case <-ctx.Done():
					return
				}
			}
		}()
		return out
	}
	return libp2p.EnableAutoRelayWithPeerSource(src,
		autorelay.WithBootDelay(0),
		autorelay.WithMinCandidates(1),
		autorelay.WithNumRelays(2),
		autorelay.WithMinInterval(5*time.Second),
		autorelay.WithBackoff(30*time.Second),
	)
}

// behindNAT reports whether no interface of this machine has a public
// address: then no one on the internet can dial it unsolicited, and pcp
// need not wait for AutoNAT to say so before it reserves a relay. An error
// listing interfaces counts as public (AutoNAT decides then).
func behindNAT() bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	return noPublicAddr(addrs)
}

// noPublicAddr is behindNAT's rule, pure for tests.
func noPublicAddr(addrs []net.Addr) bool {
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		m, err := manet.FromIP(ipn.IP)
		if err != nil {
			continue
		}
		if manet.IsPublicAddr(m) {
			return false
		}
	}
	return true
}
