package p2p

import (
	"context"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	mss "github.com/multiformats/go-multistream"
)

// TransferCircuit returns a Limited connection to p that is TransferGrade
// (a relay with an operator's limits that still carries data), when p has
// no connection without limits; nil otherwise. The swarm cannot be asked
// for such a connection: allowing limited connections would let it pick a
// public relay's circuit as well.
func TransferCircuit(h host.Host, p peer.ID) network.Conn {
	var best network.Conn
	for _, c := range h.Network().ConnsToPeer(p) {
		if !c.Stat().Limited {
			return nil
		}
		if best == nil && TransferGrade(c) {
			best = c
		}
	}
	return best
}

// NewStreamOn opens a stream for pid on c itself (which may be Limited),
// negotiating the protocol as host.NewStream does. The negotiation is
// bounded by ctx's deadline, or 10 s.
func NewStreamOn(ctx context.Context, c network.Conn, pid protocol.ID) (network.Stream, error) {
	ctx = network.WithAllowLimitedConn(ctx, "pcp transfer-grade relay")
	s, err := c.NewStream(ctx)
	if err != nil {
		return nil, err
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(10 * time.Second)
	}
	_ = s.SetDeadline(deadline)
	if err := mss.SelectProtoOrFail(pid, s); err != nil {
		s.Reset()
		return nil, err
	}
	if err := s.SetProtocol(pid); err != nil {
		s.Reset()
		return nil, err
	}
	_ = s.SetDeadline(time.Time{})
	return s, nil
}
