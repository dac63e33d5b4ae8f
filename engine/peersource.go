package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/pcp-p2p/pcp/engine/p2p"
	"github.com/pcp-p2p/pcp/engine/swarm"
	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/manifest"
)

// peerSource is one authenticated peer offering the manifest, as a
// swarm.Source (issue 14: several sources at once). Fetch sends the batch
// as one Request on a data stream of the peer's session and reads the
// chunks back in order, decompressed; the scheduler's Verify checks each
// against the manifest. A peer gets at most maxStreams data streams; an
// idle one is kept for the next Fetch, so the scheduler's pipelining
// (several Fetch calls at once) runs on parallel streams.
//
// What a source controls is bounded here: a Chunk frame by wire's bounds, a
// chunk's raw length by the manifest (a different length is a protocol
// violation: the source is dropped, its chunks go to the others), the
// decompressed size by that length, a silent stream by stall.
type peerSource struct {
	open  func(ctx context.Context) (io.ReadWriteCloser, error) // a data stream of the session
	idx   *swarm.Index
	len   func(wire.Ref) (int64, error) // a chunk's length, from the manifest
	cs    uint32
	stall time.Duration
	wire  *atomic.Int64 // if set, counts the chunk bytes received (compressed or not)
	// reconnects, if set, counts streams replaced after a transient failure.
	reconnects *atomic.Int64

	// patience is how long the source may deliver nothing while its
	// streams fail before it is given up; lastGot is when it last
	// delivered (unix ns; its creation at first).
	patience time.Duration
	lastGot  atomic.Int64

	// renew, if set, authenticates again with a sender that restarted (it
	// answered UnknownSession): the p2pOpener's, for the first source.
	renew func(ctx context.Context, s io.ReadWriteCloser) error
	// better, if set, reports whether a better path than stream s's now
	// exists (a direct connection beside a relayed stream): the stream is
	// then abandoned, and what it had in flight asked again on a new one
	// (watchPath), as the single-source stream workers do.
	better func(s io.ReadWriteCloser) bool

	slots chan struct{}      // one per stream that may exist
	idle  chan *sourceStream // streams between Fetch calls
}

type sourceStream struct {
	s   io.ReadWriteCloser
	fr  *wire.Reader
	dec *zstd.Decoder
	raw []byte
}

func newPeerSource(open func(context.Context) (io.ReadWriteCloser, error), t *manifest.Table, idx *swarm.Index, maxStreams int, stall time.Duration) *peerSource {
	cs := t.ChunkSize()
	p := &peerSource{
		open: open,
		idx:  idx,
		cs:   cs,
		len: func(r wire.Ref) (int64, error) {
			e, err := t.Entry(int(r.Entry))
			if err != nil {
				return 0, err
			}
			return manifest.ChunkLen(e.Size, cs, int64(r.Chunk)), nil
		},
		stall:    stall,
		patience: DefaultPatience,
		slots:    make(chan struct{}, maxStreams),
		idle:     make(chan *sourceStream, maxStreams),
	}
	p.lastGot.Store(time.Now().UnixNano())
	return p
}

// Fetch implements swarm.Source. A stream that fails for a transient
// reason (reset, timeout, a dropped connection) is replaced, after a
// backoff, and the rest of the batch asked again, as the single-source
// stream workers do; open itself may wait (the p2pOpener re-dials with
// patience). The source fails, and the scheduler drops it, on a protocol
// violation (violation), or when no chunk has arrived for patience.
func (p *peerSource) Fetch(ctx context.Context, chunks []uint32, got func(uint32, []byte)) error {
	if len(chunks) > wire.MaxRefs {
		return fmt.Errorf("internal error: a batch of %d chunks", len(chunks))
	}
	var again reopening
	for {
		ss, err := p.take(ctx)
		if err != nil {
			return err
		}
		// A stream abandoned mid-batch is reset, so the peer stops sending.
		stop := context.AfterFunc(ctx, func() { abort(ss.s) })
		moved, stopWatch := p.watchPath(ctx, ss)
		n, err := p.fetch(ss, chunks, got)
		stopWatch()
		if stop() && err == nil {
			p.idle <- ss
			return nil
		}
		p.discard(ss)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		chunks = chunks[n:]
		if moved.Load() { // not a failure: the rest goes on the better path
			continue
		}
		if errors.Is(err, wire.ErrUnknownSession) && p.renew != nil {
			if err := p.renew(ctx, ss.s); err != nil {
				return err
			}
			continue
		}
		if err := again.wait(ctx, err, n > 0, time.Unix(0, p.lastGot.Load()), p.patience); err != nil {
			return err
		}
		if p.reconnects != nil {
			p.reconnects.Add(1)
		}
	}
}

