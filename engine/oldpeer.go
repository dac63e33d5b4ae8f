package engine

import (
	"context"
	"errors"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	mss "github.com/multiformats/go-multistream"

	"github.com/pcp-p2p/pcp/engine/wire"
)

// Peers of an older pcp. The protocol ID carries the version
// (wire.ProtocolID); a peer that speaks only wire.OldProtocolID runs an
// older pcp, and each side says so instead of failing obscurely: the
// receiver stops with ErrOldPeer, the sender refuses the stream and emits
// OldPeerEvent.

// ErrOldPeer: the sender speaks only the previous transfer protocol.
var ErrOldPeer = errors.New("the sender runs an older pcp (protocol 2.0.0); install the same pcp version on both sides")

// OldPeerEvent (sender): a receiver with an older pcp (protocol 2.0.0) tried
// to connect; its stream was refused. Once per peer.
type OldPeerEvent struct{ Peer string }

func (OldPeerEvent) isEvent() {}

// maxOldPeers bounds the peers remembered for OldPeerEvent's once-per-peer:
// past it, old peers are still refused, without an event.
const maxOldPeers = 64

// refuseOld is the sender's handler of wire.OldProtocolID: an older pcp's
// receiver negotiates it, and gets its stream reset before any byte of
// pcp is read, so it takes no guard slot and tests no passphrase.
func (s *server) refuseOld(st network.Stream) {
	remote := st.Conn().RemotePeer()
	_ = st.Reset()
	s.mu.Lock()
	first := false
	if s.recv.old == nil {
		s.recv.old = make(map[peer.ID]struct{})
	}
	if _, seen := s.recv.old[remote]; !seen && len(s.recv.old) < maxOldPeers {
		s.recv.old[remote] = struct{}{}
		first = true
	}
	s.mu.Unlock()
	if first {
		emit(s.events, OldPeerEvent{Peer: remote.String()})
	}
}

// oldPeerError is err, a failure to open a pcp stream to id, or ErrOldPeer
// when the failure is the protocol negotiation's and id speaks the old
// protocol: identify told the peerstore so, or a stream on the old ID
// (reset at once, before any pcp byte) opens.
func oldPeerError(ctx context.Context, h host.Host, id peer.ID, err error) error {
	if !errors.Is(err, mss.ErrNotSupported[protocol.ID]{}) {
		return err
	}
	if old, _ := h.Peerstore().SupportsProtocols(id, wire.OldProtocolID); len(old) > 0 {
		return ErrOldPeer
	}
	s, perr := h.NewStream(network.WithAllowLimitedConn(ctx, "pcp"), id, wire.OldProtocolID)
	if perr != nil {
		return err
	}
	_ = s.Reset()
	return ErrOldPeer
}
