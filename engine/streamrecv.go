package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"golang.org/x/sync/errgroup"

	"github.com/pcp-p2p/pcp/engine/p2p"
	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/manifest"
)

// Receiving a stream (pcp send -; wire/doc.go, "Streams of standard input").
//
// After the sender's ManifestInfo says FlagStream, the control stream
// brings StreamInfo: the stream's id, chunk size, name and whether the
// sender spools it. The receiver decides and closes the control stream,
// then reads the announcements on a KindManifest stream of the session
// (streamrecv_announce.go: every rule of the wire doc checked), fetches
// announced chunks over data streams (streamrecv_fetch.go), verifies each
// against its announcement, and writes them in order (streamrecv_sched.go)
// to Stdout or to a staging file (streamrecv_sink.go) that is renamed into
// place once StreamEnd's root matches the announcements.
//
// Memory is bounded by the in-flight window (MaxInFlight) whatever the
// stream's size; a stream written to a file by the free space and
// MaxStream. A dropped connection re-opens the announcements (checked
// equal to the first sight) and the data streams within Patience. A file
// receive resumes across runs: the staging directory records the verified
// prefix, and a new run of the same stream (the same id) continues there
// once the new announcements of the prefix digest to the recorded ones;
// another stream of the same name starts over. A receive to Stdout always
// starts at byte 0.

// streamCall is what Receive hands to receiveStream.
type streamCall struct {
	h     host.Host
	ap    *authPeer
	opts  ReceiveOptions
	dest  *os.Root
	idle  time.Duration
	start time.Time
	log   *slog.Logger
}

// receiveStream receives a stream offer whose ManifestInfo was read.
func receiveStream(ctx context.Context, c streamCall) (*Summary, error) {
	opts, ap := c.opts, c.ap
	info, err := readStreamInfo(ap.ctl, c.idle)
	if err != nil {
		ap.ctl.Reset()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %w", ErrInterrupted, ctx.Err())
		}
		return nil, manifestError(err, c.idle)
	}
	path := p2p.PathOf(c.h, ap.info.ID)
	so := StreamOffer{Name: info.Name, ID: fmt.Sprintf("%x", info.ID), ChunkSize: info.ChunkSize, Spooled: info.Spooled(), Stdout: opts.Stdout != nil}
	var sink streamSink
	var fsink *fileSink
	var res streamResume
	if opts.Stdout != nil {
		sink = stdoutSink{w: opts.Stdout}
	} else {
		if st, err := c.dest.Lstat(info.Name); err == nil && (!opts.Overwrite || st.IsDir()) {
			emit(opts.Events, StreamOfferEvent{Offer: so})
			return declineControl(ap, fmt.Errorf("%w: %s (the stream would replace it; use --overwrite, or receive it elsewhere)", ErrExists, info.Name))
		}
		if fsink, res, err = openFileSink(c.dest, info); err != nil {
			ap.ctl.Reset()
			return nil, err
		}
		defer fsink.close()
		fsink.max = opts.MaxStream
		free, dir := opts.freeSpaceFunc(), opts.Dest
		fsink.free = func() (int64, bool) { return free(dir) }
		sink = fsink
		so.ResumeBytes, so.Restarted = res.bytes, res.restarted
	}
	emit(opts.Events, StreamOfferEvent{Offer: so})
	if opts.Stdout == nil && opts.Confirm != nil {
		offer := Offer{Root: so.ID, TopLevel: []string{info.Name}, TopLevelCount: 1, Files: 1, SelectedFiles: 1,
			ResumeBytes: res.bytes, Peer: ap.info.ID.String(), Path: path, Stream: &so}
		if !opts.Confirm(offer) {
			fsink.unused()
			return declineControl(ap, ErrDeclined)
		}
	}
	if fsink != nil {
		if err := fsink.begin(); err != nil {
			ap.ctl.Reset()
			return nil, err
		}
	}
	if err := wire.WriteFrame(ap.ctl, wire.TAccept, nil); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInterrupted, err)
	}
	ap.ctl.Close()

	s := newStreamRecv(info, sink, opts, res)
	op := &p2pOpener{h: c.h, info: ap.info, session: ap.session.ID, patience: opts.Patience, events: opts.Events, log: c.log,
		noPathWait: cmp.Or(opts.noPathWait, NoPathWait)}
	open := manifestOpener(ctx, c.h, ap.info.ID, ap.session.ID, cmp.Or(opts.noPathWait, NoPathWait))
	stopProgress := s.progress(ctx, opts.Events, op, opts.Streams)
	err = s.run(ctx, open, op, opts, c.idle)
	stopProgress()
	if err == nil && fsink != nil {
		err = fsink.place(opts.Overwrite)
	}
	if err != nil {
		return nil, transferError(ctx, err)
	}
	donePath, doneTransport := p2p.PathOf(c.h, op.peer()), p2p.TransportOf(c.h, op.peer())
	op.finish(ctx)
	sum := Summary{
		Root: s.end.Root.String(), Files: 1, ManifestBytes: int64(s.end.Size),
		WireBytes: s.wire.Load(), FetchedBytes: s.fetched.Load(), SkippedBytes: s.resumed,
		ChunksFetched: s.chunks.Load(), Reconnects: int(s.reconnects.Load()),
		Duration: time.Since(c.start), Path: donePath, Transport: doneTransport, Streams: opts.Streams,
		SelectedFiles: 1, SelectedBytes: int64(s.end.Size),
	}
	emit(opts.Events, DoneEvent{Summary: sum})
	return &sum, nil
}

