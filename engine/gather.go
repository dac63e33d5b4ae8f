package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/pcp-p2p/pcp/discovery"
	"github.com/pcp-p2p/pcp/engine/swarm"
	"github.com/pcp-p2p/pcp/engine/wire"
)

// SourceEvent: a peer joined the transfer as a source (Joined), offered
// another transfer under the same words (OtherRoot: never mixed with this
// one), or left it (Err says why; nil when it served to the end).
type SourceEvent struct {
	Peer      string
	Joined    bool
	OtherRoot string // the other offer's root, when the peer offers one
	Delivered int    // chunks verified from it, when it left or at the end
	Err       error
}

func (SourceEvent) isEvent() {}

// swarmSources gathers the sources of one receive: the authenticated sender
// first, then every other peer that passes PAKE on the same words and
// offers the same root. Each gets a KindHave stream and becomes a
// peerSource of the scheduler.
type swarmSources struct {
	h      host.Host
	opts   ReceiveOptions
	log    *slog.Logger
	r      *receiver
	op     *p2pOpener
	first  peer.ID
	tmpDir string
	idle   time.Duration

	mu       sync.Mutex
	peers    map[peer.ID]*swarm.Peer
	sessions map[peer.ID][32]byte // the sources found by the search
	wg       sync.WaitGroup       // the search and the have-map followers
}

// add is the runSwarm addSources of a receive.
func (g *swarmSources) add(ctx context.Context, s *swarm.Scheduler, idx *swarm.Index) error {
	g.peers = map[peer.ID]*swarm.Peer{}
	g.sessions = map[peer.ID][32]byte{}
	open := func(ctx context.Context) (io.ReadWriteCloser, error) {
		st, err := g.op.openData(ctx)
		if err != nil {
			return nil, err
		}
		return g.r.opts.limit.reader(ctx, st), nil
	}
	if err := g.join(ctx, s, idx, g.op.peer(), g.op.sessionID(), open); err != nil {
		return err
	}
	// While the search runs, the scheduler does not give up for want of a
	// source: one found later may hold what is missing. A search by
	// discovery never ends by itself; it holds for Patience at most.
	release := s.Hold()
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		defer release()
		if len(g.opts.Network.Direct) == 0 {
			t := time.AfterFunc(g.opts.Patience, release)
			defer t.Stop()
		}
		g.gather(ctx, s, idx)
	}()
	return nil
}

// wait waits for the search and the followers, which end with add's ctx.
func (g *swarmSources) wait() { g.wg.Wait() }

// join asks a source for its have-map, adds it to s and follows its updates.
func (g *swarmSources) join(ctx context.Context, s *swarm.Scheduler, idx *swarm.Index, p peer.ID, session [32]byte, open func(context.Context) (io.ReadWriteCloser, error)) error {
	hs, err := openStream(ctx, g.h, p, wire.Open{Kind: wire.KindHave, Session: session})
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { hs.Reset() })
	fr := wire.NewReader(hs)
	set, err := readHaveMaps(hs, fr, idx.Total(), g.r.stall)
	if err != nil {
		stop()
		hs.Reset()
		return err
	}
	ps := newPeerSource(open, g.r.t, idx, g.opts.Streams, g.r.stall)
	ps.wire = &g.r.wire
	ps.reconnects = &g.r.reconnects
	ps.patience = g.opts.Patience
	if p == g.first {
		ps.renew, ps.better = g.op.renew, g.op.better
	} else {
		ps.better = func(s io.ReadWriteCloser) bool { return betterPath(g.h, p, s) }
	}
	sp, err := s.Add(g.r.root, set, ps)
	if err != nil {
		stop()
		hs.Reset()
		return err
	}
	g.mu.Lock()
	g.peers[p] = sp
	g.mu.Unlock()
	emit(g.opts.Events, SourceEvent{Peer: p.String(), Joined: true})
	// Until the source says it holds everything (it closes the stream), its
	// have-map may grow: the scheduler waits for it.
	release := s.Hold()
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		defer release()
		defer stop()
		defer hs.Close()
		_ = followHaves(hs, fr, idx.Total(), sp, g.r.stall+2*wire.WaitEvery)
	}()
	return nil
}

