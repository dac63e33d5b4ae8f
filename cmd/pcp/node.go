package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/pcp-p2p/pcp/engine"
)

type nodeFlags struct {
	listen    []string
	identity  string
	ephemeral bool
	bootstrap []string
	public    bool
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

The node keeps its identity (and so its /p2p/ address) in --identity, by default
node.key in the state directory. It runs until Ctrl-C (exit 0).`,
		Example: `  pcp node --listen /ip4/0.0.0.0/tcp/4001 --listen /ip4/0.0.0.0/udp/4001/quic-v1
  # then, elsewhere, with an address it printed:
  export PCP_BOOTSTRAP=/ip4/203.0.113.7/tcp/4001/p2p/12D3Koo...
  pcp send --relay $PCP_BOOTSTRAP ./dir
  # a second node joining the first
  pcp node --listen /ip4/0.0.0.0/tcp/4002 --bootstrap /ip4/203.0.113.7/tcp/4001/p2p/12D3Koo...`,
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
	return cmd
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
	u := a.newUI("node")
	err := engine.RunNode(ctx, engine.NodeOptions{
		ListenAddrs:  f.listen,
		IdentityPath: id,
		Bootstrap:    flat,
		PublicLimits: f.public,
		Advertised: func() {
			u.json("relay_advertised", map[string]any{"key": engine.RelayKey})
		},
		Logger: a.logger(),
	}, func(addrs []string) {
		u.json("node", map[string]any{"addrs": nonNil(addrs), "identity": id, "transfer_relay": !f.public})
		if u.mode == modeJSON {
			return
		}
		fmt.Fprintln(u.out, "pcp node running (Ctrl-C stops it). Its addresses:")
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
