package p2p

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	relayv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	ma "github.com/multiformats/go-multiaddr"
)

// NodeRelayLimit is the per-circuit limit of a node's relay: far above any
// file pcp moves in a day, yet finite, so relayed connections stay marked
// Limited (see the package doc). The libp2p default (128 KiB, 2 min) resets
// a transfer almost at once.
var NodeRelayLimit = relayv2.RelayLimit{
	Duration: 24 * time.Hour,
	Data:     1 << 40, // 1 TiB per direction
}

// NodeRelayResources are the relay resources of a node.
func NodeRelayResources() relayv2.Resources {
	r := relayv2.DefaultResources()
	limit := NodeRelayLimit
	r.Limit = &limit
	r.MaxReservations = 256
	r.MaxCircuits = 16          // open circuits per peer
	r.BufferSize = 64 << 10     // the default 2 KiB costs a syscall per 2 KiB
	r.MaxReservationsPerIP = 16 // peers behind one NAT share an IP
	r.MaxReservationsPerASN = 64
	return r
}

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
	// Logger receives debug logs; nil = discard.
	Logger *slog.Logger
}

// Node is a `pcp node`: a DHT server plus a circuit-v2 relay with
// transfer-friendly limits, and an AutoNAT service so peers learn whether
// they are reachable.
type Node struct {
	Host  host.Host
	DHT   *dht.IpfsDHT
	Relay *relayv2.Relay
	log   *slog.Logger
}

// NewNode starts a node. It returns once the host listens and the DHT and
// relay services are registered; dialing the Bootstrap peers continues in
// the background, bounded by ctx (the DHT keeps re-trying them on its own
// while its routing table is empty).
func NewNode(ctx context.Context, opts NodeOptions) (*Node, error) {
	log := discard(opts.Logger)
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
	r, err := relayv2.New(h, relayv2.WithResources(NodeRelayResources()))
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
	n := &Node{Host: h, DHT: d, Relay: r, log: log}
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

// Close stops the DHT, the relay and the host.
func (n *Node) Close() error {
	return errors.Join(n.DHT.Close(), n.Relay.Close(), n.Host.Close())
}
