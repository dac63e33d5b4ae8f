package main

import (
	"strings"
	"syscall"
	"testing"
)

// A node's relay limits are parsed once at start: limits that would make a
// relay for meeting only, or that contradict --public-limits, are usage
// errors (exit 2) before anything listens.
func TestNodeRefusesMeetingOnlyLimits(t *testing.T) {
	for _, args := range [][]string{
		{"--circuit-data", "1M"},
		{"--circuit-duration", "2m"},
		{"--relay-rate", "fast"},
		{"--public-limits", "--relay-rate", "10M"},
	} {
		r := runPCP(t, t.TempDir(), "", append([]string{"node", "--ephemeral", "--listen", "/ip4/127.0.0.1/tcp/0"}, args...)...)
		if r.code != exitUsage {
			t.Errorf("pcp node %v: exit %d, want %d (usage)\n%s", args, r.code, exitUsage, r.stderr)
		}
		if strings.Contains(r.stdout, "pcp node running") {
			t.Errorf("pcp node %v started: %s", args, r.stdout)
		}
	}
}

// The limits a node runs with are stated in its node event and its text.
func TestNodeStatesItsLimits(t *testing.T) {
	p := start(t, t.TempDir(), nil, "node", "--json", "--ephemeral", "--listen", "/ip4/127.0.0.1/tcp/0",
		"--relay-rate", "20M", "--circuit-data", "4G", "--circuit-duration", "1h")
	ev := p.waitEvent("node", nil)
	if num(ev, "relay_rate") != 20<<20 || num(ev, "circuit_data") != 4<<30 || num(ev, "circuit_duration_s") != 3600 || ev["transfer_relay"] != true {
		t.Errorf("node event %v: want relay_rate 20 MiB/s, circuit_data 4 GiB, circuit_duration_s 3600, transfer_relay", ev)
	}
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(); code != 0 {
		t.Fatalf("node exit %d after Ctrl-C\n%s", code, p.errText())
	}
}
