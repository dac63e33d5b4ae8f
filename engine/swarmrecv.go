package engine

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/pcp-p2p/pcp/engine/swarm"
	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/manifest"
)

// Fetching from several sources at once (issue 14). runSwarm is run with
// the queue and its stream workers replaced by a swarm.Scheduler over
// peerSources; the committer, the fileTable and the finish are the same,
// and so are the guarantees: a chunk is written only once it hashes to the
// manifest, recorded only once durable, and files go into place without
// clobbering.
//
// The feeder registers files in order before their chunks are handed out;
// the scheduler hands out chunks from many sources in about index order, so
// a file is registered with the fileTable when its first chunk is verified
// (swarmFiles), and the fileTable still holds only files in flight. What
// is needed is one bit per chunk (a swarm.Set), and one bit per entry says
// which files are registered.
//
// A relayed stream moves to a direct connection once one exists, as on the
// single-source path (peerSource.watchPath). The first source re-dials,
// follows and authenticates again with a sender that restarted through
// the receive's p2pOpener (renew, switchTo); a sender that restarted as
// another peer is also found by the search and joins as another source.

// swarmByDefault makes every Receive fetch from several sources and seed.
// The package's tests run the single-source path with PCP_TEST_SWARM=0
// (main_test.go); a receive falls back to it only for an offer with too
// many chunks for global indexes (errNotSwarmable).
var swarmByDefault = true

// addSources adds the sources of one runSwarm to s: at least one before it
// returns; it may start goroutines that add more while Run runs (they must
// end with ctx).
type addSources func(ctx context.Context, s *swarm.Scheduler, idx *swarm.Index) error

// runSwarm fetches every needed chunk from the sources add gives and
// finishes the tree. The plan must have been applied.
func (r *receiver) runSwarm(ctx context.Context, add addSources) error {
	idx, err := swarmIndex(r.t)
	if err != nil {
		return err
	}
	return r.withCommitter(ctx, func(ctx context.Context) error { return r.swarmFetch(ctx, idx, add) })
}

func (r *receiver) swarmFetch(ctx context.Context, idx *swarm.Index, add addSources) error {
	if err := r.recordSelection(); err != nil {
		return err
	}
	files := &swarmFiles{r: r, idx: idx, seen: swarm.NewSet(uint32(r.t.Len()))}
	need, err := files.needed(ctx)
	if err != nil {
		return err
	}
	files.need = need
	s := swarm.New(swarm.Want{
		Root: r.root, Total: idx.Total(), ChunkSize: r.cs, Need: need,
		Cost:    func(i uint32) int64 { return r.cost(idx.Ref(i)) },
		MaxCost: max(r.cost(wire.Ref{}), int64(r.cs)+chunkFrameHead),
	}, files.verify, swarm.Options{Window: r.opts.MaxInFlight, Log: r.log})
	if err := add(ctx, s, idx); err != nil {
		return err
	}
	return s.Run(ctx)
}

// swarmFiles connects the scheduler's chunks to the receiver's files.
type swarmFiles struct {
	r    *receiver
	idx  *swarm.Index
	need *swarm.Set // read only once Run starts

	mu   sync.Mutex
	seen *swarm.Set // entries registered with the fileTable
}

// needed returns the chunks to fetch: those of the files the plan fetches
// that the resume log does not record. Files with nothing to fetch go to
// the committer now, as the feeder sends them.
func (f *swarmFiles) needed(ctx context.Context) (*swarm.Set, error) {
	r := f.r
	need := swarm.NewSet(f.idx.Total())
	for i, st := range r.plan.state {
		if st != stFresh && st != stResume {
			continue
		}
		e, err := r.t.Entry(i)
		if err != nil {
			return nil, err
		}
		n := manifest.ChunkCount(e.Size, r.cs)
		var done []uint64
		if st == stResume {
			if done, err = r.rlog.DoneChunks(r.root, uint32(i)); err != nil {
				return nil, err
			}
		}
		left := 0
		for c := range n {
			if !isSet(done, c) {
				g, _ := f.idx.Global(wire.Ref{Entry: uint32(i), Chunk: uint32(c)})
				need.Add(g)
				left++
			}
		}
		if left == 0 {
			f.mark(i)
			r.files.expect(i, 0)
			select {
			case r.ready <- i:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	}
	return need, nil
}

// mark records entry i as registered and reports whether it was not yet.
func (f *swarmFiles) mark(i int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seen.Has(uint32(i)) {
		return false
	}
	f.seen.Add(uint32(i))
	return true
}

// register tells the fileTable about entry e before its first chunk is
// written: the count of its chunks still needed. It holds the lock until
// the fileTable knows, so that no other chunk of e is written first.
func (f *swarmFiles) register(e uint32, ent *manifest.Entry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seen.Has(e) {
		return
	}
	f.seen.Add(e)
	var left int64
	first, _ := f.idx.Global(wire.Ref{Entry: e})
	for c := range manifest.ChunkCount(ent.Size, f.r.cs) {
		if f.need.Has(first + uint32(c)) {
			left++
		}
	}
	f.r.files.expect(int(e), left)
}

// verify is the scheduler's Verify: the chunk must hash to the manifest;
// then it is written to its staging file and handed to the committer.
func (f *swarmFiles) verify(i uint32, data []byte) (bool, error) {
	r := f.r
	ref := f.idx.Ref(i)
	e, err := r.t.Entry(int(ref.Entry))
	if err != nil {
		return false, err
	}
	n := manifest.ChunkLen(e.Size, r.cs, int64(ref.Chunk))
	want, err := r.t.ChunkHash(int(ref.Entry), int64(ref.Chunk))
	if err != nil {
		return false, err
	}
	if int64(len(data)) != n || manifest.HashChunk(data) != want {
		r.refetched.Add(1)
		r.log.Warn("chunk failed verification", "path", e.Path, "chunk", ref.Chunk)
		return false, nil
	}
	f.register(ref.Entry, &e)
	sf, err := r.files.get(int(ref.Entry), e.Path, e.Size)
	if err != nil {
		return false, err
	}
	if _, err := sf.writeAt(data, int64(ref.Chunk)*int64(r.cs)); err != nil {
		return false, fmt.Errorf("%w: %s: %v", errWrite, e.Path, err)
	}
	if err := r.files.wrote(int(ref.Entry)); err != nil {
		return false, err
	}
	r.fetched.Add(n)
	r.chunks.Add(1)
	r.lastChunk.Store(time.Now().UnixNano())
	r.current.Store(&e.Path)
	r.commit <- ref
	return true, nil
}
