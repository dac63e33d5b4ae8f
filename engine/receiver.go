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
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"
	"golang.org/x/sys/unix"

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
	rlog     *store.ResumeLog
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
	p := r.plan
	streams := r.opts.Streams
	win := r.opts.MaxInFlight
	if min := 2 * int64(r.cs); win < min {
		win = min
	}
	r.window = semaphore.NewWeighted(win)
	r.lastChunk.Store(time.Now().UnixNano())
	feed := make(chan wire.Ref, feedAhead)
	r.q = newQueue(feed)
	r.files = newFileTable(r)
	r.commit = make(chan wire.Ref, 1024)
	r.ready = make(chan int, 1024)

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	cm := newCommitter(r)
	cmDone := make(chan error, 1)
	go func() { cmDone <- cm.run(cancel) }()

	batchBytes := win / int64(2*streams)
	if batchBytes < int64(r.cs) {
		batchBytes = int64(r.cs)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return r.feed(gctx, feed) })
	for i := 0; i < streams; i++ {
		g.Go(func() error { return r.streamWorker(gctx, op, batchBytes) })
	}
	werr := g.Wait()
	close(r.commit)
	close(r.ready)
	cerr := <-cmDone
	r.files.closeAll()
	if r.opts.runDone != nil {
		r.opts.runDone(r)
	}
	if cerr != nil {
		return cerr
	}
	if werr != nil {
		return werr
	}
	if n := int(r.filesDone.Load()); n != p.fetch {
		return fmt.Errorf("internal error: %d of %d files in place after the transfer", n, p.fetch)
	}
	if err := r.finishPresent(); err != nil {
		return err
	}
	if err := r.finishTree(); err != nil {
		return err
	}
	return r.rlog.Finish(r.root)
}

// feedAhead is how many chunk refs the feeder prepares ahead of the streams.
const feedAhead = 1024

// feed walks the plan in manifest order and hands every chunk to fetch to
// the queue, registering each file with the fileTable first. Files with
// nothing to fetch go straight to the committer. Only the file being fed
// is held in memory (its done set, one bit per chunk).
func (r *receiver) feed(ctx context.Context, out chan<- wire.Ref) error {
	defer close(out)
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
		r.stageDir = nil
	}
}

// streamWorker keeps one data stream busy until the queue is drained,
// re-opening the stream after transient failures.
func (r *receiver) streamWorker(ctx context.Context, op streamOpener, batchBytes int64) error {
	for first := true; ; {
		if r.q.finished() {
			return nil
		}
		if !first {
			r.reconnects.Add(1)
		}
		first = false
		s, err := op.openData(ctx)
		if err != nil {
			return err
		}
		err = r.runStream(ctx, s, batchBytes, op)
		r.log.Debug("data stream ended", "err", err)
		s.Close()
		if err == nil {
			return nil
		}
		if last := time.Unix(0, r.lastChunk.Load()); time.Since(last) > r.opts.Patience {
			// Streams open but nothing arrives: a stalled sender must not
			// keep the receiver re-opening streams forever.
			return fmt.Errorf("%w: no data from the sender for %v (last error: %v)", ErrInterrupted, time.Since(last).Round(time.Second), err)
		}
		if errors.Is(err, errMigrate) {
			r.migrations.Add(1)
			first = true // not a reconnect
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, ErrPeerMisbehaving) || errors.Is(err, wire.ErrSourceChanged) ||
			errors.Is(err, wire.ErrUnknownSession) || errors.Is(err, errWrite) {
			return err
		}
		r.log.Debug("data stream failed; reopening", "err", err)
	}
}

var errWrite = errors.New("writing to the destination failed")

