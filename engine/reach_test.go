package engine

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/pcp-p2p/pcp/engine/p2p"
)

// relayPair starts a real relay node on loopback (public-like or
// transfer-grade), a sender that reserves a slot on it, and returns a
// receiver's options that reach the sender only through the relay's
// circuit. On loopback no hole punch can happen (no public address), so
// the relay is the only path.
func relayPair(t *testing.T, ctx context.Context, no p2p.NodeOptions, src string) (ReceiveOptions, <-chan sendResult) {
	t.Helper()
	ro, res, _, _ := relayPairNode(t, ctx, no, src)
	return ro, res
}

// relayPairNode is relayPair, returning the relay node and the sender's
// own addresses too.
func relayPairNode(t *testing.T, ctx context.Context, no p2p.NodeOptions, src string) (ReceiveOptions, <-chan sendResult, *p2p.Node, []string) {
	t.Helper()
	no.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0"}
	node, err := p2p.NewNode(ctx, no)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close() })
	relay := node.Addrs()[0].String()
	pass := testPass(t)
	net := loopback
	net.Relays, net.private = []string{relay}, true
	addrs, res := startSender(t, ctx, SendOptions{Paths: []string{src}, Passphrase: pass, Network: net})
	infos, err := p2p.ParseAddrInfos(addrs)
	if err != nil || len(infos) == 0 {
		t.Fatalf("sender addresses %v: %v", addrs, err)
	}
	id := infos[0].ID
	ro := recvOpts(pass, filepath.Join(t.TempDir(), "out"), []string{relay + "/p2p-circuit/p2p/" + id.String()})
	ro.Network.FindTimeout = 30 * time.Second // the reservation comes first
	return ro, res, node, addrs
}

// Over a public-like relay (libp2p's 128 KiB / 2 min circuits) the peers
// meet and authenticate, but no data stream opens: the receiver stops with
// ErrNoPath once its wait for another path is spent, having fetched nothing.
func TestReceiveNoPathOverLimitedRelay(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	src := filepath.Join(t.TempDir(), "src")
	writeRandom(t, filepath.Join(src, "big.bin"), 4<<20)
	ro, res := relayPair(t, ctx, p2p.NodeOptions{PublicLimits: true}, src)
	ro.noPathWait = 2 * time.Second
	var progressed int64
	var authPath string
	ro.Events = func(e Event) {
		switch e := e.(type) {
		case AuthenticatedEvent:
			authPath = e.Path
		case ProgressEvent:
			progressed = max(progressed, e.Bytes)
		}
	}
	_, err := Receive(ctx, ro)
	cancel()
	<-res
	if !errors.Is(err, ErrNoPath) {
		t.Fatalf("Receive: %v, want ErrNoPath", err)
	}
	if authPath != p2p.PathRelayed {
		t.Errorf("authenticated over %q, want relayed", authPath)
	}
	if progressed != 0 {
		t.Errorf("%d bytes arrived over a limited relay", progressed)
	}
}

// Over a transfer-grade relay (no per-circuit limit) the data flows, and
// arrives exact.
func TestReceiveOverTransferRelay(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	src := filepath.Join(t.TempDir(), "src")
	writeRandom(t, filepath.Join(src, "big.bin"), 4<<20)
	writeRandom(t, filepath.Join(src, "d", "small.bin"), 1000)
	ro, res := relayPair(t, ctx, p2p.NodeOptions{}, src)
	sum, err := Receive(ctx, ro)
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	if sr := <-res; sr.err != nil {
		t.Fatalf("Send: %v", sr.err)
	}
	if sum.Path != p2p.PathRelayed {
		t.Errorf("done over %q, want relayed", sum.Path)
	}
	assertSameTree(t, src, filepath.Join(ro.Dest, "src"))
}

// A relay whose operator limits each circuit (here to the least that is
// still transfer-grade: 64 MiB each way, 10 minutes) carries data: its
// circuits are Limited, but data streams open on them, and when the relay
// ends a circuit at its data limit the receiver resumes on another path
// (on loopback, where nothing stops a direct dial once identify has told
// the sender's addresses, a direct one). The operator's rate limit sees
// every relayed byte: a full circuit's worth of data passed it.
func TestReceiveOverOperatorLimitedRelay(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	src := filepath.Join(t.TempDir(), "src")
	const size = p2p.MinTransferCircuitData + 8<<20
	writeRandom(t, filepath.Join(src, "big.bin"), size)
	limits := p2p.RelayLimits{CircuitData: p2p.MinTransferCircuitData, CircuitDuration: p2p.MinTransferCircuitDuration, Rate: 1 << 40}
	ro, res, node, _ := relayPairNode(t, ctx, p2p.NodeOptions{Limits: limits}, src)
	sum, err := Receive(ctx, ro)
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	if sr := <-res; sr.err != nil {
		t.Fatalf("Send: %v", sr.err)
	}
	if sum.Reconnects < 1 {
		t.Errorf("%d reconnects: the %d-byte payload should have outlasted a %d-byte circuit", sum.Reconnects, size, limits.CircuitData)
	}
	if got := node.RateLimitedBytes(); got < limits.CircuitData {
		t.Errorf("%d bytes passed the relay's rate limit, less than one %d-byte circuit: data did not flow over the limited circuit", got, limits.CircuitData)
	}
	assertSameTree(t, src, filepath.Join(ro.Dest, "src"))
}
