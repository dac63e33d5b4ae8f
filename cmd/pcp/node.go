package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pcp-p2p/pcp/engine"
)

type nodeFlags struct {
	listen    []string
	identity  string
	ephemeral bool
	bootstrap []string
	public    bool
	// The operator's relay limits (see relayLimits).
	circuitData, rate   string
	circuitDuration     time.Duration
	circuits, reservers int
}

func (a *app) nodeCmd() *cobra.Command {
	var f nodeFlags
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Run a bootstrap, DHT and relay node for senders and receivers",
		Long: `Run a pcp node: a DHT server that senders and receivers can bootstrap from, and
a circuit relay for peers that cannot reach each other directly. Run it on a
machine both sides can reach (a small server with a public address). It
announces itself in the DHT as a transfer relay, so senders and receivers that
share its DHT find it with no flag; --bootstrap and --relay (or $PCP_BOOTSTRAP)
name it explicitly.

Its relay carries data for any pair of peers, within the limits you set: a rate
for all circuits together (--relay-rate), the bytes and time one relayed
connection may use (--circuit-data, --circuit-duration: peers resume on a new
circuit when one ends, and limits under 64 MiB or 10 minutes are refused, as
they would make a relay for meeting only), and the open circuits per peer and
peers with a slot (--circuits, --reservations). Peers learn the limits over
the circuit handshake and from the node itself, and prefer the most generous
relay they find.

The node keeps its identity (and so its /p2p/ address) in --identity, by default
node.key in the state directory. It runs until Ctrl-C (exit 0).`,
		Example: `  pcp node --listen /ip4/0.0.0.0/tcp/4001 --listen /ip4/0.0.0.0/udp/4001/quic-v1
  # then, elsewhere, with an address it printed:
  export PCP_BOOTSTRAP=/ip4/203.0.113.7/tcp/4001/p2p/12D3Koo...
  pcp send --relay $PCP_BOOTSTRAP ./dir
  # a second node joining the first
  pcp node --listen /ip4/0.0.0.0/tcp/4002 --bootstrap /ip4/203.0.113.7/tcp/4001/p2p/12D3Koo...
  # a relay that gives away at most 20 MiB/s, and 4 GiB or 1 hour per circuit
  pcp node --relay-rate 20M --circuit-data 4G --circuit-duration 1h`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.node(cmd.Context(), &f)
		},
	}
	fs := cmd.Flags()
	fs.StringArrayVar(&f.listen, "listen", nil, "listen on this multiaddr (repeatable; default all interfaces, random ports)")
	fs.StringVar(&f.identity, "identity", "", "private key file, created if absent (default node.key in the state directory)")
	fs.BoolVar(&f.ephemeral, "ephemeral", false, "use a fresh identity; keep no key file")
	fs.StringArrayVar(&f.bootstrap, "bootstrap", nil, "other node to join, multiaddr with /p2p/ (repeatable; env "+EnvBootstrap+")")
	fs.BoolVar(&f.public, "public-limits", false, "relay with libp2p's default limits (128 KiB, 2 min per circuit), like a public IPFS node: peers meet through it but move no data, and it is not advertised as a transfer relay (for test labs)")
	fs.StringVar(&f.rate, "relay-rate", "", "cap the bytes per second relayed, all circuits together, e.g. 20M (K, M, G are 1024-based; default none)")
	fs.StringVar(&f.circuitData, "circuit-data", "", "bytes one relayed connection may carry each way, at least 64M, e.g. 4G (default none)")
	fs.DurationVar(&f.circuitDuration, "circuit-duration", 0, "time one relayed connection may last, at least 10m, e.g. 1h (default none)")
	fs.IntVar(&f.circuits, "circuits", 0, "open relayed connections per peer (default 16)")
	fs.IntVar(&f.reservers, "reservations", 0, "peers that may hold a relay slot at once (default 256)")
	return cmd
}

// relayLimits parses the operator's limits once, at the boundary.
func (f *nodeFlags) relayLimits() (engine.RelayLimits, error) {
	l := engine.RelayLimits{CircuitDuration: f.circuitDuration, Circuits: f.circuits, Reservations: f.reservers}
	for _, v := range []struct {
		flag, text string
		to         *int64
	}{{"--relay-rate", f.rate, &l.Rate}, {"--circuit-data", f.circuitData, &l.CircuitData}} {
		if strings.TrimSpace(v.text) == "" {
			continue
		}
		n, err := parseRate(v.text)
		if err != nil {
			return l, usageError{fmt.Errorf("%s %q: want a positive size such as 500K, 64M or 4G", v.flag, v.text)}
		}
		*v.to = n
	}
	if f.public && l != (engine.RelayLimits{}) {
		return l, usageError{fmt.Errorf("--public-limits already sets the relay's limits; drop the other relay limits")}
	}
	if err := l.Check(); err != nil {
		return l, usageError{err}
	}
	return l, nil
}

func (a *app) node(ctx context.Context, f *nodeFlags) error {
	boot := f.bootstrap
	if len(boot) == 0 {
		boot = splitList(os.Getenv(EnvBootstrap))
	}
	var flat []string
	for _, b := range boot {
		flat = append(flat, splitList(b)...)
	}
	id := f.identity
	if id == "" && !f.ephemeral {
		id = a.statePath(engine.IdentityFile)
	}
	limits, err := f.relayLimits()
	if err != nil {
		return err
	}
	u := a.newUI("node")
	err = engine.RunNode(ctx, engine.NodeOptions{
		ListenAddrs:  f.listen,
		IdentityPath: id,
		Bootstrap:    flat,
		PublicLimits: f.public,
		Limits:       limits,
		Advertised: func() {
			u.json("relay_advertised", map[string]any{"key": engine.RelayKey})
		},
		Logger: a.logger(),
	}, func(addrs []string) {
		u.json("node", map[string]any{"addrs": nonNil(addrs), "identity": id, "transfer_relay": !f.public,
			"relay_rate": limits.Rate, "circuit_data": limits.CircuitData,
			"circuit_duration_s": int64(limits.CircuitDuration / time.Second)})
		if u.mode == modeJSON {
			return
		}
		fmt.Fprintln(u.out, "pcp node running (Ctrl-C stops it).", describeLimits(f.public, limits))
		fmt.Fprintln(u.out, "Its addresses:")
		for _, ad := range addrs {
			fmt.Fprintf(u.out, "    %s\n", ad)
		}
		if len(addrs) > 0 {
			fmt.Fprintf(u.out, "Senders and receivers use it with:\n    pcp send --bootstrap %s --relay %s PATH\n", addrs[0], addrs[0])
		}
	})
	if err != nil {
		return err
	}
	u.say("node stopped")
	return nil
}

// describeLimits is the node's one-line statement of what its relay gives.
func describeLimits(public bool, l engine.RelayLimits) string {
	if public {
		return "Relay: libp2p's public limits (128 KiB, 2 min per circuit): for meeting, not for data."
	}
	orNone := func(v int64, f func(int64) string) string {
		if v == 0 {
			return "no limit"
		}
		return f(v)
	}
	return fmt.Sprintf("Transfer relay: rate %s; per circuit %s and %s.",
		orNone(l.Rate, func(v int64) string { return humanBytes(v) + "/s" }),
		orNone(l.CircuitData, humanBytes),
		orNone(int64(l.CircuitDuration), func(v int64) string { return time.Duration(v).String() }))
}
