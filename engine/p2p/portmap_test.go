package p2p

import (
	"testing"

	ma "github.com/multiformats/go-multiaddr"
)

// fakeNAT maps every listen address to one external address.
type fakeNAT struct{ mapped map[string]ma.Multiaddr }

func (f fakeNAT) GetMapping(a ma.Multiaddr) ma.Multiaddr { return f.mapped[a.String()] }
func (fakeNAT) HasDiscoveredNAT() bool                   { return true }
func (fakeNAT) Close() error                             { return nil }

func TestPortMapAddsMappedAddrs(t *testing.T) {
	h := newTestHost(t, HostOptions{})
	listen := h.Network().ListenAddresses()
	if len(listen) == 0 {
		t.Fatal("host listens nowhere")
	}
	ext := ma.StringCast("/ip4/203.0.113.9/tcp/40001")
	relay := ma.StringCast("/ip4/198.51.100.1/tcp/4001/p2p/12D3KooWPbWEyXzf6JW9ecdnUo6VWYrjnUhhYsVUcjweAmQULjsj/p2p-circuit")

	var p portMap
	if got := p.addrs([]ma.Multiaddr{relay}); len(got) != 1 {
		t.Fatalf("before the NAT manager exists: %v, want the input unchanged", got)
	}
	p.state.Store(&portMapState{net: h.Network(), mgr: fakeNAT{mapped: map[string]ma.Multiaddr{listen[0].String(): ext}}})
	in := make([]ma.Multiaddr, 1, 4)
	in[0] = relay
	got := p.addrs(in)
	if len(got) != 2 || !got[0].Equal(relay) || !got[1].Equal(ext) {
		t.Fatalf("addrs = %v, want the relay address and the mapped %s", got, ext)
	}
	if in[:2][1] != nil {
		t.Errorf("addrs wrote into the caller's array")
	}
	// Already announced (libp2p kept it): not added twice.
	if got := p.addrs([]ma.Multiaddr{ext, relay}); len(got) != 2 {
		t.Errorf("addrs = %v, want no duplicate of %s", got, ext)
	}
}
