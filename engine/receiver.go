package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/bits"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/manifest"
	"github.com/pcp-p2p/pcp/store"
)

// streamOpener opens a new data stream to the sender, re-dialing if the
// connection is gone. The libp2p implementation is in session.go.
type streamOpener interface {
	openData(ctx context.Context) (io.ReadWriteCloser, error)
	// better reports whether a better path than s's now exists (a direct
	// connection while s runs over a relay): the stream should be replaced.
	better(s io.ReadWriteCloser) bool
}

// errMigrate ends a stream that drained its requests so that a new one can
// open on a better connection. It is not a failure.
var errMigrate = errors.New("moving to a better connection")

// Limits on a misbehaving sender.
const (
	maxBadPerChunk = 3  // the same chunk failing verification this often ends the session
	maxBadTotal    = 16 // so does this many failures in all
	stallTimeout   = 60 * time.Second
	batchRefs      = 256
	// migrateCheck is how often a stream on a relay looks for a direct
	// connection (DCUtR hole punching can succeed at any time).
	migrateCheck = 250 * time.Millisecond
)

// receiver runs one transfer into a destination directory.
type receiver struct {
	opts  ReceiveOptions
	log   *slog.Logger
	t     *manifest.Table
	cs    uint32 // t.ChunkSize()
	root  manifest.Hash
	dest  *os.Root
	stage string
	// stageDir is the staging directory, opened once: staging files are
	// single decimal names in it, so opening one is one openat(2).
	stageDir *os.Root
	// stageFile is the same directory open as a file: new staging files
	// are created in it (createIn), and the committer renames from and
	// syncs it.
	stageFile *os.File
	rlog      *store.ResumeLog
	// durable is false when rlog is a temporary log (no resume across
	// processes asked for): then nothing needs syncing.
	durable bool

	plan   *plan
	q      *queue
	window *semaphore.Weighted
	files  *fileTable
	commit chan wire.Ref
	ready  chan int // files with nothing left to fetch, from the feeder to the committer

	stall time.Duration // a read waiting this long for a chunk fails the stream

	badMu sync.Mutex
	bad   map[wire.Ref]int
	nbad  int

	fetched    atomic.Int64 // raw bytes verified and written this run
	wire       atomic.Int64 // chunk payload bytes received
	chunks     atomic.Int64
	refetched  atomic.Int64
	reconnects atomic.Int64
	migrations atomic.Int64 // streams moved from a relay to a direct connection
	lastChunk  atomic.Int64 // unix ns of the last verified chunk (or the start)
	filesDone  atomic.Int64
	current    atomic.Pointer[string]
	emit       *emitter // writes to opts.Stdout (stdout.go); nil = none
	// held, if set, is told of chunks made durable (a seeding receiver's
	// have-map grows by them: seed.go).
	held func([]wire.Ref)
}

func newReceiver(opts ReceiveOptions, t *manifest.Table, dest *os.Root, rlog *store.ResumeLog, durable bool, log *slog.Logger) *receiver {
	root := t.Root()
	return &receiver{
		opts:    opts,
		log:     log,
		t:       t,
		cs:      t.ChunkSize(),
		durable: durable,
		root:    root,
		dest:    dest,
		stage:   ".pcp-partial-" + root.String()[:16],
		rlog:    rlog,
		bad:     make(map[wire.Ref]int),
		stall:   cmp.Or(opts.stall, stallTimeout),
	}
}

// run fetches every needed chunk over opts.Streams parallel streams and
// finishes the tree. The plan must have been applied.
func (r *receiver) run(ctx context.Context, op streamOpener) error {
	streams := r.opts.Streams
	win := r.opts.MaxInFlight
	if min := 2 * int64(r.cs); win < min {
		win = min
	}
	r.window = semaphore.NewWeighted(win)
	feed := make(chan wire.Ref, feedAhead)
	r.q = newQueue(feed)
	batchBytes := win / int64(2*streams)
	if batchBytes < int64(r.cs) {
		batchBytes = int64(r.cs)
	}
	return r.withCommitter(ctx, func(ctx context.Context) error {
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() error { return r.feed(gctx, feed) })
		for i := 0; i < streams; i++ {
			g.Go(func() error { return r.streamWorker(gctx, op, batchBytes) })
		}
		return g.Wait()
	})
}

// feedAhead is how many chunk refs the feeder prepares ahead of the streams.
const feedAhead = 1024

