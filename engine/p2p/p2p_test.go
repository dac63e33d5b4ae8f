package p2p

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	relayclient "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	relayv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	tls "github.com/libp2p/go-libp2p/p2p/security/tls"
	ma "github.com/multiformats/go-multiaddr"
)

var loopback = []string{"/ip4/127.0.0.1/tcp/0"}

func newTestHost(t testing.TB, opts HostOptions) host.Host {
	t.Helper()
	if opts.ListenAddrs == nil {
		opts.ListenAddrs = loopback
	}
	h, err := NewHost(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func newTestNode(t testing.TB, opts NodeOptions) *Node {
	t.Helper()
	if opts.ListenAddrs == nil {
		opts.ListenAddrs = loopback
	}
	n, err := NewNode(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func addrInfo(h host.Host) peer.AddrInfo { return peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()} }

func TestParseAddrInfos(t *testing.T) {
	a := newTestHost(t, HostOptions{})
	b := newTestHost(t, HostOptions{})
	s := func(h host.Host, addr string) string { return addr + "/p2p/" + h.ID().String() }
	in := []string{
		s(b, "/ip4/10.0.0.1/tcp/1"),
		s(a, "/ip4/10.0.0.2/tcp/2"),
		s(b, "/ip4/10.0.0.3/udp/3/quic-v1"),
		"/p2p/" + a.ID().String(),
	}
	got, err := ParseAddrInfos(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != b.ID() || got[1].ID != a.ID() {
		t.Fatalf("want [b a] in order of first appearance, got %v", got)
	}
	if len(got[0].Addrs) != 2 || got[0].Addrs[1].String() != "/ip4/10.0.0.3/udp/3/quic-v1" {
		t.Fatalf("b addrs: %v", got[0].Addrs)
	}
	if len(got[1].Addrs) != 1 || got[1].Addrs[0].String() != "/ip4/10.0.0.2/tcp/2" {
		t.Fatalf("a addrs: %v", got[1].Addrs)
	}
	if got, err := ParseAddrInfos(nil); err != nil || got != nil {
		t.Fatalf("empty: %v %v", got, err)
	}
	if _, err := ParseAddrInfos([]string{"/ip4/1.2.3.4/tcp/5"}); !errors.Is(err, ErrNoPeerID) {
		t.Fatalf("no peer id: want ErrNoPeerID, got %v", err)
	}
	if _, err := ParseAddrInfos([]string{"not a multiaddr"}); err == nil {
		t.Fatal("garbage accepted")
	}
}

func FuzzParseAddrInfos(f *testing.F) {
	f.Add("/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWGzZB6jBj6DJ5ooD6Bz7J3zvFQxo4DJzyvLqeqHwtvNqX")
	f.Add("/dnsaddr/bootstrap.libp2p.io/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN")
	f.Add("/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN")
	f.Add("/ip4/1.2.3.4/udp/1/quic-v1/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN/p2p-circuit/p2p/12D3KooWGzZB6jBj6DJ5ooD6Bz7J3zvFQxo4DJzyvLqeqHwtvNqX")
	f.Fuzz(func(t *testing.T, s string) {
		infos, err := ParseAddrInfos([]string{s, s})
		if err != nil {
			return
		}
		if len(infos) != 1 || infos[0].ID == "" {
			t.Fatalf("one string twice must give one peer: %v", infos)
		}
		// Round trip: the printed form parses to the same peer and addrs.
		var again []string
		for _, a := range infos[0].Addrs {
			again = append(again, a.String()+"/p2p/"+infos[0].ID.String())
		}
		if len(again) == 0 {
			return
		}
		back, err := ParseAddrInfos(again)
		if err != nil || len(back) != 1 || back[0].ID != infos[0].ID || len(back[0].Addrs) != len(infos[0].Addrs) {
			t.Fatalf("round trip of %q: %v %v", s, back, err)
		}
	})
}

func TestSubtractCIDR(t *testing.T) {
	parse := func(s string) *net.IPNet {
		_, n, err := net.ParseCIDR(s)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	in := func(nets []*net.IPNet, ip string) bool {
		for _, n := range nets {
			if n.Contains(net.ParseIP(ip)) {
				return true
			}
		}
		return false
	}
	cut := parse("10.77.0.0/24")
	got := subtractCIDR([]*net.IPNet{parse("10.0.0.0/8"), parse("192.168.0.0/16"), parse("10.77.0.0/25")}, cut)
	// 10.0.0.0/8 minus a /24 is 16 prefixes; 192.168/16 kept; 10.77.0.0/25 dropped.
	if len(got) != 17 {
		t.Fatalf("want 17 prefixes, got %d: %v", len(got), got)
	}
	for _, ip := range []string{"10.77.0.0", "10.77.0.5", "10.77.0.255"} {
		if in(got, ip) {
			t.Errorf("%s still listed", ip)
		}
	}
	for _, ip := range []string{"10.0.0.0", "10.76.255.255", "10.77.1.0", "10.255.255.255", "192.168.1.1"} {
		if !in(got, ip) {
			t.Errorf("%s lost", ip)
		}
	}
	// IPv6 nets are untouched by an IPv4 cut.
	v6 := parse("fc00::/7")
	if got := subtractCIDR([]*net.IPNet{v6}, cut); len(got) != 1 || got[0] != v6 {
		t.Fatalf("v6: %v", got)
	}
}

func TestLoadOrCreateIdentity(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "identity.key")
	k1, err := LoadOrCreateIdentity(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", st.Mode().Perm())
	}
	k2, err := LoadOrCreateIdentity(path)
	if err != nil {
		t.Fatal(err)
	}
	if !k1.Equals(k2) {
		t.Fatal("second load gave another key")
	}
	if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateIdentity(path); err == nil {
		t.Fatal("corrupt key accepted")
	}
}

func TestNodeIdentityPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.key")
	n1, err := NewNode(t.Context(), NodeOptions{ListenAddrs: loopback, IdentityPath: path})
	if err != nil {
		t.Fatal(err)
	}
	id1 := n1.Host.ID()
	if len(n1.Addrs()) == 0 {
		t.Fatal("node has no addrs")
	}
	for _, a := range n1.Addrs() {
		if _, id := peer.SplitAddr(a); id != id1 {
			t.Fatalf("addr %s lacks /p2p/%s", a, id1)
		}
	}
	if err := n1.Close(); err != nil {
		t.Fatal(err)
	}
	n2 := newTestNode(t, NodeOptions{IdentityPath: path})
	if n2.Host.ID() != id1 {
		t.Fatalf("restart changed peer ID: %s -> %s", id1, n2.Host.ID())
	}
}

func TestHostPrefersTLSAndPathOf(t *testing.T) {
	a := newTestHost(t, HostOptions{})
	b := newTestHost(t, HostOptions{})
	if got := PathOf(a, b.ID()); got != PathNone {
		t.Fatalf("before connect: %q", got)
	}
	if err := a.Connect(t.Context(), addrInfo(b)); err != nil {
		t.Fatal(err)
	}
	conns := a.Network().ConnsToPeer(b.ID())
	if len(conns) == 0 {
		t.Fatal("no conn")
	}
	if sec := conns[0].ConnState().Security; sec != tls.ID {
		t.Fatalf("security %q, want %q", sec, tls.ID)
	}
	if got := PathOf(a, b.ID()); got != PathDirect {
		t.Fatalf("PathOf = %q, want direct", got)
	}
}

const echoProto = protocol.ID("/pcp-test/sink/1")

// sink reads a stream to EOF and answers with the SHA-256 of what it read.
func sink(s network.Stream) {
	defer s.Close()
	h := sha256.New()
	if _, err := io.Copy(h, s); err != nil {
		s.Reset()
		return
	}
	s.Write(h.Sum(nil))
}

// relayTransfer reserves a slot for b on relay, has a dial b through the
// /p2p-circuit address, and pushes size bytes over a stream on that relayed
// connection. It returns an error when the stream breaks.
func relayTransfer(t *testing.T, relay, a, b host.Host, size int) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	b.SetStreamHandler(echoProto, sink)
	if err := b.Connect(ctx, addrInfo(relay)); err != nil {
		t.Fatal(err)
	}
	if _, err := relayclient.Reserve(ctx, b, addrInfo(relay)); err != nil {
		t.Fatal(err)
	}
	circuit := ma.StringCast("/p2p/" + relay.ID().String() + "/p2p-circuit")
	var relayAddrs []ma.Multiaddr
	for _, ra := range relay.Addrs() {
		relayAddrs = append(relayAddrs, ra.Encapsulate(circuit))
	}
	if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: relayAddrs}); err != nil {
		t.Fatal(err)
	}
	if got := PathOf(a, b.ID()); got != PathRelayed {
		t.Fatalf("PathOf = %q, want relayed", got)
	}
	s, err := a.NewStream(network.WithAllowLimitedConn(ctx, "test"), b.ID(), echoProto)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Conn().RemoteMultiaddr().ValueForProtocol(ma.P_CIRCUIT); err != nil {
		t.Fatalf("stream is not on the relayed conn: %s", s.Conn().RemoteMultiaddr())
	}
	context.AfterFunc(ctx, func() { s.Reset() })
	data := make([]byte, size)
	rand.Read(data)
	want := sha256.Sum256(data)
	if _, err := s.Write(data); err != nil {
		return err
	}
	if err := s.CloseWrite(); err != nil {
		return err
	}
	got, err := io.ReadAll(s)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, want[:]) {
		return errors.New("digest mismatch or short answer")
	}
	return nil
}

// TestNodeRelayCarriesLargeTransfer is the key regression test: 8 MiB go
// through the node's relay without a reset; the libp2p default limits reset
// the same transfer.
func TestNodeRelayCarriesLargeTransfer(t *testing.T) {
	n := newTestNode(t, NodeOptions{})
	a := newTestHost(t, HostOptions{})
	b := newTestHost(t, HostOptions{})
	start := time.Now()
	if err := relayTransfer(t, n.Host, a, b, 8<<20); err != nil {
		t.Fatalf("8 MiB through the node relay: %v", err)
	}
	t.Logf("8 MiB through the relay in %v", time.Since(start))

	t.Run("DefaultLimitsReset", func(t *testing.T) {
		rh, err := libp2p.New(libp2p.ListenAddrStrings(loopback...), libp2p.DisableMetrics())
		if err != nil {
			t.Fatal(err)
		}
		defer rh.Close()
		r, err := relayv2.New(rh)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		a := newTestHost(t, HostOptions{})
		b := newTestHost(t, HostOptions{})
		if err := relayTransfer(t, rh, a, b, 8<<20); err == nil {
			t.Fatal("8 MiB passed a default-limit relay: the regression test cannot tell the configs apart")
		}
	})
}