// runStream pipelines requests and chunks on one stream. On any error the
// chunks it had requested go back to the queue and their window is freed.
func (r *receiver) runStream(ctx context.Context, s io.ReadWriteCloser, batchBytes int64, op streamOpener) error {
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

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { // requester
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
	g.Go(func() error { // reader
		defer close(readerDone)
		dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxMemory(uint64(r.cs)*2), zstd.WithDecoderMaxWindow(uint64(r.cs)*2))
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
		return errMigrate
	}
	return err
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

// abort resets s if it can be reset, and closes it otherwise.
func abort(s io.ReadWriteCloser) {
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

// queue hands out chunk refs to stream workers: refs that came back first,
// then the feeder's, in manifest order.
type queue struct {
	mu          sync.Mutex
	feed        <-chan wire.Ref
	fed         bool       // feed is closed and drained
	retry       []wire.Ref // requeued, and a fed ref that did not fit a batch
	outstanding int        // taken and not yet done
	changed     chan struct{}
}

func newQueue(feed <-chan wire.Ref) *queue {
	return &queue{feed: feed, changed: make(chan struct{})}
}

func (q *queue) signal() {
	close(q.changed)
	q.changed = make(chan struct{})
}

// next returns the next ref without waiting: a retry, else one from the
// feed. q.mu must be held.
func (q *queue) next() (wire.Ref, bool) {
	if len(q.retry) > 0 {
		ref := q.retry[0]
		q.retry = q.retry[1:]
		return ref, true
	}
	if q.fed {
		return wire.Ref{}, false
	}
	select {
	case ref, ok := <-q.feed:
		if !ok {
			q.fed = true
			q.signal()
			return wire.Ref{}, false
		}
		return ref, true
	default:
		return wire.Ref{}, false
	}
}

// take returns up to maxRefs refs of at most maxBytes in all (at least one),
// and their byte total. It waits while the feeder is working or other
// streams hold refs that may come back; it returns nil once every ref is
// done, or when ctx ends.
func (q *queue) take(ctx context.Context, maxRefs int, maxBytes int64, size func(wire.Ref) int64) ([]wire.Ref, int64) {
	for {
		q.mu.Lock()
		var out []wire.Ref
		var bytes int64
		for len(out) < maxRefs {
			ref, ok := q.next()
			if !ok {
				break
			}
			n := size(ref)
			if len(out) > 0 && bytes+n > maxBytes {
				q.retry = append([]wire.Ref{ref}, q.retry...)
				break
			}
			out = append(out, ref)
			bytes += n
		}
		if len(out) > 0 {
			q.outstanding += len(out)
			q.mu.Unlock()
			return out, bytes
		}
		if q.fed && q.outstanding == 0 {
			q.mu.Unlock()
			return nil, 0
		}
		ch, feed := q.changed, q.feed
		if q.fed {
			feed = nil
		}
		q.mu.Unlock()
		select {
		case <-ch:
		case ref, ok := <-feed:
			q.mu.Lock()
			if ok {
				q.retry = append(q.retry, ref)
			} else {
				q.fed = true
				q.signal()
			}
			q.mu.Unlock()
		case <-ctx.Done():
			return nil, 0
		}
	}
}

func (q *queue) requeue(refs []wire.Ref) {
	q.mu.Lock()
	q.retry = append(append([]wire.Ref(nil), refs...), q.retry...)
	q.outstanding -= len(refs)
	q.signal()
	q.mu.Unlock()
}

func (q *queue) done(n int) {
	q.mu.Lock()
	q.outstanding -= n
	if q.outstanding == 0 {
		q.signal()
	}
	q.mu.Unlock()
}

// finished reports whether every ref has been fed and done. A feed that is
// closed but not yet seen closed reads as not finished; the next take
// notices.
func (q *queue) finished() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.fed && q.outstanding == 0 && len(q.retry) == 0
}

// fileTable tracks the files being fetched: registered by the feeder before
// their first chunk is handed out, dropped once renamed into place. It
// holds only files in flight, never one record per manifest entry.
type fileTable struct {
	r    *receiver
	mu   sync.Mutex
	open map[int]*openFile
	peak int // the most files open at once (tests assert the bound)
}

type openFile struct {
	sf        *stagedFile // nil until the first write, and after the last
	writeLeft int64       // chunks still to write this run
	syncLeft  int64       // chunks still to become durable (committed)
}

func newFileTable(r *receiver) *fileTable {
	return &fileTable{r: r, open: make(map[int]*openFile)}
}

// expect registers file i with n chunks to fetch.
func (t *fileTable) expect(i int, n int64) {
	t.mu.Lock()
	t.open[i] = &openFile{writeLeft: n, syncLeft: n}
	t.peak = max(t.peak, len(t.open))
	t.mu.Unlock()
}

// committed records one chunk of file i as durable and reports whether it
// was the file's last.
func (t *fileTable) committed(i int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	of := t.open[i]
	if of == nil {
		return false
	}
	of.syncLeft--
	if of.syncLeft > 0 {
		return false
	}
	if of.sf != nil { // cannot happen: the last write closes it
		of.sf.close()
	}
	delete(t.open, i)
	return true
}

// forget drops file i (nothing to fetch: finalized directly).
func (t *fileTable) forget(i int) {
	t.mu.Lock()
	delete(t.open, i)
	t.mu.Unlock()
}

func (t *fileTable) get(i int, name string, size int64) (*stagedFile, error) {
	t.mu.Lock()
	of := t.open[i]
	var sf *stagedFile
	if of != nil {
		sf = of.sf
	}
	t.mu.Unlock()
	if of == nil {
		return nil, fmt.Errorf("internal error: chunk of %s, which is not being fetched", name)
	}
	if sf != nil {
		return sf, nil
	}
	// Open outside the lock: creating files is the receiver's costliest
	// system call with many small files, and streams work on different files.
	stage := strconv.Itoa(i)
	f, err := t.r.stageDir.OpenFile(stage, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", errWrite, name, err)
	}
	// A file moved aside for repair may be longer than the offer; chunks
	// written past the end extend a shorter one.
	if st, err := f.Stat(); err == nil && st.Size() > size {
		if err := f.Truncate(size); err != nil {
			f.Close()
			return nil, fmt.Errorf("%w: %s: %v", errWrite, name, err)
		}
	}
	sf = &stagedFile{File: f}
	if size >= int64(t.r.cs) {
		// Full chunks go around the page cache (see stagedFile). A file
		// system without O_DIRECT (tmpfs) refuses the open: fine. Files
		// smaller than a chunk do not: an O_DIRECT write waits for the
		// device, one small file at a time, after a second open. Paired
		// runs of pcp-bench -size 16 -only small: 2.7-4.8 s, against
		// 4.9-6.3 s with O_DIRECT from 4 KiB up.
		if d, err := t.r.stageDir.OpenFile(stage, os.O_WRONLY|syscall.O_DIRECT, 0); err == nil {
			sf.direct = d
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if of.sf != nil { // another stream opened it meanwhile
		sf.close()
		return of.sf, nil
	}
	of.sf = sf
	return sf, nil
}

// stagedFile is a staging file open twice: buffered, and with O_DIRECT for
// block-aligned writes. Writing 1 MiB chunks around the page cache saves the
// copy into it and the later write-back, the receiver's largest cost after
// TLS (pwrite was 0.9 CPU-s per GiB through the page cache on 4 streams).
type stagedFile struct {
	*os.File
	direct *os.File
}

// directAlign is the alignment O_DIRECT needs on the file systems pcp meets
// (the logical block size is 512 or 4096 bytes).
const directAlign = 4096

func (sf *stagedFile) writeAt(b []byte, off int64) (int, error) {
	if sf.direct != nil && len(b)%directAlign == 0 && off%directAlign == 0 && isAligned(b) {
		n, err := sf.direct.WriteAt(b, off)
		if err == nil {
			return n, nil
		}
		// EINVAL: the device wants another alignment. Stop trying.
		sf.direct.Close()
		sf.direct = nil
	}
	return sf.File.WriteAt(b, off)
}

func (sf *stagedFile) close() error {
	if sf.direct != nil {
		sf.direct.Close()
	}
	return sf.File.Close()
}

func isAligned(b []byte) bool {
	return uintptr(unsafe.Pointer(unsafe.SliceData(b)))%directAlign == 0
}

// alignedBuf returns an n-byte slice whose first byte is directAlign-aligned.
func alignedBuf(n int) []byte {
	b := make([]byte, n+directAlign)
	off := (directAlign - int(uintptr(unsafe.Pointer(unsafe.SliceData(b)))%directAlign)) % directAlign
	return b[off : off+n : off+n]
}

// wrote records one chunk written to entry i. After the file's last chunk
// of this run it applies mode and mtime through the open descriptor (cheaper
// than by path) and closes it.
func (t *fileTable) wrote(i int) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	of := t.open[i]
	if of == nil {
		return nil
	}
	of.writeLeft--
	if of.writeLeft > 0 || of.sf == nil {
		return nil
	}
	sf := of.sf
	of.sf = nil
	e, err := t.r.t.Entry(i)
	if err == nil {
		err = setMeta(sf.File, &e)
	}
	if cerr := sf.close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%w: %s: %v", errWrite, e.Path, err)
	}
	return nil
}

// setMeta applies the entry's mode and mtime to an open file.
func setMeta(f *os.File, e *manifest.Entry) error {
	if err := f.Chmod(os.FileMode(e.Mode)); err != nil {
		return err
	}
	ts := unix.NsecToTimespec(e.MTime)
	times := [2]unix.Timespec{ts, ts}
	// utimensat(fd, NULL, times, 0) sets the times of fd itself.
	if _, _, errno := unix.Syscall6(unix.SYS_UTIMENSAT, f.Fd(), 0, uintptr(unsafe.Pointer(&times[0])), 0, 0, 0); errno != 0 {
		return errno
	}
	return nil
}

func (t *fileTable) closeAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, of := range t.open {
		if of.sf != nil {
			of.sf.close()
		}
		delete(t.open, i)
	}
}
