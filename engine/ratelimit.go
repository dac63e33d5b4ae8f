package engine

import (
	"context"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"golang.org/x/time/rate"
)

// rateLimit is a token bucket over the bytes of data streams
// (SendOptions.RateLimit, ReceiveOptions.RateLimit), shared by all of a
// side's streams. A nil *rateLimit lets everything through.
type rateLimit struct{ l *rate.Limiter }

// newRateLimit returns a limit of bps bytes per second, or nil for bps <= 0.
// The burst is a quarter second's worth (16 KiB to 4 MiB), so the rate holds
// over short spans too.
func newRateLimit(bps int64) *rateLimit {
	if bps <= 0 {
		return nil
	}
	burst := min(max(bps/4, 16<<10), 4<<20)
	return &rateLimit{l: rate.NewLimiter(rate.Limit(bps), int(burst))}
}

// wait blocks until n bytes may pass, or ctx ends.
func (r *rateLimit) wait(ctx context.Context, n int) error {
	if r == nil {
		return nil
	}
	for n > 0 {
		k := min(n, r.l.Burst())
		if err := r.l.WaitN(ctx, k); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		n -= k
	}
	return nil
}

// reader wraps a receiver's data stream so that its reads are paced. A
// libp2p stream stays a network.Stream (its connection tells the path).
func (r *rateLimit) reader(ctx context.Context, s io.ReadWriteCloser) io.ReadWriteCloser {
	if r == nil {
		return s
	}
	if ns, ok := s.(network.Stream); ok {
		return &limitedStream{Stream: ns, ctx: ctx, r: r}
	}
	return &limitedRWC{ReadWriteCloser: s, ctx: ctx, r: r}
}

// unpaced returns the stream reader wrapped: what the opener gave, which
// knows its session and its connection (renew, better).
func unpaced(s io.ReadWriteCloser) io.ReadWriteCloser {
	switch l := s.(type) {
	case *limitedStream:
		return l.Stream
	case *limitedRWC:
		return l.ReadWriteCloser
	}
	return s
}

type limitedStream struct {
	network.Stream
	ctx context.Context
	r   *rateLimit
}

func (s *limitedStream) Read(p []byte) (int, error) {
	n, err := s.Stream.Read(p)
	if werr := s.r.wait(s.ctx, n); werr != nil && err == nil {
		err = werr
	}
	return n, err
}

// limitedRWC is limitedStream for streams that are not libp2p's; it keeps
// the Reset and SetReadDeadline the receiver uses when they exist.
type limitedRWC struct {
	io.ReadWriteCloser
	ctx context.Context
	r   *rateLimit
}

func (s *limitedRWC) Read(p []byte) (int, error) {
	n, err := s.ReadWriteCloser.Read(p)
	if werr := s.r.wait(s.ctx, n); werr != nil && err == nil {
		err = werr
	}
	return n, err
}

func (s *limitedRWC) Reset() error {
	if r, ok := s.ReadWriteCloser.(interface{ Reset() error }); ok {
		return r.Reset()
	}
	return s.Close()
}

func (s *limitedRWC) SetReadDeadline(t time.Time) error {
	if d, ok := s.ReadWriteCloser.(interface{ SetReadDeadline(time.Time) error }); ok {
		return d.SetReadDeadline(t)
	}
	return nil
}
