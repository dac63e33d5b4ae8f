package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/pcp-p2p/pcp/engine/p2p"
)

// manyFilesTree writes n files of 100 bytes under src: a manifest of more
// than a public relay's 128 KiB circuit for n in the thousands.
func manyFilesTree(t *testing.T, src string, n int) {
	t.Helper()
	for i := range n {
		writeRandom(t, filepath.Join(src, fmt.Sprintf("d%02d", i%16), fmt.Sprintf("a-file-with-a-longish-name-%05d.txt", i)), 100)
	}
}

// The peers meet over a public-like relay (128 KiB per circuit) and the
// manifest is larger than that: it must not go over the circuit, which
// would cut it. Once a direct connection exists (the test dials it, as a
// hole punch would), the receiver fetches the manifest on a stream of its
// own, and the transfer completes exact.
func TestLargeManifestWaitsForAPath(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	src := filepath.Join(t.TempDir(), "src")
	manyFilesTree(t, src, 3000)
	ro, res, _, senderAddrs := relayPairNode(t, ctx, p2p.NodeOptions{PublicLimits: true}, src)
	var direct []ma.Multiaddr
	for _, a := range senderAddrs {
		m, err := ma.NewMultiaddr(a)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.ValueForProtocol(ma.P_CIRCUIT); err == nil {
			continue
		}
		direct = append(direct, m)
	}
	var authPath string
	ro.Events = func(e Event) {
		if a, ok := e.(AuthenticatedEvent); ok {
			authPath = a.Path
		}
	}
	ro.afterAuth = func(h host.Host, p peer.ID) {
		// What the sender's hole punch would do, after a moment on the
		// relay: the control stream stays on the limited circuit.
		info, err := peer.AddrInfoFromP2pAddr(direct[0])
		if err != nil {
			info = &peer.AddrInfo{ID: p, Addrs: direct}
		}
		info.Addrs = direct
		for i := range info.Addrs {
			info.Addrs[i], _ = ma.SplitLast(info.Addrs[i]) // drop /p2p/
		}
		if err := h.Connect(network.WithForceDirectDial(ctx, "stand-in punch"), *info); err != nil {
			t.Errorf("direct dial: %v", err)
		}
	}
	sum, err := Receive(ctx, ro)
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	if sr := <-res; sr.err != nil {
		t.Fatalf("Send: %v", sr.err)
	}
	if authPath != p2p.PathRelayed {
		t.Errorf("authenticated over %q, want relayed (the manifest must have had a reason to move)", authPath)
	}
	if sum.Path != p2p.PathDirect {
		t.Errorf("done over %q, want direct", sum.Path)
	}
	assertSameTree(t, src, filepath.Join(ro.Dest, "src"))
}

// With no path but the public relay, a large manifest is never sent over
// it: the receiver stops with ErrNoPath, not with a cut manifest read as a
// misbehaving sender.
func TestLargeManifestNoPath(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	src := filepath.Join(t.TempDir(), "src")
	manyFilesTree(t, src, 3000)
	ro, res := relayPair(t, ctx, p2p.NodeOptions{PublicLimits: true}, src)
	ro.noPathWait = 2 * time.Second
	_, err := Receive(ctx, ro)
	cancel()
	<-res
	if !errors.Is(err, ErrNoPath) || errors.Is(err, ErrPeerMisbehaving) {
		t.Fatalf("Receive: %v, want ErrNoPath", err)
	}
}

// A manifest stream is served only for a session that announced one, to
// its own peer, once: anything else is a misbehaving peer, and no byte of
// the manifest is written.
func TestServeManifestRefuses(t *testing.T) {
	const alice, mallory = peer.ID("alice"), peer.ID("mallory")
	srv := newServer(testPass(t), "sender", 3, nil, discard(nil))
	announced := &srvSession{id: [32]byte{1}, peer: alice}
	announced.manifestPending.Store(true)
	quiet := &srvSession{id: [32]byte{2}, peer: alice}
	srv.sessions[announced.id], srv.sessions[quiet.id] = announced, quiet
	for _, tc := range []struct {
		name string
		id   [32]byte
		from peer.ID
	}{
		{"unknown session", [32]byte{9}, alice},
		{"another peer's session", announced.id, mallory},
		{"not announced", quiet.id, alice},
	} {
		var out bytes.Buffer
		err := srv.serveManifest(context.Background(), nopRWC{&out}, tc.id, tc.from)
		if !errors.Is(err, ErrPeerMisbehaving) || out.Len() != 0 {
			t.Errorf("%s: %v, %d bytes written; want ErrPeerMisbehaving and nothing", tc.name, err, out.Len())
		}
	}
	if !announced.manifestPending.Load() {
		t.Errorf("a refused request used up the announced session's manifest")
	}
}

type nopRWC struct{ *bytes.Buffer }

func (nopRWC) Close() error { return nil }
