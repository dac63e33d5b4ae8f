package engine

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/pcp-p2p/pcp/discovery"
	"github.com/pcp-p2p/pcp/engine/p2p"
	"github.com/pcp-p2p/pcp/engine/wire"
)

func discard(l *slog.Logger) *slog.Logger {
	if l != nil {
		return l
	}
	return slog.New(slog.DiscardHandler)
}

// newHost builds the host of a send or receive. relays, if not nil, finds
// relays at run time (the sender's, from the DHT).
func newHost(n NetworkOptions, events func(Event), relays p2p.RelaySource, log *slog.Logger) (host.Host, error) {
	return newHostWith(n, events, relays, nil, log)
}

// newHostWith is newHost with identity id (nil = a fresh one).
func newHostWith(n NetworkOptions, events func(Event), relays p2p.RelaySource, id crypto.PrivKey, log *slog.Logger) (host.Host, error) {
	static, err := p2p.ParseAddrInfos(n.Relays)
	if err != nil {
		return nil, fmt.Errorf("--relay: %w", err)
	}
	onPunch := func(p peer.ID, direct bool, err error) {
		emit(events, HolePunchEvent{Peer: p.String(), Direct: direct, Err: err})
	}
	return p2p.NewHost(p2p.HostOptions{ListenAddrs: n.ListenAddrs, Relays: static, RelaySource: relays,
		Private: n.private, NATPortMap: !n.NoPortMap, Logger: log, OnPunch: onPunch, Identity: id})
}

func discoveryOptions(n NetworkOptions, log *slog.Logger) (discovery.Options, error) {
	boot, err := p2p.ParseAddrInfos(n.Bootstrap)
	if err != nil {
		return discovery.Options{}, fmt.Errorf("--bootstrap: %w", err)
	}
	return discovery.Options{MDNS: !n.DHTOnly, DHT: !n.MDNSOnly, Bootstrap: boot, Logger: log}, nil
}

// fullAddrs returns h's addresses with its /p2p/ suffix.
func fullAddrs(h host.Host) []string {
	var out []string
	for _, a := range h.Addrs() {
		out = append(out, fmt.Sprintf("%s/p2p/%s", a, h.ID()))
	}
	return out
}

// relayCircuits turns relay addresses into /p2p-circuit addresses that reach
// any peer holding a reservation on those relays.
func relayCircuits(relays []string) ([]ma.Multiaddr, error) {
	infos, err := p2p.ParseAddrInfos(relays)
	if err != nil {
		return nil, fmt.Errorf("--relay: %w", err)
	}
	var out []ma.Multiaddr
	for _, in := range infos {
		for _, a := range in.Addrs {
			c, err := ma.NewMultiaddr(fmt.Sprintf("%s/p2p/%s/p2p-circuit", a, in.ID))
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// openStream opens a pcp stream to id and sends its Open frame. Control
// streams (PAKE, and coordination) may run on a limited relayed connection,
// the kind public relays give; data and manifest streams run only on a connection that
// is transfer-grade (p2p.TransferGrade): when the only such one is a
// circuit of a relay with an operator's limits, on that circuit; else the
// swarm waits (until ctx ends) for a direct one or a relayed one without
// limits.
func openStream(ctx context.Context, h host.Host, id peer.ID, o wire.Open) (network.Stream, error) {
	var s network.Stream
	var err error
	bulk := o.Kind == wire.KindData || o.Kind == wire.KindManifest
	var circuit network.Conn
	if bulk {
		circuit = p2p.TransferCircuit(h, id)
	}
	switch {
	case circuit != nil:
		s, err = p2p.NewStreamOn(ctx, circuit, wire.ProtocolID)
	case bulk:
		s, err = h.NewStream(ctx, id, wire.ProtocolID)
	default:
		s, err = h.NewStream(network.WithAllowLimitedConn(ctx, "pcp"), id, wire.ProtocolID)
	}
	if err != nil {
		return nil, oldPeerError(ctx, h, id, err)
	}
	if err := wire.WriteFrame(s, wire.TOpen, o.Append(nil)); err != nil {
		s.Reset()
		return nil, err
	}
	return s, nil
}

// dhtRelays is a sender's RelaySource: relays from its DHT, once the host
// exists and discovery has started (ready is closed then).
func dhtRelays(h *host.Host, dopts discovery.Options, ready <-chan struct{}) p2p.RelaySource {
	return func(ctx context.Context, num int) <-chan peer.AddrInfo {
		select {
		case <-ready:
			return discovery.FindRelays(ctx, *h, dopts, num)
		case <-ctx.Done():
			c := make(chan peer.AddrInfo)
			close(c)
			return c
		}
	}
}
