package engine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/pcp-p2p/pcp/auth"
	"github.com/pcp-p2p/pcp/discovery"
	"github.com/pcp-p2p/pcp/engine/p2p"
	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/manifest"
	"github.com/pcp-p2p/pcp/store"
)

func discard(l *slog.Logger) *slog.Logger {
	if l != nil {
		return l
	}
	return slog.New(slog.DiscardHandler)
}

func newHost(n NetworkOptions, log *slog.Logger) (host.Host, error) {
	relays, err := p2p.ParseAddrInfos(n.Relays)
	if err != nil {
		return nil, fmt.Errorf("--relay: %w", err)
	}
	return p2p.NewHost(p2p.HostOptions{ListenAddrs: n.ListenAddrs, Relays: relays, Logger: log})
}

func discoveryOptions(n NetworkOptions, log *slog.Logger) (discovery.Options, error) {
	boot, err := p2p.ParseAddrInfos(n.Bootstrap)
	if err != nil {
		return discovery.Options{}, fmt.Errorf("--bootstrap: %w", err)
	}
	return discovery.Options{MDNS: !n.DHTOnly, DHT: !n.MDNSOnly, Bootstrap: boot, Logger: log}, nil
}

// fullAddrs returns h's addresses with its /p2p/ suffix.
func fullAddrs(h host.Host) []string {
	var out []string
	for _, a := range h.Addrs() {
		out = append(out, fmt.Sprintf("%s/p2p/%s", a, h.ID()))
	}
	return out
}

