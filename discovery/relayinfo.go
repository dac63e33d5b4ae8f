package discovery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// RelayInfoProtocol is the stream protocol on which a transfer-grade `pcp
// node` states its operator's limits. A DHT provider record carries no
// metadata, so a peer that found a relay under RelayKey asks it. The
// per-circuit data and time limits also reach every peer in the circuit
// handshake itself (libp2p's circuit limit); the info adds the rate and the
// circuit counts, which the handshake does not carry.
const RelayInfoProtocol = "/pcp/relay-info/1.0.0"

// maxRelayInfo bounds the answer a peer reads; relayInfoTimeout bounds
// the whole exchange.
const (
	maxRelayInfo     = 1024
	relayInfoTimeout = 3 * time.Second
)

// RelayInfo is a relay's statement of its limits; 0 means none.
type RelayInfo struct {
	Version            int   `json:"v"`
	CircuitData        int64 `json:"circuit_data"`       // bytes each way per circuit
	CircuitDurationSec int64 `json:"circuit_duration_s"` // per circuit
	Rate               int64 `json:"rate"`               // bytes/s, all circuits together
	Circuits           int   `json:"circuits"`           // open circuits per peer
	Reservations       int   `json:"reservations"`       // peers holding a slot
}

// errRelayInfo is the error for an answer that is not a RelayInfo.
var errRelayInfo = errors.New("relay info: malformed answer")

// ParseRelayInfo decodes and validates an answer of at most maxRelayInfo
// bytes: version 1, no negative figure.
func ParseRelayInfo(b []byte) (RelayInfo, error) {
	var ri RelayInfo
	if len(b) > maxRelayInfo {
		return RelayInfo{}, fmt.Errorf("%w: %d bytes, at most %d", errRelayInfo, len(b), maxRelayInfo)
	}
	if err := json.Unmarshal(b, &ri); err != nil {
		return RelayInfo{}, fmt.Errorf("%w: %v", errRelayInfo, err)
	}
	if ri.Version != 1 {
		return RelayInfo{}, fmt.Errorf("%w: version %d", errRelayInfo, ri.Version)
	}
	if ri.CircuitData < 0 || ri.CircuitDurationSec < 0 || ri.Rate < 0 || ri.Circuits < 0 || ri.Reservations < 0 {
		return RelayInfo{}, fmt.Errorf("%w: a negative limit", errRelayInfo)
	}
	return ri, nil
}

// ServeRelayInfo answers RelayInfoProtocol on h with ri (Version set to 1).
func ServeRelayInfo(h host.Host, ri RelayInfo) {
	ri.Version = 1
	b, _ := json.Marshal(ri) // a struct of numbers: never an error
	h.SetStreamHandler(RelayInfoProtocol, func(s network.Stream) {
		defer s.Close()
		_ = s.SetWriteDeadline(time.Now().Add(relayInfoTimeout))
		_, _ = s.Write(b)
	})
}

// QueryRelayInfo asks relay p for its limits, bounded by relayInfoTimeout
// and maxRelayInfo bytes.
func QueryRelayInfo(ctx context.Context, h host.Host, p peer.ID) (RelayInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, relayInfoTimeout)
	defer cancel()
	s, err := h.NewStream(network.WithAllowLimitedConn(ctx, "relay info"), p, RelayInfoProtocol)
	if err != nil {
		return RelayInfo{}, err
	}
	defer s.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = s.SetReadDeadline(d)
	}
	b, err := io.ReadAll(io.LimitReader(s, maxRelayInfo+1))
	if err != nil {
		s.Reset()
		return RelayInfo{}, err
	}
	return ParseRelayInfo(b)
}

// better orders relays for a transfer: one that stated its limits before
// one that did not (an older node, or no answer), then the higher rate (0,
// none, highest), then the larger data per circuit (0 highest).
func (a RelayInfo) better(b RelayInfo) bool {
	if (a.Version != 0) != (b.Version != 0) {
		return a.Version != 0
	}
	if ra, rb := unbounded(a.Rate), unbounded(b.Rate); ra != rb {
		return ra > rb
	}
	return unbounded(a.CircuitData) > unbounded(b.CircuitData)
}

func unbounded(v int64) int64 {
	if v == 0 {
		return 1 << 62
	}
	return v
}
