package discovery

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Several transfer-grade relays come best first: the one that states no
// rate limit, then the one that states a rate, then the one that states
// nothing (an older node). Each answer travels over RelayInfoProtocol.
func TestFindRelaysRanksByStatedLimits(t *testing.T) {
	nodes, infos := relayNodes(t, 4, map[int]bool{1: true, 2: true, 3: true})
	ServeRelayInfo(nodes[1].Host, RelayInfo{Rate: 1 << 20, CircuitData: 1 << 30})
	ServeRelayInfo(nodes[2].Host, RelayInfo{})
	want := []peer.ID{nodes[2].Host.ID(), nodes[1].Host.ID(), nodes[3].Host.ID()}
	h := newHost(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The three provides land in their own time; until all three are
	// found, fewer come back (and autorelay would ask again).
	for {
		got := collect(FindRelays(ctx, h, Options{DHT: true, Bootstrap: infos[:1]}, 4))
		if len(got) == 3 {
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("relays in order %v, want %v", got, want)
				}
			}
			ri, err := QueryRelayInfo(ctx, h, nodes[1].Host.ID())
			if err != nil || ri.Rate != 1<<20 || ri.CircuitData != 1<<30 || ri.Version != 1 {
				t.Fatalf("QueryRelayInfo = %+v, %v; want rate 1 MiB/s, 1 GiB per circuit", ri, err)
			}
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("never found the three transfer-grade relays: last %v", got)
		}
	}
}

func TestParseRelayInfo(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{`{"v":1,"rate":5,"circuit_data":0,"circuit_duration_s":600,"circuits":16,"reservations":256}`, true},
		{`{"v":1}`, true},
		{`{"v":2}`, false},
		{`{"v":1,"rate":-1}`, false},
		{`{"v":1,"circuits":-3}`, false},
		{`not json`, false},
		{`{"v":1,"pad":"` + string(make([]byte, maxRelayInfo)) + `"}`, false},
	} {
		_, err := ParseRelayInfo([]byte(tc.in))
		if (err == nil) != tc.ok {
			t.Errorf("ParseRelayInfo(%.40q) = %v, want ok=%v", tc.in, err, tc.ok)
		}
		if err != nil && !errors.Is(err, errRelayInfo) {
			t.Errorf("ParseRelayInfo(%.40q): error %v is not errRelayInfo", tc.in, err)
		}
	}
}

func FuzzParseRelayInfo(f *testing.F) {
	f.Add([]byte(`{"v":1,"rate":5,"circuit_data":67108864}`))
	f.Add([]byte(`{"v":1}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ri, err := ParseRelayInfo(b)
		if err != nil {
			return
		}
		if ri.Version != 1 || ri.Rate < 0 || ri.CircuitData < 0 || ri.CircuitDurationSec < 0 || ri.Circuits < 0 || ri.Reservations < 0 {
			t.Fatalf("accepted %+v", ri)
		}
	})
}