// gather authenticates further peers of the channel until ctx ends: the
// direct addresses beyond the first sender's, or discovery's candidates.
func (g *swarmSources) gather(ctx context.Context, s *swarm.Scheduler, idx *swarm.Index) {
	cands, err := candidates(ctx, g.h, g.opts, g.log)
	if err != nil {
		return
	}
	seen := map[peer.ID]bool{g.h.ID(): true, g.first: true}
	for c := range cands {
		if seen[c.Info.ID] {
			continue
		}
		seen[c.Info.ID] = true
		if err := g.try(ctx, s, idx, c); err != nil && ctx.Err() == nil {
			g.log.Debug("source not joined", "peer", c.Info.ID, "err", err)
		}
	}
}

// try authenticates one candidate and joins it if it offers the same root.
func (g *swarmSources) try(ctx context.Context, s *swarm.Scheduler, idx *swarm.Index, c discovery.Candidate) error {
	ap, err := tryCandidate(ctx, g.h, c, g.opts.Passphrase)
	if err != nil {
		return err
	}
	stopCtl := context.AfterFunc(ctx, func() { ap.ctl.Reset() })
	defer stopCtl()
	elsewhere := manifestOpener(ctx, g.h, ap.info.ID, ap.session.ID, NoPathWait)
	t, _, err := readManifest(ap.ctl, g.tmpDir, g.idle, g.opts.freeSpaceFunc(), elsewhere)
	if err != nil {
		ap.ctl.Reset()
		return err
	}
	root := t.Root()
	t.Close()
	if root != g.r.root {
		emit(g.opts.Events, SourceEvent{Peer: ap.info.ID.String(), OtherRoot: root.String()})
		_ = wire.WriteFrame(ap.ctl, wire.TDecline, nil)
		ap.ctl.Close()
		return swarm.ErrOtherRoot
	}
	if err := wire.WriteFrame(ap.ctl, wire.TAccept, nil); err != nil {
		ap.ctl.Reset()
		return err
	}
	ap.ctl.Close()
	g.mu.Lock()
	g.sessions[ap.info.ID] = ap.session.ID
	g.mu.Unlock()
	open := func(ctx context.Context) (io.ReadWriteCloser, error) {
		st, err := openStream(ctx, g.h, ap.info.ID, wire.Open{Kind: wire.KindData, Session: ap.session.ID})
		if err != nil {
			return nil, err
		}
		return g.r.opts.limit.reader(ctx, st), nil
	}
	return g.join(ctx, s, idx, ap.info.ID, ap.session.ID, open)
}

// report emits each source's account at the end of the transfer.
func (g *swarmSources) report() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for p, sp := range g.peers {
		st := sp.Stats()
		emit(g.opts.Events, SourceEvent{Peer: p.String(), Delivered: st.Delivered, Err: st.Err})
	}
}

// finish tells every source the search found that the transfer is complete
// (Done, as p2pOpener.finish does for the first): each sender counts its
// complete receivers.
func (g *swarmSources) finish(ctx context.Context) {
	g.mu.Lock()
	sessions := maps.Clone(g.sessions)
	g.mu.Unlock()
	var wg sync.WaitGroup
	for p, id := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := &p2pOpener{h: g.h, info: peer.AddrInfo{ID: p}, session: id, log: g.log, selected: g.r.plan.part.partial()}
			o.finish(ctx)
		}()
	}
	wg.Wait()
}

// cause is the error of a swarm run that ended for want of a source: the
// first source's, when it was dropped for a reason of its own (its file
// changed, it could not be reached for Patience, it misbehaved), so that a
// transfer from one sender ends as it would without the swarm.
func (g *swarmSources) cause(err error) error {
	if !errors.Is(err, swarm.ErrNoSource) {
		return err
	}
	g.mu.Lock()
	first := g.peers[g.first]
	g.mu.Unlock()
	if first == nil {
		return err
	}
	ferr := first.Stats().Err
	switch {
	case errors.Is(ferr, swarm.ErrTooManyBad):
		return fmt.Errorf("%w: %w (%v)", ErrPeerMisbehaving, ferr, err)
	case ferr != nil:
		return fmt.Errorf("%w (%v)", ferr, err)
	}
	return err
}
