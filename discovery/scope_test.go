package discovery

import (
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

func maddrs(ss ...string) []ma.Multiaddr {
	var out []ma.Multiaddr
	for _, s := range ss {
		out = append(out, ma.StringCast(s))
	}
	return out
}

func TestDHTScopeFilter(t *testing.T) {
	addrs := maddrs(
		"/ip4/127.0.0.1/tcp/1",
		"/ip6/::1/udp/2/quic-v1",
		"/ip4/192.168.1.5/tcp/3",
		"/ip4/10.0.0.7/udp/4/quic-v1",
		"/ip4/5.6.7.8/tcp/5",
		"/ip4/9.9.9.9/tcp/4001/p2p/12D3KooWLdKTLeu8pCZ3hxvLGFTxpfvsmvZ6XHjr9yRUGrc7PRaR/p2p-circuit",
		"/ip6/2001:4860::1/tcp/6",
	)
	cases := []struct {
		name string
		boot []peer.AddrInfo
		want []string
	}{
		{"public bootstrap: public and relayed only", []peer.AddrInfo{{Addrs: maddrs("/ip4/1.1.1.1/tcp/4001")}},
			[]string{"/ip4/5.6.7.8/tcp/5",
				"/ip4/9.9.9.9/tcp/4001/p2p/12D3KooWLdKTLeu8pCZ3hxvLGFTxpfvsmvZ6XHjr9yRUGrc7PRaR/p2p-circuit",
				"/ip6/2001:4860::1/tcp/6"}},
		{"no bootstrap addresses: public", nil,
			[]string{"/ip4/5.6.7.8/tcp/5",
				"/ip4/9.9.9.9/tcp/4001/p2p/12D3KooWLdKTLeu8pCZ3hxvLGFTxpfvsmvZ6XHjr9yRUGrc7PRaR/p2p-circuit",
				"/ip6/2001:4860::1/tcp/6"}},
		{"LAN bootstrap: no loopback", []peer.AddrInfo{{Addrs: maddrs("/ip4/192.168.1.1/tcp/4001")}},
			[]string{"/ip4/192.168.1.5/tcp/3", "/ip4/10.0.0.7/udp/4/quic-v1", "/ip4/5.6.7.8/tcp/5",
				"/ip4/9.9.9.9/tcp/4001/p2p/12D3KooWLdKTLeu8pCZ3hxvLGFTxpfvsmvZ6XHjr9yRUGrc7PRaR/p2p-circuit",
				"/ip6/2001:4860::1/tcp/6"}},
		{"one machine: everything", []peer.AddrInfo{{Addrs: maddrs("/ip4/127.0.0.1/tcp/4001")}},
			[]string{"/ip4/127.0.0.1/tcp/1", "/ip6/::1/udp/2/quic-v1", "/ip4/192.168.1.5/tcp/3", "/ip4/10.0.0.7/udp/4/quic-v1",
				"/ip4/5.6.7.8/tcp/5",
				"/ip4/9.9.9.9/tcp/4001/p2p/12D3KooWLdKTLeu8pCZ3hxvLGFTxpfvsmvZ6XHjr9yRUGrc7PRaR/p2p-circuit",
				"/ip6/2001:4860::1/tcp/6"}},
		{"widest wins", []peer.AddrInfo{{Addrs: maddrs("/ip4/127.0.0.1/tcp/4001", "/ip4/1.1.1.1/tcp/4001")}},
			[]string{"/ip4/5.6.7.8/tcp/5",
				"/ip4/9.9.9.9/tcp/4001/p2p/12D3KooWLdKTLeu8pCZ3hxvLGFTxpfvsmvZ6XHjr9yRUGrc7PRaR/p2p-circuit",
				"/ip6/2001:4860::1/tcp/6"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := scopeFilter(dhtScope(c.boot))(addrs)
			if len(got) != len(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			for i := range got {
				if got[i].String() != c.want[i] {
					t.Errorf("%d: %s, want %s", i, got[i], c.want[i])
				}
			}
		})
	}
}
