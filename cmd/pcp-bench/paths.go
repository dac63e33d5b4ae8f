package main

import (
	"os"
	"os/exec"
	"time"

	"github.com/pcp-p2p/pcp/engine"
)

// route is how a transfer's children reach each other.
//
//   - nil: the direct path, as `pcp receive --direct` takes it: the sender
//     listens on 127.0.0.1 TCP only and the receiver is given its address.
//   - mdns: the default path, as users take it: the sender listens on every
//     interface, TCP and QUIC, and advertises by mDNS; the receiver finds
//     it by mDNS and dials what libp2p picks. In a pair of network
//     namespaces joined by a veth when the bench runs as root (ns set),
//     else on this machine's own interfaces.
type route struct {
	ns    *netPair // nil: the current namespace
	label string   // for the output
}

// command runs the bench binary as a child, in namespace i (0 sender, 1
// receiver) of r's pair if there is one.
func (r *route) command(i int) *exec.Cmd {
	if r == nil || r.ns == nil {
		return exec.Command(os.Args[0])
	}
	return r.ns.command(i, os.Args[0])
}

// env tells the children which route they are on.
func (r *route) env() []string {
	if r == nil {
		return nil
	}
	return []string{"PCP_BENCH_ROUTE=mdns"}
}

// childNetwork is a child's NetworkOptions for the route named in its
// environment.
func childNetwork() engine.NetworkOptions {
	if os.Getenv("PCP_BENCH_ROUTE") == "mdns" {
		return engine.NetworkOptions{MDNSOnly: true, NoPortMap: true, FindTimeout: 60 * time.Second}
	}
	return engine.NetworkOptions{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, NoDiscovery: true}
}

// defaultRoute sets up the default path: a namespace pair when it can
// (root, Linux), else the current namespace. The caller closes it.
func defaultRoute() (*route, func()) {
	ns, err := newNetPair()
	if err != nil {
		return &route{label: "mDNS, this namespace (" + err.Error() + ")"}, func() {}
	}
	return &route{ns: ns, label: "mDNS, 2 netns over a veth"}, ns.close
}