// feed walks the plan in manifest order and hands every chunk to fetch to
// the queue, registering each file with the fileTable first. Files with
// nothing to fetch go straight to the committer. Only the file being fed
// is held in memory (its done set, one bit per chunk).
func (r *receiver) feed(ctx context.Context, out chan<- wire.Ref) error {
	defer close(out)
	if err := r.recordSelection(); err != nil {
		return err
	}
	for i, s := range r.plan.state {
		if s != stFresh && s != stResume {
			continue
		}
		e, err := r.t.Entry(i)
		if err != nil {
			return err
		}
		n := manifest.ChunkCount(e.Size, r.cs)
		var done []uint64
		if s == stResume {
			if done, err = r.rlog.DoneChunks(r.root, uint32(i)); err != nil {
				return err
			}
		}
		need := n
		for c := int64(0); c < n; c++ {
			if isSet(done, c) {
				need--
			}
		}
		r.files.expect(i, need)
		if need == 0 {
			select {
			case r.ready <- i:
			case <-ctx.Done():
				return ctx.Err()
			}
			continue
		}
		for c := int64(0); c < n; c++ {
			if isSet(done, c) {
				continue
			}
			select {
			case out <- wire.Ref{Entry: uint32(i), Chunk: uint32(c)}:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

// closeStage closes the staging directory if it is open.
func (r *receiver) closeStage() {
	if r.stageDir != nil {
		r.stageDir.Close()
		r.stageFile.Close()
		r.stageDir, r.stageFile = nil, nil
	}
}

// back to the queue and their window is freed.
func (r *receiver) runStream(ctx context.Context, s io.ReadWriteCloser, batchBytes int64, op streamOpener) (int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// An abandoned stream is reset, not closed: closing leaves the sender
	// writing what it was asked for (on a relay, the whole window).
	stop := context.AfterFunc(ctx, func() { abort(s) })
	defer stop()

	var mu sync.Mutex
	var pending []wire.Ref // requested, not yet received, in order
	var migrate atomic.Bool
	// Only a stream opened before a better path existed may move: if the
	// swarm gave a relayed stream despite a direct connection, moving again
	// would loop.
	canMigrate := !op.better(s)
	ready := make(chan struct{}, 1)
	sendDone := make(chan struct{})

	var got int64 // chunks delivered; the reader's, read after Wait
	g, gctx := errgroup.WithContext(ctx)
	// A failed half resets the stream, so that the other is not left
	// blocked on it: a requester writing to a sender that reads no more,
	// a reader waiting for a chunk that will not come.
	goAbort := func(f func() error) {
		g.Go(func() error {
			err := f()
			if err != nil && !errors.Is(err, errMigrate) {
				abort(s)
			}
			return err
		})
	}
	goAbort(func() error { // requester
		defer close(sendDone)
		buf := make([]byte, 0, 2+8*batchRefs)
		for {
			batch, bytes := r.q.take(gctx, batchRefs, batchBytes, r.cost)
			if batch == nil {
				return gctx.Err() // nil when the queue is drained
			}
			if err := r.window.Acquire(gctx, bytes); err != nil {
				r.q.requeue(batch)
				return err
			}
			mu.Lock()
			pending = append(pending, batch...)
			mu.Unlock()
			select {
			case ready <- struct{}{}:
			default:
			}
			if err := wire.WriteFrame(s, wire.TRequest, wire.AppendRequest(buf[:0], batch)); err != nil {
				return err
			}
		}
	})
	readerDone := make(chan struct{})
	if canMigrate {
		g.Go(func() error { // path watcher
			t := time.NewTicker(migrateCheck)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					if op.better(s) {
						r.log.Debug("better path: abandoning relayed stream")
						// Abandon this stream: what it has in flight goes
						// back to the queue and is fetched on the better path.
						migrate.Store(true)
						abort(s) // unblocks the reader now
						return errMigrate
					}
				case <-readerDone:
					return nil
				case <-gctx.Done():
					return nil
				}
			}
		})
	}
	goAbort(func() error { // reader
		defer close(readerDone)
		dec, err := newChunkDecoder(uint64(r.cs))
		if err != nil {
			return err
		}
		defer dec.Close()
		fr := wire.NewAlignedReader(s, directAlign, wire.ChunkDataOffset)
		raw := alignedBuf(int(r.cs))[:0]
		dl, _ := s.(interface{ SetReadDeadline(time.Time) error })
		for {
			mu.Lock()
			n := len(pending)
			mu.Unlock()
			if n == 0 {
				select {
				case <-ready:
					continue
				case <-sendDone:
					mu.Lock()
					n = len(pending)
					mu.Unlock()
					if n == 0 {
						return nil
					}
				case <-gctx.Done():
					return gctx.Err()
				}
			}
			mu.Lock()
			want := pending[0]
			mu.Unlock()
			if dl != nil {
				_ = dl.SetReadDeadline(time.Now().Add(r.stall))
			}
			p, err := fr.Expect(wire.TChunk)
			if err != nil {
				return err
			}
			h, data, err := wire.DecodeChunk(p)
			if err != nil || h.Ref != want {
				return fmt.Errorf("%w: chunk %v when %v was due (%v)", ErrPeerMisbehaving, h.Ref, want, err)
			}
			mu.Lock()
			pending = pending[1:]
			mu.Unlock()
			r.wire.Add(int64(len(data)))
			ok, err := r.accept(h, data, &raw, dec)
			r.window.Release(r.cost(want))
			if err != nil {
				return err
			}
			if !ok {
				r.q.requeue([]wire.Ref{want})
				continue
			}
			// The committer drains this channel until it is closed, so the
			// send cannot block forever; the chunk is written and must be
			// committed even if this stream is being torn down.
			r.commit <- want
			r.q.done(1)
			got++
		}
	})
	err := g.Wait()
	mu.Lock()
	left := pending
	pending = nil
	mu.Unlock()
	if len(left) > 0 {
		var bytes int64
		for _, ref := range left {
			bytes += r.cost(ref)
		}
		r.window.Release(bytes)
		r.q.requeue(left)
	}
	if migrate.Load() {
		return got, errMigrate
	}
	return got, err
}

// refLen is the length in bytes of the chunk ref names. The refs come from
// this receiver's own plan, so the entry exists; a table read error (the
// temporary file failing) counts a full chunk and surfaces at accept.
func (r *receiver) refLen(ref wire.Ref) int64 {
	e, err := r.t.Entry(int(ref.Entry))
	if err != nil {
		return int64(r.cs)
	}
	return manifest.ChunkLen(e.Size, r.cs, int64(ref.Chunk))
}

// minRefCost is the least a chunk ref weighs in the in-flight window. The
// window bounds the receiver's memory, and what a ref in flight costs is
// bookkeeping (the pending list, the file it opens in the fileTable) as
// well as its bytes: charged only its bytes, a tree of 100-byte files put
// 300,000 refs in flight in a 32 MiB window, and their bookkeeping grew
// the receiver's heap by 20 MiB. At 4 KiB the default window holds at most
// 4,096 refs, 16 request batches: still deep enough to keep every stream
// busy.
const minRefCost = 4 << 10

// yamuxMessage is go-yamux's largest data frame (Config.MaxMessageSize).
const yamuxMessage = 64 << 10

// cost is what ref weighs in the in-flight window: the heap its chunk can
// occupy while it waits in the stream's receive buffer, which is where
// requested chunks wait when this receiver writes slower than the sender
// sends (small files: a file creation each). yamux holds each received
// frame in a pool buffer rounded up to a power of two, and a chunk frame
// is the chunk plus its header: a 4 KiB chunk takes an 8 KiB buffer.
// Charged its bare 4 KiB, a 16 MiB window of them held up to 32 MiB of
// buffers, and the receiver of 10k x 4 KiB files peaked at 61-68 MiB.
// Chunks of 64 KiB and more travel in frames of 64 KiB (a power of two):
// their bytes are their cost.
func (r *receiver) cost(ref wire.Ref) int64 {
	n := r.refLen(ref) + chunkFrameHead
	if n < yamuxMessage {
		n = 1 << bits.Len64(uint64(n-1)) // the pool's buffer
	}
	return max(n, minRefCost)
}

// abort resets s if it can be reset (a libp2p stream: its blocked reads
// and writes end at once), and closes it otherwise.
func abort(s io.Closer) {
	if r, ok := s.(interface{ Reset() error }); ok {
		r.Reset()
		return
	}
	s.Close()
}

// accept decompresses, verifies and writes one chunk. ok is false when the
// chunk failed verification and must be fetched again.
func (r *receiver) accept(h wire.ChunkHeader, data []byte, raw *[]byte, dec *zstd.Decoder) (ok bool, err error) {
	e, err := r.t.Entry(int(h.Entry))
	if err != nil {
		return false, err
	}
	off := int64(h.Chunk) * int64(r.cs)
	n := manifest.ChunkLen(e.Size, r.cs, int64(h.Chunk))
	if int64(h.RawLen) != n {
		return false, fmt.Errorf("%w: chunk %v claims %d bytes, manifest says %d", ErrPeerMisbehaving, h.Ref, h.RawLen, n)
	}
	b := data
	if h.Enc == wire.EncZstd {
		out, derr := dec.DecodeAll(data, (*raw)[:0])
		if derr != nil || int64(len(out)) != n {
			return r.badChunk(h.Ref, e.Path)
		}
		*raw = out[:0]
		b = out
	}
	want, err := r.t.ChunkHash(int(h.Entry), int64(h.Chunk))
	if err != nil {
		return false, err
	}
	if manifest.HashChunk(b) != want {
		return r.badChunk(h.Ref, e.Path)
	}
	f, err := r.files.get(int(h.Entry), e.Path, e.Size)
	if err != nil {
		return false, err
	}
	if _, err := f.writeAt(b, off); err != nil {
		return false, fmt.Errorf("%w: %s: %v", errWrite, e.Path, err)
	}
	if err := r.files.wrote(int(h.Entry)); err != nil {
		return false, err
	}
	r.fetched.Add(n)
	r.chunks.Add(1)
	r.lastChunk.Store(time.Now().UnixNano())
	r.current.Store(&e.Path)
	return true, nil
}

// badChunk counts a chunk that failed verification; it decides between
// fetching it again and giving up on the peer.
func (r *receiver) badChunk(ref wire.Ref, path string) (bool, error) {
	r.badMu.Lock()
	defer r.badMu.Unlock()
	r.bad[ref]++
	r.nbad++
	r.refetched.Add(1)
	r.log.Warn("chunk failed verification", "path", path, "chunk", ref.Chunk)
	if r.bad[ref] >= maxBadPerChunk || r.nbad >= maxBadTotal {
		return false, fmt.Errorf("%w: %d chunks failed verification (last: %s chunk %d)", ErrPeerMisbehaving, r.nbad, path, ref.Chunk)
	}
	return false, nil
}
