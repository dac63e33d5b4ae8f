package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"

	"github.com/pcp-p2p/pcp/auth"
	"github.com/pcp-p2p/pcp/discovery"
	"github.com/pcp-p2p/pcp/engine/p2p"
	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/store"
)

// authPeer is a sender that passed PAKE.
type authPeer struct {
	info    peer.AddrInfo
	source  string
	session *auth.Session
	ctl     network.Stream
}

// candidateRetry is how often a found peer that could not be reached or
// authenticated (for a reason other than the passphrase) is tried again.
const candidateRetry = 3 * time.Second

// findSender tries candidates from discovery (or the direct addresses) until
// one passes PAKE. Candidates that fail authentication are not tried again.
func findSender(ctx context.Context, h host.Host, opts ReceiveOptions, log *slog.Logger) (*authPeer, error) {
	timeout := opts.Network.FindTimeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	fctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cands, err := candidates(fctx, h, opts, log)
	if err != nil {
		return nil, err
	}
	// With a known relay, every candidate can also be reached through it at
	// once, even before its own record lists a relay address.
	circuits, err := relayCircuits(opts.Network.Relays)
	if err != nil {
		return nil, err
	}
	// A candidate that failed for any reason but its passphrase is tried
	// again until the timeout: a sender's relay reservation may come
	// seconds after its record was found.
	rejected := map[peer.ID]bool{} // failed authentication: never again
	failed := map[peer.ID]discovery.Candidate{}
	retry := time.NewTicker(candidateRetry)
	defer retry.Stop()
	var authErr error
	var grace <-chan time.Time
	try := func(c discovery.Candidate, again bool) (*authPeer, bool) {
		if !again {
			c.Info.Addrs = append(c.Info.Addrs, circuits...)
			emit(opts.Events, PeerFoundEvent{Peer: c.Info.ID.String(), Source: c.Source})
		}
		ap, err := tryCandidate(fctx, h, c, opts.Passphrase)
		if err == nil {
			return ap, true
		}
		log.Debug("candidate failed", "peer", c.Info.ID, "source", c.Source, "again", again, "err", err)
		if errors.Is(err, auth.ErrWrongPassphrase) || errors.Is(err, auth.ErrHandshake) || errors.Is(err, ErrOldPeer) {
			rejected[c.Info.ID] = true
			delete(failed, c.Info.ID)
			if !errors.Is(err, ErrOldPeer) { // an older pcp tested no passphrase
				emit(opts.Events, AuthFailedEvent{Peer: c.Info.ID.String(), Failures: 1, Err: err})
			}
			if authErr == nil {
				authErr = err
				// Another sender may share the channel; give it a moment.
				grace = time.After(3 * time.Second)
			}
			return nil, false
		}
		failed[c.Info.ID] = c
		return nil, false
	}
	searching := searchProgress(opts, timeout, func() int { return len(rejected) + len(failed) })
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			searching()
		case c, ok := <-cands:
			if !ok {
				cands = nil // all tried; failed ones are retried below
				continue
			}
			if c.Info.ID == h.ID() || rejected[c.Info.ID] {
				continue
			}
			if ap, ok := try(c, false); ok {
				return ap, nil
			}
		case <-retry.C:
			for _, c := range failed {
				if ap, ok := try(c, true); ok {
					return ap, nil
				}
			}
		case <-grace:
			return nil, authErr
		case <-fctx.Done():
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if authErr != nil {
				return nil, authErr
			}
			return nil, fmt.Errorf("%w within %v", ErrPeerNotFound, timeout)
		}
	}
}

// candidates yields the peers to try: the direct addresses (the channel
// closes after them), or what discovery finds on the offer's channel until
// ctx ends. The sender's search and the swarm's gathering of more sources
// both start here.
func candidates(ctx context.Context, h host.Host, opts ReceiveOptions, log *slog.Logger) (<-chan discovery.Candidate, error) {
	if len(opts.Network.Direct) > 0 {
		infos, err := p2p.ParseAddrInfos(opts.Network.Direct)
		if err != nil {
			return nil, fmt.Errorf("--direct: %w", err)
		}
		c := make(chan discovery.Candidate, len(infos))
		for _, in := range infos {
			c <- discovery.Candidate{Info: in, Source: "direct"}
		}
		close(c)
		return c, nil
	}
	if opts.Network.NoDiscovery {
		return nil, fmt.Errorf("%w: discovery is off and no direct address was given", ErrPeerNotFound)
	}
	dopts, err := discoveryOptions(opts.Network, log)
	if err != nil {
		return nil, err
	}
	return discovery.Find(ctx, h, opts.Passphrase.Channel(), dopts)
}

