package engine

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pcp-p2p/pcp/engine/p2p"
)

// TestReceiverFollowsSenderToNewAddress: the sender is stopped in the
// middle of a transfer and started again on another port, with the same
// identity or (its state lost) a new one. The waiting receiver, which found
// it through a private DHT of one real node, finds it again there,
// authenticates again and completes the files byte for byte.
func TestReceiverFollowsSenderToNewAddress(t *testing.T) {
	for _, newID := range []bool{false, true} {
		name := "same identity"
		if newID {
			name = "new identity"
		}
		t.Run(name, func(t *testing.T) { followRestart(t, newID) })
	}
}

func followRestart(t *testing.T, newID bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	node, err := p2p.NewNode(ctx, p2p.NodeOptions{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}})
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	dhtNet := NetworkOptions{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, DHTOnly: true, NoPortMap: true,
		Bootstrap: []string{node.Addrs()[0].String()}}

	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeRandom(t, filepath.Join(src, "big.bin"), 6<<20)
	writeRandom(t, filepath.Join(src, "d", "small.bin"), 1000)
	pass := testPass(t)
	key := filepath.Join(dir, "sender.key")

	sctx, stopFirst := context.WithCancel(ctx)
	defer stopFirst()
	first, res1 := startSender(t, sctx, SendOptions{Paths: []string{src}, Passphrase: pass, IdentityPath: key,
		RateLimit: 1 << 20, Network: dhtNet})

	dest := filepath.Join(dir, "out")
	ro := ReceiveOptions{Passphrase: pass, Dest: dest, ResumeLogPath: filepath.Join(dir, "state", ResumeLogFile),
		Streams: 1, Network: dhtNet}
	ro.Network.FindTimeout = time.Minute
	ro.Patience = 45 * time.Second
	moved := make(chan struct{})
	var once sync.Once
	renewed := make(chan RenewedEvent, 4)
	joined := make(chan string, 8) // peers that joined as sources (the swarm path)
	ro.Events = func(e Event) {
		switch e := e.(type) {
		case ProgressEvent:
			if e.Bytes > 0 && e.Bytes < e.TotalBytes {
				once.Do(func() { close(moved) })
			}
		case RenewedEvent:
			renewed <- e
		case SourceEvent:
			if e.Joined {
				select {
				case joined <- e.Peer:
				default:
				}
			}
		}
	}
	recvRes := make(chan error, 1)
	go func() {
		_, err := Receive(ctx, ro)
		recvRes <- err
	}()
	select {
	case <-moved:
	case err := <-recvRes:
		t.Fatalf("Receive ended before the sender was stopped: %v", err)
	case <-ctx.Done():
		t.Fatal("no progress")
	}
	stopFirst()
	<-res1

	if newID {
		key = filepath.Join(dir, "other.key")
	}
	second, res2 := startSender(t, ctx, SendOptions{Paths: []string{src}, Passphrase: pass, IdentityPath: key, Network: dhtNet})
	if first[0] == second[0] {
		t.Fatalf("the restarted sender listens at the same address %s: nothing to follow", first[0])
	}
	secondID := second[0][strings.LastIndex(second[0], "/p2p/")+5:]
	if sameID := secondID == first[0][strings.LastIndex(first[0], "/p2p/")+5:]; sameID == newID {
		t.Fatalf("restarted sender %s, first %s: new identity %v", second[0], first[0], newID)
	}
	if err := <-recvRes; err != nil {
		t.Fatalf("Receive: %v", err)
	}
	// The restarted sender is taken either by authenticating again (the
	// same peer, or a switch to a new identity), or, on the swarm path, by
	// joining it as another source of the same root.
	again := false
	select {
	case rn := <-renewed:
		if rn.Peer != secondID {
			t.Errorf("renewed with %s, want the restarted sender %s", rn.Peer, secondID)
		}
		again = true
	default:
	}
	close(joined)
	for p := range joined {
		again = again || (newID && p == secondID)
	}
	if !again {
		t.Error("the receiver completed without authenticating again with the restarted sender")
	}
	if r := <-res2; r.err != nil {
		t.Fatalf("restarted sender: %v", r.err)
	}
	assertSameTree(t, src, filepath.Join(dest, "src"))
}
