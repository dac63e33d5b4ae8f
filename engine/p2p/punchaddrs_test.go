package p2p

import (
	"strconv"
	"testing"

	ma "github.com/multiformats/go-multiaddr"
)

func TestGuessOtherTransports(t *testing.T) {
	listen := []ma.Multiaddr{
		ma.StringCast("/ip4/0.0.0.0/tcp/4001"),
		ma.StringCast("/ip4/0.0.0.0/udp/4002/quic-v1"),
		ma.StringCast("/ip6/::/tcp/4003"),
		ma.StringCast("/ip6/::/udp/4004/quic-v1"),
	}
	cases := []struct {
		name     string
		observed []string
		want     []string
	}{
		{"tcp observed, quic guessed", []string{"/ip4/1.2.3.4/tcp/50000"},
			[]string{"/ip4/1.2.3.4/udp/4002/quic-v1"}},
		{"quic observed, tcp guessed", []string{"/ip4/1.2.3.4/udp/50000/quic-v1"},
			[]string{"/ip4/1.2.3.4/tcp/4001"}},
		{"ipv6 stays ipv6", []string{"/ip6/2001:db8::1/tcp/50000"},
			[]string{"/ip6/2001:db8::1/udp/4004/quic-v1"}},
		{"both observed", []string{"/ip4/1.2.3.4/tcp/50000", "/ip4/5.6.7.8/udp/50001/quic-v1"},
			[]string{"/ip4/1.2.3.4/udp/4002/quic-v1", "/ip4/5.6.7.8/tcp/4001"}},
		{"nothing observed", nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var obs []ma.Multiaddr
			for _, s := range c.observed {
				obs = append(obs, ma.StringCast(s))
			}
			got := guessOtherTransports(obs, listen)
			if len(got) != len(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			for i := range got {
				if got[i].String() != c.want[i] {
					t.Errorf("guess %d = %s, want %s", i, got[i], c.want[i])
				}
			}
		})
	}
}

// The observed set is bounded whatever peers report, and a repeated address
// moves to the newest place instead of taking a second one.
func TestPunchAddrsObservedBounded(t *testing.T) {
	p := &punchAddrs{}
	for i := 0; i < 3*maxObserved; i++ {
		p.add(ma.StringCast("/ip4/1.2.3.4/tcp/" + strconv.Itoa(1000+i)))
	}
	p.add(ma.StringCast("/ip4/1.2.3.4/tcp/" + strconv.Itoa(1000+3*maxObserved-5)))
	if len(p.observed) != maxObserved {
		t.Fatalf("%d observed addresses kept, want %d", len(p.observed), maxObserved)
	}
	if last := p.observed[maxObserved-1].String(); last != "/ip4/1.2.3.4/tcp/"+strconv.Itoa(1000+3*maxObserved-5) {
		t.Errorf("newest = %s, want the re-reported address", last)
	}
}
