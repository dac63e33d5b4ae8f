package p2p

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	relayv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	ma "github.com/multiformats/go-multiaddr"
)

// NodeRelayResources are the relay resources of a transfer-grade node
// without operator limits: no per-circuit limit on data or time, so its
// relayed connections are not Limited and carry data streams (see the
// package doc). What bounds it is the number of reservations and circuits.
func NodeRelayResources() relayv2.Resources { return RelayLimits{}.resources() }

// PublicRelayResources are libp2p's defaults, as public IPFS nodes run
// them: 128 KiB and 2 minutes per circuit. Such a relay is for meeting (PAKE,
// the manifest, hole punch coordination), never for data.
func PublicRelayResources() relayv2.Resources { return relayv2.DefaultResources() }

// NodeOptions configures NewNode. The zero value works: all interfaces, an
// ephemeral identity, no bootstrap peers (the node is the first of a private
// DHT), no logging.
type NodeOptions struct {
	// ListenAddrs are multiaddr strings; nil = DefaultListenAddrs.
	ListenAddrs []string
	// IdentityPath is the key file, created (0600) if absent; "" = a fresh
	// key every start.
	IdentityPath string
	// Bootstrap are other DHT servers to join; nil = none. A node does not
	// join the public Amino DHT unless its peers are listed here.
	Bootstrap []peer.AddrInfo
	// PublicLimits runs the relay with PublicRelayResources instead of
	// NodeRelayResources: a node that behaves like a public IPFS node, for
	// the lab. Such a node does not call itself transfer-grade.
	PublicLimits bool
	// Limits are the operator's limits for a transfer-grade relay (ignored
	// with PublicLimits); NewNode refuses limits that fail Limits.Check.
	Limits RelayLimits
	// Logger receives debug logs; nil = discard.
	Logger *slog.Logger
}

// Node is a `pcp node`: a DHT server plus a circuit-v2 relay (transfer-grade
// unless PublicLimits), and an AutoNAT service so peers learn whether
// they are reachable.
type Node struct {
	Host  host.Host
	DHT   *dht.IpfsDHT
	Relay *relayv2.Relay
	// TransferGrade: the relay has no per-circuit limit (not PublicLimits).
	TransferGrade bool
	// Limits are the relay's limits as in force, circuit and reservation
	// counts filled in (zero for PublicLimits).
	Limits RelayLimits
	rate   *relayRate // nil without Limits.Rate
	log    *slog.Logger
}

// NewNode starts a node. It returns once the host listens and the DHT and
// relay services are registered; dialing the Bootstrap peers continues in
// the background, bounded by ctx (the DHT keeps re-trying them on its own
// while its routing table is empty).
func NewNode(ctx context.Context, opts NodeOptions) (*Node, error) {
	log := discard(opts.Logger)
	if opts.PublicLimits {
		opts.Limits = RelayLimits{}
	}
	if err := opts.Limits.Check(); err != nil {
		return nil, fmt.Errorf("p2p: node relay: %w", err)
	}
	var id crypto.PrivKey
	if opts.IdentityPath != "" {
		k, err := LoadOrCreateIdentity(opts.IdentityPath)
		if err != nil {
			return nil, err
		}
		id = k
	}
	o, err := hostOptions(opts.ListenAddrs, id)
	if err != nil {
		return nil, err
	}
	o = append(o, libp2p.EnableNATService())
	h, err := libp2p.New(o...)
	if err != nil {
		return nil, fmt.Errorf("p2p: node host: %w", err)
	}
	res := opts.Limits.resources()
	if opts.PublicLimits {
		res = PublicRelayResources()
	}
	var relayHost host.Host = h
	var rr *relayRate
	if opts.Limits.Rate > 0 {
		rr = newRelayRate(opts.Limits.Rate)
		relayHost = rateHost{Host: h, r: rr}
	}
	r, err := relayv2.New(relayHost, relayv2.WithResources(res))
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("p2p: node relay: %w", err)
	}
	d, err := dht.New(h,
		dht.Mode(dht.ModeServer),
		dht.BootstrapPeers(opts.Bootstrap...),
	)
	if err != nil {
		r.Close()
		h.Close()
		return nil, fmt.Errorf("p2p: node dht: %w", err)
	}
	n := &Node{Host: h, DHT: d, Relay: r, TransferGrade: !opts.PublicLimits, Limits: opts.Limits, rate: rr, log: log}
	if n.TransferGrade {
		n.Limits.Circuits, n.Limits.Reservations = res.MaxCircuits, res.MaxReservations
	}
	for _, b := range opts.Bootstrap {
		go func() {
			if err := h.Connect(ctx, b); err != nil {
				log.Debug("node: bootstrap connect failed", "peer", b.ID, "err", err)
			}
		}()
	}
	if err := d.Bootstrap(ctx); err != nil {
		n.Close()
		return nil, fmt.Errorf("p2p: node dht bootstrap: %w", err)
	}
	log.Debug("node up", "id", h.ID(), "addrs", h.Addrs())
	return n, nil
}

// Addrs returns the node's addresses with /p2p/<id>, ready to hand to others
// as --bootstrap or --relay.
func (n *Node) Addrs() []ma.Multiaddr {
	addrs, err := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: n.Host.ID(), Addrs: n.Host.Addrs()})
	if err != nil { // only for an empty ID, which a running host never has
		return nil
	}
	return addrs
}

// AddrInfo returns the node's peer ID and addresses.
func (n *Node) AddrInfo() peer.AddrInfo {
	return peer.AddrInfo{ID: n.Host.ID(), Addrs: n.Host.Addrs()}
}

// RateLimitedBytes are the relayed bytes that passed the node's rate limit
// (0 without Limits.Rate).
func (n *Node) RateLimitedBytes() int64 {
	if n.rate == nil {
		return 0
	}
	return n.rate.passed.Load()
}

// Close stops the DHT, the relay and the host.
func (n *Node) Close() error {
	return errors.Join(n.DHT.Close(), n.Relay.Close(), n.Host.Close())
}
