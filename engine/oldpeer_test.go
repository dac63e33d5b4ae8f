package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/pcp-p2p/pcp/engine/p2p"
	"github.com/pcp-p2p/pcp/engine/wire"
)

// An older pcp is played by a real libp2p host that registers only
// wire.OldProtocolID. That is a faithful stand-in: what tells the versions
// apart is multistream-select, which runs before the first pcp byte, and
// there an older pcp differs from this one only in the transfer protocol ID
// it registers (both run the same libp2p, identify included). Nothing
// either side does after the negotiation is reached.

// TestReceiverMeetsOldSender: a sender that speaks only the old protocol is
// reported as ErrOldPeer, not searched for until the timeout.
func TestReceiverMeetsOldSender(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	old, err := p2p.NewHost(p2p.HostOptions{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	old.SetStreamHandler(wire.OldProtocolID, func(s network.Stream) { _ = s.Reset() })
	var addrs []string
	for _, a := range old.Addrs() {
		addrs = append(addrs, fmt.Sprintf("%s/p2p/%s", a, old.ID()))
	}
	ro := recvOpts(testPass(t), t.TempDir(), addrs)
	ro.Network.FindTimeout = 45 * time.Second
	start := time.Now()
	_, err = Receive(ctx, ro)
	if !errors.Is(err, ErrOldPeer) {
		t.Fatalf("Receive: %v, want ErrOldPeer", err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Fatalf("ErrOldPeer after %v: it should not wait for the search timeout", took)
	}
	if want := "older pcp (protocol 2.0.0)"; !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not say %q", err, want)
	}
}

// TestSenderRefusesOldReceiver: a receiver of an older pcp negotiates the
// old protocol and sends its Open frame; the sender resets the stream at
// once, tells its user (OldPeerEvent, once for the peer) and still serves
// a current receiver.
func TestSenderRefusesOldReceiver(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	oldPeers := make(chan string, 4)
	pass := testPass(t)
	src := oneFile(t)
	addrs, res := startSender(t, ctx, SendOptions{Paths: []string{src}, Passphrase: pass, Events: func(e Event) {
		if o, ok := e.(OldPeerEvent); ok {
			oldPeers <- o.Peer
		}
	}})
	h, id := attacker(t, ctx, addrs)
	for range 2 {
		s, err := h.NewStream(ctx, id, wire.OldProtocolID)
		if err != nil {
			t.Fatalf("the sender does not take the old protocol at all: %v", err)
		}
		_, _ = s.Write(openFrame())
		_ = s.SetReadDeadline(time.Now().Add(watchdog))
		if _, err := io.Copy(io.Discard, s); err == nil {
			t.Fatal("the old receiver's stream was closed cleanly, want reset")
		} else if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
			t.Fatalf("the sender kept the old receiver's stream open: %v", err)
		}
	}
	select {
	case p := <-oldPeers:
		if p != h.ID().String() {
			t.Fatalf("OldPeerEvent for %s, want %s", p, h.ID())
		}
	case <-time.After(watchdog):
		t.Fatal("no OldPeerEvent")
	}
	select {
	case p := <-oldPeers:
		t.Fatalf("a second OldPeerEvent for %s: want one per peer", p)
	default:
	}
	dest := t.TempDir()
	if _, err := Receive(ctx, recvOpts(pass, dest, addrs)); err != nil {
		t.Fatalf("a current receiver after the old one: %v", err)
	}
	if r := waitSend(t, res); r.err != nil {
		t.Fatalf("Send: %v", r.err)
	}
}
