package engine

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"

	"github.com/pcp-p2p/pcp/discovery"
	"github.com/pcp-p2p/pcp/engine/swarm"
	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/manifest"
)

// Re-seeding (issue 14). While a receiver fetches, and for a while after
// it finished, it serves the chunks it holds to later receivers of the same
// offer: a server (the sender's code) on the receiver's host, with the same
// passphrase and PAKE, its own guard, advertised on the same channel. Its
// chunks come from seedChunks (held and verified, never a byte the receiver
// has not verified), its have-map from what the committer made durable:
// KindHave streams get the map, then HaveUpdate frames as the transfer
// goes on, and close once everything is held.

// seedState is what a seeding receiver holds, shared by its streams.
type seedState struct {
	chunks *seedChunks
	idx    *swarm.Index

	mu   sync.Mutex
	held *swarm.Set
	wake chan struct{} // closed, and replaced, when held grows
}

func newSeedState(chunks *seedChunks) (*seedState, error) {
	idx, err := swarmIndex(chunks.t)
	if err != nil {
		return nil, err
	}
	held, err := chunks.held(idx)
	if err != nil {
		return nil, err
	}
	return &seedState{chunks: chunks, idx: idx, held: held, wake: make(chan struct{})}, nil
}

// durable records chunks the committer made durable: they are held now.
func (st *seedState) durable(refs []wire.Ref) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, r := range refs {
		if i, ok := st.idx.Global(r); ok {
			st.held.Add(i)
		}
	}
	close(st.wake)
	st.wake = make(chan struct{})
}

// finished records that every file is in place: all chunks are held, read
// from the destination.
func (st *seedState) finished() {
	st.chunks.log.Store(nil)
	full := swarm.FullSet(st.idx.Total())
	st.mu.Lock()
	defer st.mu.Unlock()
	st.held = full
	close(st.wake)
	st.wake = make(chan struct{})
}

// newly adds to told what is held and not yet told, up to max chunks, and
// returns them; wake is closed when more may be held.
func (st *seedState) newly(told *swarm.Set, max int) (idx []uint32, wake <-chan struct{}) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for i := range st.idx.Total() {
		if len(idx) == max {
			break
		}
		if st.held.Has(i) && !told.Has(i) {
			told.Add(i)
			idx = append(idx, i)
		}
	}
	return idx, st.wake
}

// serveSeedHave answers a KindHave stream of a seeding receiver: the
// map of what it holds, then updates until it holds everything. Each
// stream keeps one bit per chunk of what it told.
func (s *server) serveSeedHave(ctx context.Context, rw io.ReadWriteCloser) error {
	st := s.seed
	total := st.idx.Total()
	st.mu.Lock()
	told := st.held.Clone()
	st.mu.Unlock()
	if err := writeHaveMaps(rw, told); err != nil {
		return err
	}
	tick := time.NewTicker(wire.WaitEvery)
	defer tick.Stop()
	for uint32(told.Count()) < total {
		idx, wake := st.newly(told, wire.MaxHaveUpdate)
		if len(idx) > 0 {
			p, err := wire.AppendHaveUpdate(nil, idx)
			if err == nil {
				err = wire.WriteFrame(rw, wire.THaveUpdate, p)
			}
			if err != nil {
				return err
			}
			continue
		}
		select {
		case <-wake:
		case <-tick.C:
			if err := wire.WriteFrame(rw, wire.TWait, nil); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return closeWrite(rw)
}

// serveSeed serves one chunk a seeding receiver holds.
func (c *chunkServer) serveSeed(ctx context.Context, w io.Writer, r wire.Ref) error {
	sl, err := c.s.getSlot(ctx, w)
	if err != nil {
		return err
	}
	defer c.s.putSlot(sl)
	raw, err := c.s.seed.chunks.read(r, sl.buf[chunkFrameHead:chunkFrameHead+int(c.cs)])
	if err != nil {
		return err
	}
	if labCorruptSeed && len(raw) > 0 { // lab builds only (labhook_pcplab.go)
		raw[len(raw)/2] ^= 0xff
	}
	wireLen, err := c.sendChunk(ctx, w, r, sl, raw)
	if err != nil {
		return err
	}
	e, err := c.t.Entry(int(r.Entry))
	if err != nil {
		return err
	}
	c.s.files.served(r, manifest.ChunkCount(e.Size, c.cs))
	c.sess.served(int64(len(raw)), wireLen, lastChunk(e.Size, c.cs, r.Chunk))
	return nil
}

// seeding is a receiver's seeding server.
type seeding struct {
	st       *seedState
	srv      *server
	h        host.Host
	handlers handlerSet
	cancel   context.CancelFunc
	done     chan struct{}
}

// startSeeding serves what r holds on h until stop. With discovery, it
// advertises on the offer's channel.
func startSeeding(ctx context.Context, h host.Host, opts ReceiveOptions, r *receiver, log *slog.Logger) (*seeding, error) {
	chunks := &seedChunks{t: r.t, root: r.root, cs: r.cs, dest: r.dest, stage: r.stage}
	chunks.log.Store(r.rlog)
	st, err := newSeedState(chunks)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	sd := &seeding{st: st, h: h, cancel: cancel, done: make(chan struct{})}
	srv := newServer(opts.Passphrase, h.ID(), 0, nil, log)
	srv.seed = st
	// The table is the receiver's: the server reads it, never closes it.
	srv.setSource(&manifest.Source{Table: r.t})
	sd.srv = srv
	h.SetStreamHandler(wire.ProtocolID, func(s network.Stream) {
		if !sd.handlers.enter() {
			s.Reset()
			return
		}
		defer sd.handlers.leave()
		srv.handle(ctx, s, s.Conn().RemotePeer(), "")
	})
	go func() { // receivers that finished, or went away: nothing waits for them here
		defer close(sd.done)
		reap := time.NewTicker(time.Minute)
		defer reap.Stop()
		for {
			select {
			case <-srv.finished:
			case now := <-reap.C:
				srv.reapIdle(now, sessionIdle)
			case <-ctx.Done():
				return
			}
		}
	}()
	if !opts.Network.NoDiscovery {
		dopts, err := discoveryOptions(opts.Network, log)
		if err == nil {
			err = discovery.Advertise(ctx, h, opts.Passphrase.Channel(), dopts)
		}
		if err != nil {
			sd.stop()
			return nil, fmt.Errorf("advertising the seed: %w", err)
		}
	}
	r.held = st.durable
	return sd, nil
}

// stop ends seeding: no new stream, every handler reset, and waits.
func (sd *seeding) stop() {
	sd.srv.guard.Close()
	sd.h.RemoveStreamHandler(wire.ProtocolID)
	sd.handlers.close()
	sd.cancel()
	sd.handlers.wait()
	<-sd.done
}

// finished serves the whole tree, now in place, for d more (or until ctx
// ends).
func (sd *seeding) finished(ctx context.Context, d time.Duration) {
	sd.st.finished()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
