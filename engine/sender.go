package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/pcp-p2p/pcp/auth"
	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/manifest"
)

// server is the sender's side of the protocol: it authenticates receivers,
// sends them the manifest and serves their chunk requests. It knows nothing
// of hosts or discovery: streams arrive through handle.
type server struct {
	log     *slog.Logger
	events  func(Event)
	pass    auth.Passphrase
	localID peer.ID
	guard   *auth.Guard

	tamper func(wire.Ref, []byte)

	ready chan struct{} // closed once src/root are set
	src   *manifest.Source
	root  manifest.Hash

	mu          sync.Mutex
	sessions    map[[32]byte]*srvSession
	dataStreams int // open data streams
	maxStreams  int
	finished    chan *srvSession // a session sent Done
	fatal       chan error       // too many failed handshakes, or declined
	start       time.Time

	chunksServed atomic.Int64
	rawServed    atomic.Int64
	wireServed   atomic.Int64
}

type srvSession struct {
	id   [32]byte
	peer peer.ID
	done sync.Once
	path string // at the end: "direct" or "relayed"
}

func newServer(pass auth.Passphrase, local peer.ID, maxFailures int, events func(Event), log *slog.Logger) *server {
	return &server{
		log:      log,
		events:   events,
		pass:     pass,
		localID:  local,
		guard:    &auth.Guard{Max: maxFailures},
		ready:    make(chan struct{}),
		sessions: make(map[[32]byte]*srvSession),
		finished: make(chan *srvSession, 1),
		fatal:    make(chan error, 1),
		start:    time.Now(),
	}
}

// setSource publishes the manifest; streams waiting for it proceed.
func (s *server) setSource(src *manifest.Source) {
	s.src = src
	s.root = src.Table.Root()
	close(s.ready)
}

func (s *server) failFatal(err error) {
	select {
	case s.fatal <- err:
	default:
	}
}

// handle serves one incoming stream until it ends or ctx is done.
func (s *server) handle(ctx context.Context, rw io.ReadWriteCloser, remote peer.ID, path string) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { rw.Close() })
	defer stop()
	defer rw.Close()

	fr := wire.NewReader(rw)
	p, err := fr.Expect(wire.TOpen)
	if err != nil {
		s.log.Debug("stream without open", "peer", remote, "err", err)
		return
	}
	o, err := wire.DecodeOpen(p)
	if err != nil {
		s.log.Debug("bad open", "peer", remote, "err", err)
		return
	}
	switch o.Kind {
	case wire.KindControl:
		err = s.serveControl(ctx, rw, fr, remote, path)
	case wire.KindData:
		err = s.serveData(ctx, rw, fr, o.Session, remote)
	}
	if err != nil && !errors.Is(err, io.EOF) && ctx.Err() == nil {
		s.log.Debug("stream ended", "peer", remote, "err", err)
	}
}

func (s *server) serveControl(ctx context.Context, rw io.ReadWriter, fr *wire.Reader, remote peer.ID, path string) error {
	hctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	sess, err := auth.Handshake(hctx, rw, auth.Config{
		Role:       auth.RoleSender,
		Passphrase: s.pass,
		LocalID:    []byte(s.localID),
		RemoteID:   []byte(remote),
	})
	if err != nil {
		if !errors.Is(err, auth.ErrWrongPassphrase) {
			// A peer that vanished or spoke garbage made no guess.
			emit(s.events, AuthFailedEvent{Peer: remote.String(), Failures: s.guard.Failures(), Max: s.guard.Limit(), Err: err})
			return err
		}
		n, gerr := s.guard.Fail()
		emit(s.events, AuthFailedEvent{Peer: remote.String(), Failures: n, Max: s.guard.Limit(), Err: err})
		if gerr != nil {
			s.failFatal(gerr)
		}
		return err
	}
	ss := &srvSession{id: sess.ID, peer: remote}
	s.mu.Lock()
	s.sessions[sess.ID] = ss
	s.mu.Unlock()
	emit(s.events, AuthenticatedEvent{Peer: remote.String(), Path: path})

	select {
	case <-s.ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	mw := wire.NewManifestWriter(rw)
	if _, err := io.Copy(mw, s.src.Table.Encoding()); err != nil {
		return err
	}
	if err := mw.Flush(); err != nil {
		return err
	}
	if err := wire.WriteFrame(rw, wire.TManifestEnd, s.root[:]); err != nil {
		return err
	}
	t, _, err := fr.Next()
	if err != nil {
		return err
	}
	switch t {
	case wire.TAccept:
		return nil
	case wire.TDecline:
		s.failFatal(ErrDeclined)
		return ErrDeclined
	}
	return fmt.Errorf("%w: %v after manifest", wire.ErrFrame, t)
}

func emit(f func(Event), e Event) {
	if f != nil {
		f(e)
	}
}
