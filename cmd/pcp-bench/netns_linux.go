package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// netPair is two network namespaces joined by a veth pair, 10.213.0.1/24
// (the sender's) and 10.213.0.2/24, MTU 65535 like lo, so that the default
// path (mDNS, TCP and QUIC on every interface) runs over a link of its own.
type netPair struct {
	ns [2]string
	ip [2]string
}

func newNetPair() (*netPair, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("not root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, errors.New("no ip command")
	}
	p := &netPair{ns: [2]string{fmt.Sprintf("pcpbench%d-s", os.Getpid()), fmt.Sprintf("pcpbench%d-r", os.Getpid())},
		ip: [2]string{"10.213.0.1", "10.213.0.2"}}
	steps := [][]string{
		{"netns", "add", p.ns[0]},
		{"netns", "add", p.ns[1]},
		{"-n", p.ns[0], "link", "add", "eth0", "mtu", "65535", "type", "veth", "peer", "name", "eth0", "mtu", "65535", "netns", p.ns[1]},
	}
	for i := range 2 {
		steps = append(steps,
			[]string{"-n", p.ns[i], "addr", "add", p.ip[i] + "/24", "dev", "eth0"},
			[]string{"-n", p.ns[i], "link", "set", "eth0", "up"},
			[]string{"-n", p.ns[i], "link", "set", "lo", "up"})
	}
	for _, s := range steps {
		if out, err := exec.Command("ip", s...).CombinedOutput(); err != nil {
			p.close()
			return nil, fmt.Errorf("ip %s: %v: %s", strings.Join(s, " "), err, strings.TrimSpace(string(out)))
		}
	}
	return p, nil
}

// command runs name in namespace i.
func (p *netPair) command(i int, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", p.ns[i], name}, args...)...)
}

func (p *netPair) close() {
	for _, ns := range p.ns {
		_ = exec.Command("ip", "netns", "del", ns).Run()
	}
}

// limit shapes the sender's egress to rate (tc tbf, e.g. "200mbit") until
// the returned func is called.
func (p *netPair) limit(rate string) (func(), error) {
	args := []string{"-n", p.ns[0], "qdisc", "add", "dev", "eth0", "root", "tbf", "rate", rate, "burst", "256kb", "latency", "50ms"}
	if out, err := exec.Command("tc", args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("tc %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return func() { _ = exec.Command("tc", "-n", p.ns[0], "qdisc", "del", "dev", "eth0", "root").Run() }, nil
}

// sentBytes is what the sender's end of the veth has sent so far.
func (p *netPair) sentBytes() int64 {
	out, err := p.command(0, "cat", "/sys/class/net/eth0/statistics/tx_bytes").Output()
	if err != nil {
		return 0
	}
	var n int64
	fmt.Sscan(string(out), &n)
	return n
}