func tryCandidate(ctx context.Context, h host.Host, c discovery.Candidate, pass auth.Passphrase) (*authPeer, error) {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := h.Connect(cctx, c.Info); err != nil {
		return nil, err
	}
	s, err := openStream(cctx, h, c.Info.ID, wire.Open{Kind: wire.KindControl})
	if err != nil {
		return nil, err
	}
	sess, err := auth.Handshake(cctx, s, auth.Config{
		Role:       auth.RoleReceiver,
		Passphrase: pass,
		LocalID:    []byte(h.ID()),
		RemoteID:   []byte(c.Info.ID),
	})
	if err != nil {
		s.Reset()
		return nil, err
	}
	// Keep the sender's addresses for re-dialing after a drop.
	h.Peerstore().AddAddrs(c.Info.ID, c.Info.Addrs, peerstore.PermanentAddrTTL)
	h.Peerstore().AddAddrs(c.Info.ID, h.Peerstore().Addrs(c.Info.ID), peerstore.PermanentAddrTTL)
	return &authPeer{info: c.Info, source: c.Source, session: sess, ctl: s}, nil
}

// Receive finds the sender, authenticates, shows the offer and fetches what
// is missing into opts.Dest.
func Receive(ctx context.Context, opts ReceiveOptions) (*Summary, error) {
	log := discard(opts.Logger)
	start := time.Now()
	if opts.Passphrase.IsZero() {
		return nil, fmt.Errorf("%w: no passphrase", auth.ErrBadPassphrase)
	}
	if opts.Streams <= 0 {
		opts.Streams = DefaultStreams
	}
	// A sender serves at most MaxStreams per session; more would only be
	// refused as busy.
	opts.Streams = min(opts.Streams, MaxStreams)
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = DefaultMaxInFlight
	}
	if opts.Patience <= 0 {
		opts.Patience = DefaultPatience
	}
	if opts.Stdout != nil {
		// The file goes to a private directory in the state directory
		// (stdout.go): that is what must be writable.
		opts.Dest = os.TempDir()
		if opts.ResumeLogPath != "" {
			opts.Dest = filepath.Dir(opts.ResumeLogPath)
		}
		if err := os.MkdirAll(opts.Dest, 0o700); err != nil {
			return nil, fmt.Errorf("state directory: %w", err)
		}
	}
	if opts.Dest == "" {
		opts.Dest = "."
	}
	// What can fail at the destination fails before any search.
	if err := CheckDestination(opts.Dest); err != nil {
		return nil, err
	}
	destDir, err := filepath.Abs(opts.Dest)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(destDir, 0o755); err != nil {
		return nil, fmt.Errorf("destination: %w", err)
	}
	dest, err := os.OpenRoot(destDir)
	if err != nil {
		return nil, fmt.Errorf("destination: %w", err)
	}
	defer dest.Close()
	// Without a resume log asked for, a temporary one holds the transfer's
	// state, so that one code path serves both; nothing is synced for it.
	logPath, durable, tmpDir := opts.ResumeLogPath, true, filepath.Dir(opts.ResumeLogPath)
	if logPath == "" {
		d, err := os.MkdirTemp("", "pcp-receive-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		logPath, durable, tmpDir = filepath.Join(d, "resume.db"), false, d
	} else if err := os.MkdirAll(tmpDir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	rlog, err := store.OpenResumeLogWith(logPath, store.ResumeLogOptions{NoSync: !durable})
	if err != nil {
		return nil, err
	}
	defer rlog.Close()

	h, err := newHost(opts.Network, opts.Events, nil, log)
	if err != nil {
		return nil, err
	}
	defer h.Close()

	ap, err := findSender(ctx, h, opts, log)
	if err != nil {
		return nil, err
	}
	path := p2p.PathOf(h, ap.info.ID)
	emit(opts.Events, AuthenticatedEvent{Peer: ap.info.ID.String(), Path: path})
	if opts.afterAuth != nil {
		opts.afterAuth(h, ap.info.ID)
	}

	idle := cmp.Or(opts.manifestIdle, manifestIdle)
	stopCtl := context.AfterFunc(ctx, func() { ap.ctl.Reset() })
	elsewhere := manifestOpener(ctx, h, ap.info.ID, ap.session.ID, cmp.Or(opts.noPathWait, NoPathWait))
	t, info, err := readManifest(ap.ctl, tmpDir, idle, opts.freeSpaceFunc(), elsewhere)
	stopCtl()
	if err != nil {
		ap.ctl.Reset()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %w", ErrInterrupted, ctx.Err())
		}
		return nil, manifestError(err, idle)
	}
	if info.Stream() {
		return receiveStream(ctx, streamCall{h: h, ap: ap, opts: opts, dest: dest, idle: idle, start: start, log: log})
	}
	defer t.Close()
	root := t.Root()
	emit(opts.Events, ManifestEvent{Root: root.String(), Files: int(t.Files()), Bytes: t.TotalSize()})
	decline := func(err error) (*Summary, error) {
		// Tell the sender, then wait (briefly) until it has read the
		// Decline and closed: closing the host at once could drop it.
		if wire.WriteFrame(ap.ctl, wire.TDecline, nil) == nil {
			_ = ap.ctl.CloseWrite()
			_ = ap.ctl.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, _ = io.Copy(io.Discard, ap.ctl)
		}
		ap.ctl.Close()
		return nil, err
	}
	removeStdout := false // the private directory of a receive to Stdout, once done
	if opts.Stdout != nil && !info.Text() {
		if err := checkOneFile(t); err != nil {
			return decline(err)
		}
		sdir, sdest, err := stdoutDest(tmpDir, root)
		if err != nil {
			return nil, err
		}
		defer func() {
			if removeStdout { // the log's record would name a removed directory
				_ = rlog.Delete(root)
				os.RemoveAll(sdir)
			}
		}()
		defer sdest.Close()
		dest, destDir, opts.Dest = sdest, sdir, sdir
		opts.forPrivateDest()
	}
	if info.Text() {
		// A message goes to a private directory, with a log of its own,
		// and asks nothing: the destination is not touched (text.go).
		tdir, err := os.MkdirTemp(tmpDir, "text-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tdir)
		if dest, err = os.OpenRoot(tdir); err != nil {
			return nil, err
		}
		defer dest.Close()
		if rlog, err = store.OpenResumeLogWith(filepath.Join(tdir, ResumeLogFile), store.ResumeLogOptions{NoSync: true}); err != nil {
			return nil, err
		}
		defer rlog.Close()
		destDir, durable = tdir, false
		opts.forPrivateDest()
		opts.Confirm = nil // and asks nothing
	}
	if err := rlog.Begin(t, destDir); err != nil {
		return nil, err
	}
	opts.limit = newRateLimit(opts.RateLimit)
	r := newReceiver(opts, t, dest, rlog, durable, log)
	defer r.closeStage()
	p, err := r.makePlan(ctx)
	var refused *RefusedError
	if errors.As(err, &refused) {
		refused.Offer.Root, refused.Offer.Peer, refused.Offer.Path = root.String(), ap.info.ID.String(), path
		return decline(refused)
	}
	if errors.Is(err, ErrDeclined) { // nothing selected, or declined at Pick
		return decline(err)
	}
	if err != nil {
		return nil, err
	}
	r.plan = p
	p.offer.Root, p.offer.Peer, p.offer.Path = root.String(), ap.info.ID.String(), path
	resolved := false
	if p.offer.ConflictCount > 0 {
		if err := r.resolveConflicts(ctx, p); err != nil {
			return decline(err)
		}
		resolved = !r.opts.SkipExisting && !opts.Overwrite // answered at the question
	}
	offer := p.offer
	// Staging files take the missing bytes at the destination before any
	// file is in place: an offer that cannot fit stops here, before data
	// moves. Not a Decline: the sender keeps waiting for a run with room.
	if need := p.wantBytes() - offer.PresentBytes - offer.ResumeBytes; need > 0 {
		if n, ok := opts.freeSpaceFunc()(destDir); ok && need > n {
			ap.ctl.Reset()
			return nil, fmt.Errorf("%w: %w: %d bytes to fetch into %s, which has %d free", ErrInterrupted, ErrNoSpace, need, opts.Dest, n)
		}
	}
	// An answer to the conflict question accepted the offer already.
	if !resolved && opts.Confirm != nil && !opts.Confirm(offer) {
		return decline(ErrDeclined)
	}
	if err := wire.WriteFrame(ap.ctl, wire.TAccept, nil); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInterrupted, err)
	}
	ap.ctl.Close()
	recordMeta(rlog, root, offer, ap.info.ID.String(), log)
	if offer.PresentBytes > 0 || offer.ResumeBytes > 0 {
		emit(opts.Events, ResumedEvent{PresentBytes: offer.PresentBytes, ResumeBytes: offer.ResumeBytes, TotalBytes: offer.SelectedBytes})
	}
	if err := r.apply(p); err != nil {
		return nil, err
	}
	var seeder *seeding
	// Several sources, and seeding, need global chunk indexes: an offer
	// with too many chunks for them is fetched from the sender alone.
	swarming := (opts.swarm || swarmByDefault) && swarmable(t)
	if swarming && !opts.NoSeed {
		if seeder, err = startSeeding(ctx, h, opts, r, log); err != nil {
			return nil, err
		}
		defer seeder.stop()
	}

	op := &p2pOpener{h: h, info: ap.info, session: ap.session.ID, patience: opts.Patience, events: opts.Events, log: log,
		noPathWait: cmp.Or(opts.noPathWait, NoPathWait),
		renewal:    renewing{pass: opts.Passphrase, root: root, stateDir: tmpDir, idle: idle, free: opts.freeSpaceFunc()},
	}
	op.selected = p.part.partial()
	op.follow = newFollower(h, op.peer, opts.Passphrase.Channel(), opts.Network, log)
	defer op.follow.stop()
	skipped := offer.PresentBytes + offer.ResumeBytes
	runCtx, emitted, err := r.startStdout(ctx)
	if err != nil {
		return nil, err
	}
	stopProgress := r.progress(ctx, opts.Events, skipped, p.wantBytes(), op)
	var swarmed *swarmSources
	if swarming {
		swarmed = &swarmSources{h: h, opts: opts, log: log, r: r, op: op, first: ap.info.ID, tmpDir: tmpDir, idle: idle}
		err = emitted(swarmed.cause(r.runSwarm(runCtx, swarmed.add)))
		swarmed.wait()
		swarmed.report()
	} else {
		err = emitted(r.run(runCtx, op))
	}
	stopProgress()
	if err != nil {
		return nil, transferError(ctx, err)
	}
	// The path the data took, read before Done: a sender that has its
	// acknowledgement closes its host at once, and with no connection
	// left the path would read as unknown.
	donePath, doneTransport := p2p.PathOf(h, op.peer()), p2p.TransportOf(h, op.peer())
	op.finish(ctx)
	if swarmed != nil {
		swarmed.finish(ctx)
	}
	if info.Text() {
		text, err := readText(dest, t)
		if err != nil {
			return nil, err
		}
		emit(opts.Events, TextEvent{Text: text})
	}
	s := Summary{
		Root:            root.String(),
		Files:           int(t.Files()),
		ManifestBytes:   t.TotalSize(),
		WireBytes:       r.wire.Load(),
		FetchedBytes:    r.fetched.Load(),
		SkippedBytes:    skipped,
		ChunksFetched:   r.chunks.Load(),
		ChunksRefetched: r.refetched.Load(),
		Reconnects:      int(r.reconnects.Load()),
		Duration:        time.Since(start),
		Path:            donePath,
		Transport:       doneTransport,
		Streams:         opts.Streams,
		SkippedFiles:    p.skipFiles,
	}
	p.summarize(&s)
	removeStdout = true
	emit(opts.Events, DoneEvent{Summary: s})
	if seeder != nil {
		seeder.finished(ctx, opts.Seed)
	}
	return &s, nil
}

// progress emits ProgressEvents every 100ms until the returned func is called.
func (r *receiver) progress(ctx context.Context, events func(Event), skipped, total int64, op *p2pOpener) func() {
	if events == nil {
		return func() {}
	}
	filesTotal := r.plan.wantFiles()
	already := r.plan.already
	send := func() {
		cur := ""
		if p := r.current.Load(); p != nil {
			cur = *p
		}
		events(ProgressEvent{
			Bytes: skipped + r.fetched.Load(), TotalBytes: total, WireBytes: r.wire.Load(),
			Files: already + int(r.filesDone.Load()), FilesTotal: filesTotal, Current: cur,
			Path: p2p.PathOf(op.h, op.peer()), Transport: p2p.TransportOf(op.h, op.peer()), Streams: r.opts.Streams,
		})
	}
	return every(ctx, 100*time.Millisecond, send)
}

// every calls send every d until the returned stop is called (then once
// more, and stop waits for it) or ctx ends.
func every(ctx context.Context, d time.Duration, send func()) (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				send()
			case <-done:
				send()
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return func() { close(done); <-finished }
}
