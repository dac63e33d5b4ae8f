package engine

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/pcp-p2p/pcp/discovery"
	"github.com/pcp-p2p/pcp/engine/p2p"
)

// NodeOptions configure RunNode. The zero value listens on all interfaces
// with random ports and a fresh identity, and joins no other node.
type NodeOptions struct {
	ListenAddrs  []string // multiaddrs; nil = all interfaces (p2p.DefaultListenAddrs)
	IdentityPath string   // key file, created if absent; "" = fresh identity
	Bootstrap    []string // other nodes (multiaddrs with /p2p/) to join
	// PublicLimits gives the relay libp2p's default limits (128 KiB and 2
	// minutes per circuit), as public IPFS nodes have: peers meet through it
	// but move no data. Otherwise the node is transfer-grade and provides
	// discovery.RelayKey in the DHT, so that peers find it with no flag.
	PublicLimits bool
	// Limits are the operator's limits for a transfer-grade relay (see
	// p2p.RelayLimits); they are enforced by the relay and stated to peers
	// over discovery.RelayInfoProtocol.
	Limits RelayLimits
	// Advertised, if not nil, is called each time a transfer-grade node
	// has provided discovery.RelayKey.
	Advertised func()
	Logger     *slog.Logger
}

// RelayLimits are a node operator's limits on what its relay carries.
type RelayLimits = p2p.RelayLimits

// RelayKey is the DHT key under which transfer-grade nodes announce
// themselves (discovery.RelayKey).
const RelayKey = discovery.RelayKey

// RunNode runs a bootstrap, DHT and relay node until ctx ends. ready, if
// not nil, is called once with the node's full addresses (with /p2p/). It
// returns nil when ctx ends after a successful start.
func RunNode(ctx context.Context, opts NodeOptions, ready func(addrs []string)) error {
	boot, err := p2p.ParseAddrInfos(opts.Bootstrap)
	if err != nil {
		return fmt.Errorf("--bootstrap: %w", err)
	}
	n, err := p2p.NewNode(ctx, p2p.NodeOptions{
		ListenAddrs:  opts.ListenAddrs,
		IdentityPath: opts.IdentityPath,
		Bootstrap:    boot,
		PublicLimits: opts.PublicLimits,
		Limits:       opts.Limits,
		Logger:       opts.Logger,
	})
	if err != nil {
		return err
	}
	defer n.Close()
	if n.TransferGrade {
		l := n.Limits
		discovery.ServeRelayInfo(n.Host, discovery.RelayInfo{CircuitData: l.CircuitData,
			CircuitDurationSec: int64(l.CircuitDuration / time.Second), Rate: l.Rate,
			Circuits: l.Circuits, Reservations: l.Reservations})
		done := make(chan struct{})
		defer func() { <-done }()
		go func() {
			defer close(done)
			discovery.AdvertiseRelay(ctx, n.DHT, opts.Logger, opts.Advertised)
		}()
	}
	if ready != nil {
		var addrs []string
		for _, a := range n.Addrs() {
			addrs = append(addrs, a.String())
		}
		ready(addrs)
	}
	<-ctx.Done()
	return nil
}
