package discovery

import (
	"context"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

func TestDedupMergesAndDropsSelf(t *testing.T) {
	const self, p, q = peer.ID("self"), peer.ID("p"), peer.ID("q")
	a1 := ma.StringCast("/ip4/10.0.0.1/tcp/1")
	a2 := ma.StringCast("/ip4/10.0.0.2/tcp/2")
	in := make(chan Candidate, 8)
	out := make(chan Candidate)
	for _, c := range []Candidate{
		{peer.AddrInfo{ID: self, Addrs: []ma.Multiaddr{a1}}, SourceMDNS},
		{peer.AddrInfo{ID: p, Addrs: []ma.Multiaddr{a1}}, SourceMDNS},
		{peer.AddrInfo{ID: p, Addrs: []ma.Multiaddr{a1}}, SourceDHT},     // nothing new: dropped
		{peer.AddrInfo{ID: q, Addrs: []ma.Multiaddr{a2}}, SourceDHT},     //
		{peer.AddrInfo{ID: p, Addrs: []ma.Multiaddr{a2, a1}}, SourceDHT}, // new addr: merged
	} {
		in <- c
	}
	close(in)
	go dedup(context.Background(), self, in, out)
	var got []Candidate
	for c := range out {
		got = append(got, c)
	}
	if len(got) != 3 {
		t.Fatalf("want 3 candidates, got %v", got)
	}
	if got[0].Info.ID != p || got[1].Info.ID != q || got[2].Info.ID != p {
		t.Fatalf("order: %v", got)
	}
	if len(got[2].Info.Addrs) != 2 || !got[2].Info.Addrs[0].Equal(a1) || !got[2].Info.Addrs[1].Equal(a2) {
		t.Fatalf("merged addrs: %v", got[2].Info.Addrs)
	}
	if len(got[0].Info.Addrs) != 1 {
		t.Fatalf("first yield mutated by the merge: %v", got[0].Info.Addrs)
	}
}

func FuzzParseTXT(f *testing.F) {
	f.Add("dnsaddr=/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWGzZB6jBj6DJ5ooD6Bz7J3zvFQxo4DJzyvLqeqHwtvNqX", "dnsaddr=/ip4/1.2.3.4/udp/1/quic-v1")
	f.Add("dnsaddr=", "garbage")
	f.Add("dnsaddr=/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN", "dnsaddr=/dns4/x.local/tcp/1/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN")
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, ai := range parseTXT([]string{a, b}) {
			if ai.ID == "" {
				t.Fatalf("peer without ID from %q %q", a, b)
			}
			if err := ai.ID.Validate(); err != nil {
				t.Fatalf("invalid ID from %q %q: %v", a, b, err)
			}
		}
	})
}