// Send serves paths to the first receiver that authenticates with the
// passphrase, until it reports everything received (nil), the user stops it
// (ctx), too many handshakes fail, or the receiver declines.
func Send(ctx context.Context, opts SendOptions) (*Summary, error) {
	log := discard(opts.Logger)
	if opts.Passphrase.IsZero() {
		return nil, fmt.Errorf("%w: no passphrase", auth.ErrBadPassphrase)
	}
	h, err := newHost(opts.Network, log)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	srv := newServer(opts.Passphrase, h.ID(), opts.MaxAuthFailures, opts.Events, log)
	srv.tamper = opts.tamper
	prepDone := make(chan struct{})
	defer func() {
		// After the handlers (wg.Wait below runs first): stop the walk if
		// it still runs, then drop the manifest table's files.
		cancel()
		<-prepDone
		if srv.src != nil {
			srv.src.Close()
		}
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	h.SetStreamHandler(wire.ProtocolID, func(s network.Stream) {
		wg.Add(1)
		defer wg.Done()
		remote := s.Conn().RemotePeer()
		log.Debug("stream in", "peer", remote, "conn", s.Conn().RemoteMultiaddr(), "relayed", p2p.IsRelayed(s.Conn()))
		srv.handle(ctx, s, remote, p2p.PathOf(h, remote))
		log.Debug("stream done", "peer", remote, "conn", s.Conn().RemoteMultiaddr())
	})
	emit(opts.Events, ListeningEvent{PeerID: h.ID().String(), Addrs: fullAddrs(h)})
	dopts, err := discoveryOptions(opts.Network, log)
	if err != nil {
		return nil, err
	}
	if !opts.Network.NoDiscovery {
		if err := discovery.Advertise(ctx, h, opts.Passphrase.Channel(), dopts); err != nil {
			return nil, fmt.Errorf("advertising: %w", err)
		}
	}

	walkErr := make(chan error, 1)
	go func() {
		defer close(prepDone)
		walkErr <- srv.prepare(ctx, opts)
	}()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()

	for {
		select {
		case <-tick.C:
			srv.progress(h)
		case err := <-walkErr:
			if err != nil {
				return nil, err
			}
			walkErr = nil
		case err := <-srv.fatal:
			return nil, err
		case ss := <-srv.finished:
			srv.progress(h)
			s := srv.summary()
			s.Path = ss.path
			emit(opts.Events, DoneEvent{Summary: s})
			return &s, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// prepare walks and hashes the paths, then publishes the manifest.
func (s *server) prepare(ctx context.Context, opts SendOptions) error {
	wo := manifest.WalkOptions{
		ChunkSize: opts.ChunkSize,
		TempDir:   tempDirFor(opts.HashCachePath),
		Progress: func(p manifest.WalkProgress) {
			emit(opts.Events, HashingEvent{Phase: p.Phase, Files: p.Files, FilesTotal: p.FilesTotal,
				Bytes: p.Bytes, BytesTotal: p.BytesTotal, Current: p.Current})
		},
		OnSkip: func(local string, err error) { s.log.Warn("skipped", "path", local, "reason", err) },
	}
	if opts.HashCachePath != "" {
		hc, err := store.OpenHashCache(opts.HashCachePath)
		switch {
		case errors.Is(err, store.ErrLocked):
			// Another pcp send uses the cache: hash without it.
			s.log.Warn("hash cache in use by another pcp process; hashing without it", "path", opts.HashCachePath)
		case err != nil:
			return err
		default:
			defer hc.Close()
			wo.Cache = hc
		}
	}
	src, err := manifest.Walk(ctx, opts.Paths, wo)
	if err != nil {
		return err
	}
	t := src.Table
	if opts.ManifestOut != "" {
		if err := writeManifestFile(opts.ManifestOut, t); err != nil {
			src.Close()
			return err
		}
	}
	s.setSource(src)
	emit(opts.Events, ManifestEvent{Root: s.root.String(), Files: int(t.Files()), Bytes: t.TotalSize()})
	return nil
}

// tempDirFor is where a manifest table goes: beside the state file path
// (the state directory), else os.TempDir(), which may be a RAM-backed tmpfs.
func tempDirFor(statePath string) string {
	if statePath == "" {
		return ""
	}
	d := filepath.Dir(statePath)
	if os.MkdirAll(d, 0o700) != nil {
		return ""
	}
	return d
}

// progress reports what the sender has served, once a receiver is authenticated.
func (s *server) progress(h host.Host) {
	if s.events == nil {
		return
	}
	s.mu.Lock()
	var last *srvSession
	for _, ss := range s.sessions {
		last = ss
	}
	streams := s.dataStreams
	s.mu.Unlock()
	select {
	case <-s.ready:
	default:
		return
	}
	if last == nil {
		return
	}
	t := s.src.Table
	s.events(ProgressEvent{Bytes: s.rawServed.Load(), TotalBytes: t.TotalSize(), WireBytes: s.wireServed.Load(),
		FilesTotal: int(t.Files()), Path: p2p.PathOf(h, last.peer), Streams: streams})
}

func (s *server) summary() Summary {
	t := s.src.Table
	return Summary{
		Root:          s.root.String(),
		Files:         int(t.Files()),
		ManifestBytes: t.TotalSize(),
		WireBytes:     s.wireServed.Load(),
		FetchedBytes:  s.rawServed.Load(),
		ChunksFetched: s.chunksServed.Load(),
		Duration:      time.Since(s.start),
		Streams:       s.maxStreams,
	}
}

func writeManifestFile(path string, t *manifest.Table) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, t.Encoding()); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ReadManifestFile reads a manifest written by SendOptions.ManifestOut into
// a table whose temporary files go to tmpDir ("" = os.TempDir()). The
// caller closes it.
func ReadManifestFile(path, tmpDir string) (*manifest.Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return manifest.DecodeTable(bufio.NewReaderSize(f, 64<<10), tmpDir, manifest.Limits{})
}

// authPeer is a sender that passed PAKE.
type authPeer struct {
	info    peer.AddrInfo
	source  string
	session *auth.Session
	ctl     network.Stream
}

// findSender tries candidates from discovery (or the direct addresses) until
// one passes PAKE. Candidates that fail authentication are not tried again.
func findSender(ctx context.Context, h host.Host, opts ReceiveOptions, log *slog.Logger) (*authPeer, error) {
	timeout := opts.Network.FindTimeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	fctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cands := make(chan discovery.Candidate, 16)
	if len(opts.Network.Direct) > 0 {
		infos, err := p2p.ParseAddrInfos(opts.Network.Direct)
		if err != nil {
			return nil, fmt.Errorf("--direct: %w", err)
		}
		for _, in := range infos {
			cands <- discovery.Candidate{Info: in, Source: "direct"}
		}
	} else if opts.Network.NoDiscovery {
		return nil, fmt.Errorf("%w: discovery is off and no direct address was given", ErrPeerNotFound)
	} else {
		dopts, err := discoveryOptions(opts.Network, log)
		if err != nil {
			return nil, err
		}
		ch, err := discovery.Find(fctx, h, opts.Passphrase.Channel(), dopts)
		if err != nil {
			return nil, err
		}
		cands = make(chan discovery.Candidate)
		go func() {
			for c := range ch {
				select {
				case cands <- c:
				case <-fctx.Done():
					return
				}
			}
		}()
	}
	// With a known relay, every candidate can also be reached through it at
	// once, even before its own record lists a relay address.
	circuits, err := relayCircuits(opts.Network.Relays)
	if err != nil {
		return nil, err
	}
	tried := map[peer.ID]int{}
	var authErr error
	var grace <-chan time.Time
	for {
		select {
		case c := <-cands:
			if c.Info.ID == h.ID() || tried[c.Info.ID] < 0 || tried[c.Info.ID] >= 3 {
				continue
			}
			tried[c.Info.ID]++
			c.Info.Addrs = append(c.Info.Addrs, circuits...)
			emit(opts.Events, PeerFoundEvent{Peer: c.Info.ID.String(), Source: c.Source})
			ap, err := tryCandidate(fctx, h, c, opts.Passphrase)
			if err == nil {
				return ap, nil
			}
			log.Debug("candidate failed", "peer", c.Info.ID, "source", c.Source, "err", err)
			if errors.Is(err, auth.ErrWrongPassphrase) || errors.Is(err, auth.ErrHandshake) {
				tried[c.Info.ID] = -1
				emit(opts.Events, AuthFailedEvent{Peer: c.Info.ID.String(), Failures: 1, Err: err})
				if authErr == nil {
					authErr = err
					// Another sender may share the channel; give it a moment.
					grace = time.After(3 * time.Second)
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

// relayCircuits turns relay addresses into /p2p-circuit addresses that reach
// any peer holding a reservation on those relays.
func relayCircuits(relays []string) ([]ma.Multiaddr, error) {
	infos, err := p2p.ParseAddrInfos(relays)
	if err != nil {
		return nil, fmt.Errorf("--relay: %w", err)
	}
	var out []ma.Multiaddr
	for _, in := range infos {
		for _, a := range in.Addrs {
			c, err := ma.NewMultiaddr(fmt.Sprintf("%s/p2p/%s/p2p-circuit", a, in.ID))
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// openStream opens a pcp stream to id (relayed connections allowed) and
// sends its Open frame.
func openStream(ctx context.Context, h host.Host, id peer.ID, o wire.Open) (network.Stream, error) {
	s, err := h.NewStream(network.WithAllowLimitedConn(ctx, "pcp"), id, wire.ProtocolID)
	if err != nil {
		return nil, err
	}
	if err := wire.WriteFrame(s, wire.TOpen, o.Append(nil)); err != nil {
		s.Reset()
		return nil, err
	}
	return s, nil
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
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = DefaultMaxInFlight
	}
	if opts.Patience <= 0 {
		opts.Patience = DefaultPatience
	}
	if opts.Dest == "" {
		opts.Dest = "."
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

	h, err := newHost(opts.Network, log)
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

	t, err := readManifest(ap.ctl, tmpDir)
	if err != nil {
		ap.ctl.Reset()
		return nil, fmt.Errorf("%w: %w", ErrPeerMisbehaving, err)
	}
	defer t.Close()
	root := t.Root()
	emit(opts.Events, ManifestEvent{Root: root.String(), Files: int(t.Files()), Bytes: t.TotalSize()})
	if err := rlog.Begin(t, destDir); err != nil {
		return nil, err
	}
	r := newReceiver(opts, t, dest, rlog, durable, log)
	defer r.closeStage()
	p, err := r.makePlan(ctx)
	if err != nil {
		return nil, err
	}
	r.plan = p
	offer := p.offer
	offer.Root, offer.Peer, offer.Path = root.String(), ap.info.ID.String(), path
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
	if offer.ConflictCount > 0 {
		return decline(fmt.Errorf("%w: %s (use --overwrite to replace)", ErrExists, listSome(offer.Conflicts, offer.ConflictCount, 5)))
	}
	if opts.Confirm != nil && !opts.Confirm(offer) {
		return decline(ErrDeclined)
	}
	if err := wire.WriteFrame(ap.ctl, wire.TAccept, nil); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInterrupted, err)
	}
	ap.ctl.Close()
	if offer.PresentBytes > 0 || offer.ResumeBytes > 0 {
		emit(opts.Events, ResumedEvent{PresentBytes: offer.PresentBytes, ResumeBytes: offer.ResumeBytes, TotalBytes: offer.TotalBytes})
	}
	if err := r.apply(p); err != nil {
		return nil, err
	}

	op := &p2pOpener{h: h, info: ap.info, session: ap.session.ID, patience: opts.Patience, events: opts.Events, log: log}
	skipped := offer.PresentBytes + offer.ResumeBytes
	stopProgress := r.progress(ctx, opts.Events, skipped, offer.TotalBytes, op)
	err = r.run(ctx, op)
	stopProgress()
	if err != nil {
		if errors.Is(err, ErrPeerMisbehaving) || errors.Is(err, ErrExists) || errors.Is(err, wire.ErrSourceChanged) {
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %w", ErrInterrupted, ctx.Err())
		}
		return nil, fmt.Errorf("%w: %v", ErrInterrupted, err)
	}
	op.finish(ctx)
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
		Path:            p2p.PathOf(h, ap.info.ID),
		Streams:         opts.Streams,
	}
	emit(opts.Events, DoneEvent{Summary: s})
	return &s, nil
}

// listSome lists up to n of the first names of a list of total names.
func listSome(s []string, total, n int) string {
	if total <= n && len(s) == total {
		return fmt.Sprint(s)
	}
	return fmt.Sprintf("%v and %d more", s[:min(n, len(s))], total-min(n, len(s)))
}

// readManifest reads the manifest and its end frame from the control stream
// into a table in tmpDir.
func readManifest(s io.Reader, tmpDir string) (*manifest.Table, error) {
	fr := wire.NewReader(s)
	mr := wire.NewManifestReader(fr, 0)
	t, err := manifest.DecodeTable(mr, tmpDir, manifest.Limits{})
	if err != nil {
		return nil, err
	}
	root := t.Root()
	typ, p, err := mr.End()
	if err == nil && (typ != wire.TManifestEnd || len(p) != len(root) || manifest.Hash(p) != root) {
		err = fmt.Errorf("%w: manifest end mismatch", wire.ErrFrame)
	}
	if err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

// progress emits ProgressEvents every 100ms until the returned func is called.
func (r *receiver) progress(ctx context.Context, events func(Event), skipped, total int64, op *p2pOpener) func() {
	if events == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	filesTotal := int(r.t.Files())
	already := r.plan.already
	send := func() {
		cur := ""
		if p := r.current.Load(); p != nil {
			cur = *p
		}
		events(ProgressEvent{
			Bytes: skipped + r.fetched.Load(), TotalBytes: total, WireBytes: r.wire.Load(),
			Files: already + int(r.filesDone.Load()), FilesTotal: filesTotal, Current: cur,
			Path: p2p.PathOf(op.h, op.info.ID), Streams: r.opts.Streams,
		})
	}
	go func() {
		defer wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
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
	return func() { close(done); wg.Wait() }
}

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
}

func (o *p2pOpener) openData(ctx context.Context) (io.ReadWriteCloser, error) {
	backoff := 250 * time.Millisecond
	for {
		s, err := o.open(ctx)
		if err == nil {
			o.mu.Lock()
			o.downSince = time.Time{}
			o.mu.Unlock()
			return s, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
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
		emit(o.events, ReconnectingEvent{Attempt: n, Err: err})
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		backoff = min(backoff*2, 5*time.Second)
		if sw, ok := o.h.Network().(*swarm.Swarm); ok {
			sw.Backoff().Clear(o.info.ID)
		}
	}
}

func (o *p2pOpener) better(s io.ReadWriteCloser) bool {
	ns, ok := s.(network.Stream)
	return ok && p2p.IsRelayed(ns.Conn()) && p2p.PathOf(o.h, o.info.ID) == p2p.PathDirect
}

func (o *p2pOpener) open(ctx context.Context) (network.Stream, error) {
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	s, err := openStream(cctx, o.h, o.info.ID, wire.Open{Kind: wire.KindData, Session: o.session})
	if err != nil {
		return nil, err
	}
	if o.log.Enabled(ctx, slog.LevelDebug) {
		var conns []string
		for _, c := range o.h.Network().ConnsToPeer(o.info.ID) {
			conns = append(conns, fmt.Sprintf("%s relayed=%v limited=%v", c.RemoteMultiaddr(), p2p.IsRelayed(c), c.Stat().Limited))
		}
		o.log.Debug("data stream opened", "conn", s.Conn().RemoteMultiaddr(), "relayed", p2p.IsRelayed(s.Conn()), "conns", conns)
	}
	return s, nil
}

// finish tells the sender that everything arrived, and waits briefly for
// its acknowledgement.
func (o *p2pOpener) finish(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	s, err := o.open(ctx)
	if err != nil {
		return
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(10 * time.Second))
	if wire.WriteFrame(s, wire.TDone, nil) == nil {
		_, _ = wire.NewReader(s).Expect(wire.TDoneAck)
	}
}
