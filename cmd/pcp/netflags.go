package main

import (
	"errors"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/pcp-p2p/pcp/engine"
)

// EnvBootstrap lists bootstrap multiaddrs, comma or space separated, used
// when no --bootstrap flag is given.
const EnvBootstrap = "PCP_BOOTSTRAP"

// netFlags are the network flags shared by send and receive.
type netFlags struct {
	listen      []string
	bootstrap   []string
	relays      []string
	direct      []string
	mdnsOnly    bool
	dhtOnly     bool
	noDiscovery bool
	noPortMap   bool
	timeout     time.Duration
}

func (n *netFlags) register(fs *pflag.FlagSet, receiver bool) {
	fs.StringArrayVar(&n.listen, "listen", nil, "listen on this multiaddr (repeatable; default all interfaces, random ports)")
	fs.StringArrayVar(&n.bootstrap, "bootstrap", nil, "DHT bootstrap peer multiaddr with /p2p/ (repeatable; env "+EnvBootstrap+")")
	fs.StringArrayVar(&n.relays, "relay", nil, "circuit relay multiaddr with /p2p/ to use (repeatable)")
	fs.BoolVar(&n.mdnsOnly, "mdns-only", false, "find peers on the local network only (no DHT)")
	fs.BoolVar(&n.dhtOnly, "dht-only", false, "find peers through the DHT only (no mDNS)")
	fs.BoolVar(&n.noDiscovery, "no-discovery", false, "no mDNS and no DHT: the receiver must use --direct")
	fs.BoolVar(&n.noPortMap, "no-port-map", false, "do not ask the router for a port mapping (UPnP / NAT-PMP)")
	if receiver {
		fs.StringArrayVar(&n.direct, "direct", nil, "dial the sender at this multiaddr (with /p2p/) instead of searching (repeatable)")
		fs.DurationVar(&n.timeout, "timeout", 2*time.Minute, "give up when no sender is found within this time")
	}
}

// splitList splits a comma- or space-separated list.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n'
	})
}

// options validates the flags and builds the engine's NetworkOptions.
// getenv is os.Getenv outside tests.
func (n *netFlags) options(getenv func(string) string) (engine.NetworkOptions, error) {
	if n.mdnsOnly && n.dhtOnly {
		return engine.NetworkOptions{}, usageError{errors.New("--mdns-only and --dht-only exclude each other")}
	}
	if n.noDiscovery && (n.mdnsOnly || n.dhtOnly) {
		return engine.NetworkOptions{}, usageError{errors.New("--no-discovery excludes --mdns-only and --dht-only")}
	}
	if n.timeout < 0 {
		return engine.NetworkOptions{}, usageError{errors.New("--timeout must not be negative")}
	}
	boot := n.bootstrap
	if len(boot) == 0 && getenv != nil {
		boot = splitList(getenv(EnvBootstrap))
	}
	var flat []string
	for _, b := range boot {
		flat = append(flat, splitList(b)...)
	}
	return engine.NetworkOptions{
		ListenAddrs: n.listen,
		Bootstrap:   flat,
		Relays:      n.relays,
		Direct:      n.direct,
		MDNSOnly:    n.mdnsOnly,
		DHTOnly:     n.dhtOnly,
		NoDiscovery: n.noDiscovery,
		NoPortMap:   n.noPortMap,
		FindTimeout: n.timeout,
	}, nil
}
