package p2p

import (
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// ErrNoPeerID is returned by ParseAddrInfos for an address without /p2p/.
var ErrNoPeerID = errors.New("p2p: address has no /p2p/ peer ID")

// ParseAddrInfos parses "/ip4/.../tcp/.../p2p/Qm..." strings and groups them
// by peer, in order of first appearance. An address that is only "/p2p/<id>"
// yields the peer with no addresses. Empty input gives nil.
func ParseAddrInfos(addrs []string) ([]peer.AddrInfo, error) {
	var out []peer.AddrInfo
	index := map[peer.ID]int{}
	for _, s := range addrs {
		m, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("p2p: parse %q: %w", s, err)
		}
		transport, id := peer.SplitAddr(m)
		if id == "" {
			return nil, fmt.Errorf("p2p: parse %q: %w", s, ErrNoPeerID)
		}
		i, ok := index[id]
		if !ok {
			i = len(out)
			index[id] = i
			out = append(out, peer.AddrInfo{ID: id})
		}
		if transport != nil {
			out[i].Addrs = append(out[i].Addrs, transport)
		}
	}
	return out, nil
}

// Path values reported by PathOf.
const (
	PathDirect  = "direct"
	PathRelayed = "relayed"
	PathNone    = "" // no live connection
)

// PathOf reports PathDirect when at least one live connection to p is
// direct, PathRelayed when every live connection is limited or goes through
// a /p2p-circuit address, and PathNone when there is no connection.
func PathOf(h host.Host, p peer.ID) string {
	conns := h.Network().ConnsToPeer(p)
	if len(conns) == 0 {
		return PathNone
	}
	for _, c := range conns {
		if !IsRelayed(c) {
			return PathDirect
		}
	}
	return PathRelayed
}

// IsRelayed reports whether c goes through a relay: it is limited, or its
// remote address is a /p2p-circuit address.
func IsRelayed(c network.Conn) bool {
	if c.Stat().Limited {
		return true
	}
	_, err := c.RemoteMultiaddr().ValueForProtocol(ma.P_CIRCUIT)
	return err == nil
}

// MeetingOnly reports whether every live connection to p is for meeting
// only (a circuit of a relay whose per-circuit limits are below transfer
// grade, see TransferGrade), and there is at least one.
func MeetingOnly(h host.Host, p peer.ID) bool {
	conns := h.Network().ConnsToPeer(p)
	for _, c := range conns {
		if TransferGrade(c) {
			return false
		}
	}
	return len(conns) > 0
}
