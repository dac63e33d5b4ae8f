package engine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/pcp-p2p/pcp/auth"
	"github.com/pcp-p2p/pcp/discovery"
	"github.com/pcp-p2p/pcp/engine/p2p"
	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/manifest"
	"github.com/pcp-p2p/pcp/store"
)

// Send serves paths to every receiver that authenticates with the
// passphrase, each in its own session at the same time, until
// opts.Receivers of them report everything received (nil), the user stops
// it (ctx) or too many handshakes fail (the count is the offer's, over all
// receivers). A receiver that declines or fails ends only its own session
// (DeclinedEvent, ReceiverFailedEvent) and does not count: the offer
// stands for others. See SendOptions.Receivers for what happens to
// sessions still running when the count is reached.
func Send(ctx context.Context, opts SendOptions) (*Summary, error) {
	log := discard(opts.Logger)
	if opts.Passphrase.IsZero() {
		return nil, fmt.Errorf("%w: no passphrase", auth.ErrBadPassphrase)
	}
	if opts.Text != "" {
		if len(opts.Paths) > 0 {
			return nil, errors.New("send text or paths, not both")
		}
		// The message is offered as one file in a private directory,
		// removed when Send returns (after every handler is done).
		path, cleanup, err := writeTextFile(opts.Text, tempDirFor(opts.HashCachePath))
		if err != nil {
			return nil, err
		}
		defer cleanup()
		opts.Paths, opts.HashCachePath, opts.Exclude, opts.ManifestOut = []string{path}, "", nil, ""
	}
	// A stream of standard input: its spool goes last, after every
	// handler is done (streamsend.go).
	stream, err := openStreamOffer(opts)
	if err != nil {
		return nil, err
	}
	if stream != nil {
		defer stream.close()
	}
	dopts, err := discoveryOptions(opts.Network, log)
	if err != nil {
		return nil, err
	}
	// With the DHT, relays come from it too (a sender behind NAT needs one
	// to be reached): the host is built before discovery, so the source
	// waits for both.
	var h host.Host
	var relays p2p.RelaySource
	relaysReady := make(chan struct{})
	if !opts.Network.NoDiscovery && !opts.Network.MDNSOnly {
		relays = dhtRelays(&h, dopts, relaysReady)
	}
	var id crypto.PrivKey
	if opts.IdentityPath != "" {
		if id, err = p2p.LoadOrCreateIdentity(opts.IdentityPath); err != nil {
			return nil, err
		}
	}
	h, err = newHostWith(opts.Network, opts.Events, relays, id, log)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	srv := newServer(opts.Passphrase, h.ID(), opts.MaxAuthFailures, opts.Events, log)
	srv.limit = newRateLimit(opts.RateLimit)
	if opts.Text != "" {
		srv.flags = wire.FlagText
	}
	srv.tamper = opts.tamper
	srv.stream = stream
	srv.timeouts = opts.timeouts.withDefaults()
	srv.stopListening = func() { h.RemoveStreamHandler(wire.ProtocolID) }
	var handlers handlerSet
	var prepDone chan struct{} // set once the walk runs
	// Ending a send ends everything at once, in this order: no handshake
	// starts any more, no stream is taken, ctx ends (each handler resets
	// its stream) and the host closes (every connection goes); only then
	// wait for the handlers, which can no longer be blocked by a silent
	// peer, and for the walk. The manifest table's files go last: handlers
	// read from it.
	defer func() {
		srv.guard.Close()
		h.RemoveStreamHandler(wire.ProtocolID)
		h.RemoveStreamHandler(wire.OldProtocolID)
		handlers.close()
		cancel()
		h.Close()
		handlers.wait()
		if prepDone != nil {
			<-prepDone
		}
		if srv.src != nil {
			srv.src.Close()
		}
	}()
	h.SetStreamHandler(wire.ProtocolID, func(s network.Stream) {
		if !handlers.enter() {
			s.Reset()
			return
		}
		defer handlers.leave()
		remote := s.Conn().RemotePeer()
		log.Debug("stream in", "peer", remote, "conn", s.Conn().RemoteMultiaddr(), "relayed", p2p.IsRelayed(s.Conn()))
		srv.handle(ctx, s, remote, p2p.PathOf(h, remote))
		log.Debug("stream done", "peer", remote, "conn", s.Conn().RemoteMultiaddr())
	})
	h.SetStreamHandler(wire.OldProtocolID, srv.refuseOld) // oldpeer.go
	// punching: the peers punchWhileRelayed runs for.
	var punching sync.Map
	srv.authenticated = func(p peer.ID) { punchWhileRelayed(ctx, h, p, &handlers, &punching, log) }
	emit(opts.Events, ListeningEvent{PeerID: h.ID().String(), Addrs: fullAddrs(h)})
	dopts.Provided = func(addrs []ma.Multiaddr) {
		s := make([]string, len(addrs))
		for i, a := range addrs {
			s[i] = a.String()
		}
		emit(opts.Events, AdvertisedEvent{Addrs: s})
	}
	if !opts.Network.NoDiscovery {
		if err := discovery.Advertise(ctx, h, opts.Passphrase.Channel(), dopts); err != nil {
			return nil, fmt.Errorf("advertising: %w", err)
		}
	}
	close(relaysReady)

	walkErr := make(chan error, 1)
	prepDone = make(chan struct{})
	go func() {
		defer close(prepDone)
		walkErr <- srv.prepare(ctx, opts)
	}()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()

	var count receiverCount // receivers.go
	count.want = opts.Receivers
	for {
		select {
		case now := <-tick.C:
			srv.progress(h)
			srv.reapIdle(now, count.idle())
			if count.drained(srv) {
				return srv.finish(&count)
			}
		case err := <-walkErr:
			if err != nil {
				return nil, err
			}
			walkErr = nil
		case err := <-srv.fatal:
			return nil, err
		case ss := <-srv.finished:
			if count.completed(srv, ss) && count.drained(srv) {
				return srv.finish(&count)
			}
		case <-ctx.Done():
			if count.want < 0 && count.done > 0 {
				// --keep-serving ends when the user stops it.
				return srv.finish(&count)
			}
			return nil, ctx.Err()
		}
	}
}