// readStreamInfo reads the StreamInfo that follows a stream's
// ManifestInfo on the control stream (Wait frames may come first).
func readStreamInfo(ctl deadlineReader, idle time.Duration) (wire.StreamInfo, error) {
	defer ctl.SetReadDeadline(time.Time{})
	fr := wire.NewReader(ctl)
	for {
		_ = ctl.SetReadDeadline(time.Now().Add(idle))
		t, p, err := fr.Next()
		if err != nil {
			return wire.StreamInfo{}, err
		}
		switch t {
		case wire.TWait:
			continue
		case wire.TStreamInfo:
			return wire.DecodeStreamInfo(p)
		}
		return wire.StreamInfo{}, fmt.Errorf("%w: %v where StreamInfo was due", wire.ErrFrame, t)
	}
}

// declineControl tells the sender no, waits briefly for it to close, and
// returns err (as Receive's decline does).
func declineControl(ap *authPeer, err error) (*Summary, error) {
	if wire.WriteFrame(ap.ctl, wire.TDecline, nil) == nil {
		_ = ap.ctl.CloseWrite()
		_ = ap.ctl.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.Copy(io.Discard, ap.ctl)
	}
	ap.ctl.Close()
	return nil, err
}

// newStreamRecv sets up the state of a stream receive; res is what an
// earlier run verified (zero: nothing).
func newStreamRecv(info wire.StreamInfo, sink streamSink, opts ReceiveOptions, res streamResume) *streamRecv {
	cs := int64(info.ChunkSize)
	root, _ := manifest.NewStreamHasher(info.ChunkSize) // the chunk size was checked
	// A chunk in the window is held twice at worst (a frame in its data
	// stream's receive buffer, then its verified copy waiting its turn):
	// half the window in chunks keeps the memory within the window.
	win := cmp.Or(opts.MaxInFlight, DefaultMaxInFlight)
	s := &streamRecv{
		info: info, cs: cs, sink: sink, max: opts.MaxStream, limit: newRateLimit(opts.RateLimit),
		slots:   uint64(max(win/(2*cs), 2)),
		changed: make(chan struct{}),
		root:    root, shortAt: -1,
		ready:  make(map[uint64][]byte),
		prefix: prefixHasher(),
	}
	s.bufs = make(chan []byte, s.slots)
	if opts.Stdout != nil {
		s.max = 0 // a bound on what is written to a file
	}
	if res.chunks > 0 {
		s.base, s.next, s.resumed = res.chunks, res.chunks, res.bytes
		s.prefix, s.prefixSum = nil, res.sum
		if res.bytes < int64(res.chunks)*cs {
			s.shortAt, s.shortLen = int64(res.chunks-1), res.bytes-int64(res.chunks-1)*cs
		}
	}
	s.lastData.Store(time.Now().UnixNano())
	return s
}

// run reads the announcements, fetches and writes until the stream is
// written whole, or fails.
func (s *streamRecv) run(ctx context.Context, open manifestStreamFunc, op streamOpener, opts ReceiveOptions, idle time.Duration) error {
	streams := cmp.Or(opts.Streams, DefaultStreams)
	batch := int(max(1, s.slots/uint64(2*streams)))
	stall := cmp.Or(opts.stall, stallTimeout)
	patience := cmp.Or(opts.Patience, DefaultPatience)
	g, gctx := errgroup.WithContext(ctx)
	// The first failure stops everyone waiting on the shared state.
	goFail := func(f func() error) {
		g.Go(func() error {
			err := f()
			if err != nil {
				s.fail(err)
			}
			return err
		})
	}
	goFail(func() error { return s.announcements(gctx, open, idle, patience) })
	for range streams {
		goFail(func() error { return s.fetchWorker(gctx, op, batch, stall, patience) })
	}
	goFail(func() error { return s.write(gctx) })
	err := g.Wait()
	if err != nil && !errors.Is(err, errWrite) {
		// What was written was verified: keep the record of it, so that a
		// new run fetches no more than it must.
		s.mu.Lock()
		n, p := s.base, s.prefix
		s.mu.Unlock()
		if p != nil {
			_ = s.sink.commit(n, sumOf(p), true)
		}
	}
	if opts.streamDone != nil {
		opts.streamDone(s)
	}
	return err
}

// progress emits ProgressEvents every 100ms until the returned func is
// called. While the stream is open (StreamOpen), TotalBytes is what was
// announced so far; once it ended, its size.
func (s *streamRecv) progress(ctx context.Context, events func(Event), op *p2pOpener, streams int) func() {
	if events == nil {
		return func() {}
	}
	send := func() {
		s.mu.Lock()
		total, open := int64(s.announced)*s.cs, !s.ended
		if s.ended {
			total = int64(s.end.Size)
		}
		s.mu.Unlock()
		files := 0
		if !open && s.resumed+s.fetched.Load() == total {
			files = 1
		}
		events(ProgressEvent{
			Bytes: s.resumed + s.fetched.Load(), TotalBytes: total, WireBytes: s.wire.Load(), StreamOpen: open,
			Files: files, FilesTotal: 1, Current: s.info.Name,
			Path: p2p.PathOf(op.h, op.peer()), Transport: p2p.TransportOf(op.h, op.peer()), Streams: streams,
		})
	}
	return every(ctx, 100*time.Millisecond, send)
}
