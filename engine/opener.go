package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"

	"github.com/pcp-p2p/pcp/engine/p2p"
	"github.com/pcp-p2p/pcp/engine/wire"
)

// p2pOpener opens data streams to the authenticated sender, re-dialing with
// backoff for up to patience when the connection is lost.
type p2pOpener struct {
	h        host.Host
	info     peer.AddrInfo
	session  [32]byte
	patience time.Duration
	events   func(Event)
	log      *slog.Logger

	mu        sync.Mutex
	downSince time.Time
	attempts  int
	// limitedSince is when a data stream first found only limited
	// connections to the sender; zero while a usable one exists.
	limitedSince time.Time
	noPathWait   time.Duration // NoPathWait unless a test set it

	// selected: the receive took a selection of the offer; its Done says so.
	selected bool

	// renewal authenticates again with a sender that restarted (renew.go).
	renewal renewing
	renewMu sync.Mutex
	// follow searches for the sender while it is unreachable (follow.go);
	// nil without discovery.
	follow *follower
}

// NoPathWait is how long a receiver connected to its sender only through
// limited relays waits for a hole punch (run by the sender) or a relay that
// can carry data, before it stops with ErrNoPath.
const NoPathWait = 30 * time.Second

func (o *p2pOpener) openData(ctx context.Context) (io.ReadWriteCloser, error) {
	backoff := 250 * time.Millisecond
	for {
		s, err := o.open(ctx, o.openTimeout())
		if err == nil {
			o.mu.Lock()
			o.downSince, o.limitedSince = time.Time{}, time.Time{}
			o.mu.Unlock()
			o.follow.stop()
			return s, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if p2p.MeetingOnly(o.h, o.peer()) {
			// Not down: waiting for a path that may carry data. open has
			// waited for one already; give up once NoPathWait is spent.
			o.mu.Lock()
			if o.limitedSince.IsZero() {
				o.limitedSince = time.Now()
			}
			waited := time.Since(o.limitedSince)
			o.mu.Unlock()
			if waited >= o.noPathWait {
				return nil, fmt.Errorf("%w (waited %v for a hole punch)", ErrNoPath, waited.Round(time.Second))
			}
			continue
		}
		var re *wire.RemoteError
		if errors.As(err, &re) {
			return nil, err
		}
		o.mu.Lock()
		if o.downSince.IsZero() {
			o.downSince = time.Now()
		}
		down := time.Since(o.downSince)
		o.attempts++
		n := o.attempts
		o.mu.Unlock()
		if down > o.patience {
			return nil, fmt.Errorf("%w: sender unreachable for %v: %v", ErrInterrupted, down.Round(time.Second), err)
		}
		// A restarted sender may listen elsewhere: look for it again,
		// and take one that restarted as another peer (follow.go).
		o.follow.start(ctx)
		if c, ok := o.follow.other(); ok && o.switchTo(ctx, c) == nil {
			continue
		}
		emit(o.events, ReconnectingEvent{Attempt: n, Err: err, Down: down, Patience: o.patience})
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		backoff = min(backoff*2, 5*time.Second)
		if sw, ok := o.h.Network().(*swarm.Swarm); ok {
			sw.Backoff().Clear(o.peer())
		}
	}
}

func (o *p2pOpener) better(s io.ReadWriteCloser) bool { return betterPath(o.h, o.peer(), s) }

// openTimeout bounds one attempt to open a data stream: 20 s, or what is
// left of NoPathWait while only limited connections exist (the wait starts
// with the first attempt that finds them so).
func (o *p2pOpener) openTimeout() time.Duration {
	limited := p2p.MeetingOnly(o.h, o.peer())
	o.mu.Lock()
	defer o.mu.Unlock()
	if limited && o.limitedSince.IsZero() {
		o.limitedSince = time.Now()
	}
	d := 20 * time.Second
	if !o.limitedSince.IsZero() {
		d = min(d, max(o.noPathWait-time.Since(o.limitedSince), 100*time.Millisecond))
	}
	return d
}

func (o *p2pOpener) open(ctx context.Context, timeout time.Duration) (sessStream, error) {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	id, p := o.sessionID(), o.peer()
	s, err := openStream(cctx, o.h, p, wire.Open{Kind: wire.KindData, Session: id})
	if err != nil {
		return sessStream{}, err
	}
	if o.log.Enabled(ctx, slog.LevelDebug) {
		var conns []string
		for _, c := range o.h.Network().ConnsToPeer(p) {
			conns = append(conns, fmt.Sprintf("%s relayed=%v limited=%v", c.RemoteMultiaddr(), p2p.IsRelayed(c), c.Stat().Limited))
		}
		o.log.Debug("data stream opened", "conn", s.Conn().RemoteMultiaddr(), "relayed", p2p.IsRelayed(s.Conn()), "conns", conns)
	}
	return sessStream{Stream: s, session: id}, nil
}

// finish tells the sender that everything arrived, and waits briefly for
// its acknowledgement.
func (o *p2pOpener) finish(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	s, err := o.open(ctx, 10*time.Second)
	if err != nil {
		return
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(10 * time.Second))
	var flags []byte
	if o.selected {
		flags = []byte{wire.DoneSelected}
	}
	if wire.WriteFrame(s, wire.TDone, flags) == nil {
		_, _ = wire.NewReader(s).Expect(wire.TDoneAck)
	}
}