// handlerSet tracks the stream handlers of one Send. Unlike a bare
// WaitGroup it refuses handlers that arrive after close, so wait cannot race
// with a late Add.
type handlerSet struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

func (hs *handlerSet) enter() bool {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.closed {
		return false
	}
	hs.wg.Add(1)
	return true
}

func (hs *handlerSet) leave() { hs.wg.Done() }

func (hs *handlerSet) close() {
	hs.mu.Lock()
	hs.closed = true
	hs.mu.Unlock()
}

func (hs *handlerSet) wait() { hs.wg.Wait() }

// prepare walks and hashes the paths, then publishes the manifest.
func (s *server) prepare(ctx context.Context, opts SendOptions) error {
	if s.stream != nil {
		return s.prepareStream(ctx, opts) // streamserve.go
	}
	wo := manifest.WalkOptions{
		ChunkSize: opts.ChunkSize,
		Exclude:   opts.Exclude,
		TempDir:   tempDirFor(opts.HashCachePath),
		Progress: func(p manifest.WalkProgress) {
			emit(opts.Events, HashingEvent{Phase: p.Phase, Files: p.Files, FilesTotal: p.FilesTotal,
				Bytes: p.Bytes, BytesTotal: p.BytesTotal, Current: p.Current})
		},
		OnSkip: func(local string, err error) {
			s.log.Warn("skipped", "path", local, "reason", err)
			emit(opts.Events, SkippedEvent{Path: local, Reason: skipText(err)})
		},
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

func (s *server) summary() Summary {
	if s.stream != nil {
		return s.streamSummary() // streamserve.go
	}
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
