package p2p

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	tls "github.com/libp2p/go-libp2p/p2p/security/tls"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
)

// DefaultListenAddrs are used when HostOptions.ListenAddrs is nil: every
// interface, any port, TCP and QUIC, IPv4 and IPv6. An address family the
// machine lacks is skipped by libp2p as long as one address listens.
var DefaultListenAddrs = []string{
	"/ip4/0.0.0.0/tcp/0",
	"/ip4/0.0.0.0/udp/0/quic-v1",
	"/ip6/::/tcp/0",
	"/ip6/::/udp/0/quic-v1",
}

// Yamux stream windows. PERF.md: a 4 MiB window gives TLS+yamux about 20%
// more throughput than the 256 KiB default.
const (
	yamuxInitialWindow = 4 << 20
	yamuxMaxWindow     = 16 << 20
)

// HostOptions configures NewHost. The zero value works: all interfaces, a
// fresh ed25519 identity, no static relays, no port mapping, no logging.
type HostOptions struct {
	// ListenAddrs are multiaddr strings; nil = DefaultListenAddrs.
	ListenAddrs []string
	// Identity is the host key; nil = a fresh ed25519 key.
	Identity crypto.PrivKey
	// Relays are static circuit-v2 relays for autorelay (from --relay).
	Relays []peer.AddrInfo
	// RelaySource finds more relays at run time (the DHT). With neither
	// Relays nor RelaySource, autorelay is off.
	RelaySource RelaySource
	// Private makes a host with relays private from the start, whatever its
	// addresses (for tests on loopback, where AutoNAT never decides).
	Private bool
	// NATPortMap asks the router for a port mapping (UPnP / NAT-PMP) and
	// announces the mapped address once the router gives one (portmap.go).
	// Off in the zero value; the hosts of send and receive turn it on
	// unless the user opts out (--no-port-map).
	NATPortMap bool
	// Logger receives debug logs; nil = discard.
	Logger *slog.Logger
	// OnPunch, if set, is called after every hole punch attempt with p,
	// on either side: direct reports whether it made a direct connection.
	OnPunch func(p peer.ID, direct bool, err error)
}

func discard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return l
}

// yamuxTransport is libp2p's default yamux configuration with a larger
// initial stream window.
func yamuxTransport() *yamux.Transport {
	cfg := *yamux.DefaultTransport.Config()
	cfg.InitialStreamWindowSize = yamuxInitialWindow
	cfg.MaxStreamWindowSize = yamuxMaxWindow
	t := yamux.Transport(cfg)
	return &t
}

// hostOptions returns the libp2p options shared by NewHost and NewNode.
func hostOptions(listen []string, id crypto.PrivKey) ([]libp2p.Option, error) {
	if listen == nil {
		listen = DefaultListenAddrs
	}
	if id == nil {
		k, _, err := crypto.GenerateEd25519Key(nil)
		if err != nil {
			return nil, fmt.Errorf("p2p: generate identity: %w", err)
		}
		id = k
	}
	return []libp2p.Option{
		libp2p.Identity(id),
		libp2p.ListenAddrStrings(listen...),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(quic.NewTransport),
		// Order matters: the first security transport is preferred.
		libp2p.Security(tls.ID, newBatchedTLS), // tlsbatch.go
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamuxTransport()),
		libp2p.EnableRelay(),
		// TCP before QUIC for bulk data; hole punching still dials both.
		libp2p.SwarmOpts(swarm.WithDialRanker(DialRanker)),
		// No libp2p.EnableHolePunching: NewHost runs its own DCUtR service
		// (punch.go), and a relay node has no use for one.
		libp2p.DisableMetrics(),
	}, nil
}

// NewHost builds a pcp peer's host: TCP+QUIC, TLS then Noise, yamux with a
// 4 MiB window, AutoNAT client, relay client, pcp's hole punch service (see
// Upgrade), and autorelay over opts.Relays when any are given.
func NewHost(opts HostOptions) (host.Host, error) {
	o, err := hostOptions(opts.ListenAddrs, opts.Identity)
	if err != nil {
		return nil, err
	}
	if len(opts.Relays) > 0 || opts.RelaySource != nil {
		o = append(o, autoRelay(opts.Relays, opts.RelaySource))
		if opts.Private || behindNAT() {
			o = append(o, libp2p.ForceReachabilityPrivate())
		}
	}
	if opts.NATPortMap {
		o = append(o, new(portMap).options()...)
	}
	h, err := libp2p.New(o...)
	if err != nil {
		return nil, fmt.Errorf("p2p: new host: %w", err)
	}
	ph, err := withPuncher(h, opts.OnPunch)
	if err != nil {
		h.Close()
		return nil, err
	}
	discard(opts.Logger).Debug("host up", "id", h.ID(), "addrs", h.Addrs(), "relays", len(opts.Relays))
	return ph, nil
}