// fetch asks ss for chunks and returns how many it delivered to got.
func (p *peerSource) fetch(ss *sourceStream, chunks []uint32, got func(uint32, []byte)) (int, error) {
	refs := make([]wire.Ref, len(chunks))
	for i, c := range chunks {
		refs[i] = p.idx.Ref(c)
	}
	if err := wire.WriteFrame(ss.s, wire.TRequest, wire.AppendRequest(nil, refs)); err != nil {
		return 0, err
	}
	dl, _ := ss.s.(interface{ SetReadDeadline(time.Time) error })
	for i, want := range refs {
		if dl != nil {
			_ = dl.SetReadDeadline(time.Now().Add(p.stall))
		}
		t, pl, err := ss.fr.Next()
		if err != nil {
			return i, err
		}
		if t == wire.TError {
			re, err := wire.DecodeError(pl)
			if err != nil {
				return i, fmt.Errorf("%w: %v", ErrPeerMisbehaving, err)
			}
			return i, re
		}
		if t != wire.TChunk {
			return i, fmt.Errorf("%w: %v when chunk %v was due", ErrPeerMisbehaving, t, want)
		}
		h, data, err := wire.DecodeChunk(pl)
		if err != nil || h.Ref != want {
			return i, fmt.Errorf("%w: chunk %v when %v was due (%v)", ErrPeerMisbehaving, h.Ref, want, err)
		}
		n, err := p.len(want)
		if err != nil {
			return i, err
		}
		if int64(h.RawLen) != n {
			return i, fmt.Errorf("%w: chunk %v claims %d bytes, manifest says %d", ErrPeerMisbehaving, want, h.RawLen, n)
		}
		if p.wire != nil {
			p.wire.Add(int64(len(data)))
		}
		b := data
		if h.Enc == wire.EncZstd {
			// A frame that does not decode to the chunk's length goes to
			// Verify as it came out: it fails there, and counts as bad.
			out, derr := ss.dec.DecodeAll(data, ss.raw[:0])
			if derr == nil {
				ss.raw = out[:0]
			}
			b = out
		}
		p.lastGot.Store(time.Now().UnixNano())
		got(chunks[i], b)
	}
	if dl != nil {
		_ = dl.SetReadDeadline(time.Time{})
	}
	return len(refs), nil
}

// watchPath aborts ss once a better path exists, and moved says it did;
// stop ends the watch. Only a relayed stream opened while no better path
// existed is watched: one opened on the relay despite a direct connection
// would move again and again.
func (p *peerSource) watchPath(ctx context.Context, ss *sourceStream) (moved *atomic.Bool, stop func()) {
	moved = new(atomic.Bool)
	if p.better == nil || !relayedStream(ss.s) || p.better(ss.s) {
		return moved, func() {}
	}
	return moved, every(ctx, migrateCheck, func() {
		if !moved.Load() && p.better(ss.s) {
			moved.Store(true)
			abort(ss.s) // unblocks fetch now
		}
	})
}

// relayedStream reports whether s runs over a relayed connection.
func relayedStream(s io.ReadWriteCloser) bool {
	c, ok := unpaced(s).(interface{ Conn() network.Conn })
	return ok && p2p.IsRelayed(c.Conn())
}

// betterPath reports whether stream s runs on a relay while a direct
// connection to id exists.
func betterPath(h host.Host, id peer.ID, s io.ReadWriteCloser) bool {
	return relayedStream(s) && p2p.PathOf(h, id) == p2p.PathDirect
}

// take returns an idle stream, or opens one while fewer than maxStreams
// exist, or waits for one to come back. An idle stream on a relay is
// dropped once a better path exists.
func (p *peerSource) take(ctx context.Context) (*sourceStream, error) {
	for {
		var ss *sourceStream
		select { // an idle stream first, before waiting for either
		case ss = <-p.idle:
		default:
			select {
			case ss = <-p.idle:
			case p.slots <- struct{}{}:
				return p.openStream(ctx)
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if p.better != nil && p.better(ss.s) {
			p.discard(ss)
			continue
		}
		return ss, nil
	}
}

// openStream opens a stream in a slot taken for it.
func (p *peerSource) openStream(ctx context.Context) (*sourceStream, error) {
	s, err := p.open(ctx)
	if err != nil {
		<-p.slots
		return nil, err
	}
	dec, err := newChunkDecoder(uint64(p.cs))
	if err != nil {
		abort(s)
		<-p.slots
		return nil, err
	}
	return &sourceStream{s: s, fr: wire.NewReader(s), dec: dec, raw: make([]byte, 0, p.cs)}, nil
}

// discard resets a stream that failed or was abandoned and frees its slot.
func (p *peerSource) discard(ss *sourceStream) {
	abort(ss.s)
	ss.dec.Close()
	<-p.slots
}

// close resets the idle streams; call it once no Fetch runs.
func (p *peerSource) close() {
	for {
		select {
		case ss := <-p.idle:
			p.discard(ss)
		default:
			return
		}
	}
}

// errNotSwarmable: the manifest has too many chunks for global indexes.
var errNotSwarmable = errors.New("the offer has too many chunks to fetch from several peers")

// swarmable reports whether t's chunks surely fit global indexes: at most
// TotalSize/cs full chunks, and one partial chunk per file.
func swarmable(t *manifest.Table) bool {
	return t.TotalSize()/int64(t.ChunkSize())+int64(t.Files()) < math.MaxUint32-1
}

// swarmIndex builds t's global chunk index.
func swarmIndex(t *manifest.Table) (*swarm.Index, error) {
	counts := make([]int64, t.Len())
	cs := t.ChunkSize()
	for i := range counts {
		e, err := t.Entry(i)
		if err != nil {
			return nil, err
		}
		if e.Kind == manifest.KindFile {
			counts[i] = manifest.ChunkCount(e.Size, cs)
		}
	}
	idx, err := swarm.NewIndex(counts)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNotSwarmable, err)
	}
	return idx, nil
}
