package p2p

import (
	"context"
	"sync/atomic"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/proto"
	"golang.org/x/time/rate"
)

// A node's Rate is enforced on the relay's hop streams. go-libp2p's relay
// has no rate hook, but it registers its hop handler through the host it
// is given, and every relayed byte passes through the hop stream of its
// circuit once: read from it on the way to the destination, written to it
// on the way back. So the relay gets a host whose SetStreamHandler wraps
// hop streams in a reader/writer paced by one token bucket.

// rateHost is the host the relay service sees.
type rateHost struct {
	host.Host
	r *relayRate
}

func (h rateHost) SetStreamHandler(pid protocol.ID, handler network.StreamHandler) {
	if pid != proto.ProtoIDv2Hop {
		h.Host.SetStreamHandler(pid, handler)
		return
	}
	h.Host.SetStreamHandler(pid, func(s network.Stream) { handler(&rateStream{Stream: s, r: h.r}) })
}

// relayRate is the token bucket shared by every circuit of a node, and a
// count of the bytes that passed it (for tests and the node's status).
type relayRate struct {
	l      *rate.Limiter
	passed atomic.Int64
}

// newRelayRate returns a bucket of bps bytes per second with a quarter
// second's burst (at least one relay buffer, 64 KiB).
func newRelayRate(bps int64) *relayRate {
	burst := max(bps/4, 64<<10)
	return &relayRate{l: rate.NewLimiter(rate.Limit(bps), int(burst))}
}

// take waits until n bytes may pass. The wait is bounded by the rate, so
// it uses no context: a closed relay stops after at most one wait.
func (r *relayRate) take(n int) {
	r.passed.Add(int64(n))
	for n > 0 {
		k := min(n, r.l.Burst())
		_ = r.l.WaitN(context.Background(), k) // k <= burst: never an error
		n -= k
	}
}

type rateStream struct {
	network.Stream
	r *relayRate
}

func (s *rateStream) Read(p []byte) (int, error) {
	n, err := s.Stream.Read(p)
	if n > 0 {
		s.r.take(n)
	}
	return n, err
}

func (s *rateStream) Write(p []byte) (int, error) {
	s.r.take(len(p))
	return s.Stream.Write(p)
}
