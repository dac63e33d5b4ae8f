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
	// timeouts bound the reads of peers that have not proved the
	// passphrase, and the receiver's decision.
	timeouts serverTimeouts
	// stopListening, if set, stops the host taking new streams.
	stopListening func()

	tamper func(wire.Ref, []byte)
	limit  *rateLimit    // SendOptions.RateLimit
	flags  uint8         // the offer's ManifestInfo flags: wire.FlagText for SendOptions.Text
	stream *streamSource // a stream offer (SendOptions.Stdin) instead of src (streamsend.go)
	seed   *seedState    // a receiver serving what it holds (seed.go); src has its table

	ready chan struct{} // closed once src/root are set
	src   *manifest.Source
	root  manifest.Hash

	mu          sync.Mutex
	sessions    map[[32]byte]*srvSession
	dataStreams int // open data streams
	maxStreams  int
	finished    chan *srvSession // a session sent Done (Send reads it until it returns)
	recv        receiverBook     // receiver IDs, and whether new ones are taken (receivers.go)
	fatal       chan error       // too many failed handshakes
	start       time.Time

	serving     servingLimits // what receivers may make it hold (servedata.go)
	serverIndex               // the manifest's global chunk index, for have-maps (havestream.go)

	// authenticated, if set, is called with each peer that passed PAKE.
	authenticated func(peer.ID)

	chunksServed atomic.Int64
	files        servedFiles // files sent in full, for progress
	rawServed    atomic.Int64
	wireServed   atomic.Int64
}

type srvSession struct {
	id   [32]byte
	peer peer.ID
	rid  string // the receiver ID: "r1", "r2", ... (receivers.go)
	// selected: its Done said it took a selection of the offer, not all.
	selected bool
	stats    sessionStats // what it was sent; its open streams
	done     sync.Once
	path     string // at the end: "direct" or "relayed"
	// transport, at the end: "tcp", "quic" or "" (p2p.ConnTransport)
	transport string
	// manifestPending: the ManifestInfo said FlagManifestStream, and the
	// manifest stream has not been served yet (manifeststream.go).
	manifestPending atomic.Bool
}

func newServer(pass auth.Passphrase, local peer.ID, maxFailures int, events func(Event), log *slog.Logger) *server {
	return &server{
		log:      log,
		events:   events,
		pass:     pass,
		localID:  local,
		guard:    &auth.Guard{Max: maxFailures},
		timeouts: serverTimeouts{}.withDefaults(),
		ready:    make(chan struct{}),
		sessions: make(map[[32]byte]*srvSession),
		finished: make(chan *srvSession),
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
	// On shutdown, reset rather than close: a graceful close leaves a read
	// or write blocked on a silent peer where it is.
	stop := context.AfterFunc(ctx, func() { abort(rw) })
	defer stop()
	defer rw.Close()

	// The peer has proved nothing yet: it gets openTimeout to say what the
	// stream is, so a stream that never does cannot stay.
	fr := wire.NewReader(rw)
	var o wire.Open
	err := within(ctx, rw, s.timeouts.open, func() error {
		p, err := fr.Expect(wire.TOpen)
		if err != nil {
			return err
		}
		o, err = wire.DecodeOpen(p)
		return err
	})
	if err != nil {
		s.log.Debug("stream without a valid open", "peer", remote, "err", err)
		return
	}
	switch o.Kind {
	case wire.KindControl:
		err = s.serveControl(ctx, rw, fr, remote, path)
	case wire.KindData:
		err = s.serveData(ctx, rw, fr, o.Session, remote)
	case wire.KindManifest:
		err = s.serveManifest(ctx, rw, o.Session, remote)
	case wire.KindHave:
		err = s.serveHave(ctx, rw, o.Session, remote) // havestream.go
	}
	if err != nil && !errors.Is(err, io.EOF) && ctx.Err() == nil {
		s.log.Debug("stream ended", "peer", remote, "err", err)
	}
}

// serveControl authenticates a receiver, sends it the manifest and reads
// its decision. The handshake runs only on a slot reserved from the guard
// before any handshake byte is read, so handshakes in flight count against
// the failure budget and at most guard.Limit wrong guesses are ever judged;
// once the guard is exhausted or closed the stream is refused unread.
func (s *server) serveControl(ctx context.Context, rw io.ReadWriteCloser, fr *wire.Reader, remote peer.ID, path string) (err error) {
	if !s.takingReceivers() {
		return errNotTaking // served as many receivers as asked: no new handshake
	}
	sess, err := s.authenticate(ctx, rw, remote)
	if err != nil {
		return err
	}
	ss := s.addSession(sess.ID, remote)
	if ss == nil {
		return errNotTaking
	}
	defer s.streamClosed(ss)
	defer func() {
		if err != nil && !errors.Is(err, ErrDeclined) {
			s.failSession(ss, err, ctx.Err() != nil)
		}
	}()
	emit(s.events, AuthenticatedEvent{Peer: remote.String(), Path: path, Receiver: ss.rid})
	if s.authenticated != nil {
		s.authenticated(remote)
	}

	if err := awaitSource(ctx, rw, s.ready); err != nil {
		return err
	}
	// The receiver may sit at a prompt, but not for ever: the manifest and
	// the decision get one long, bounded deadline.
	// On a meeting-only connection the manifest goes on a stream of its
	// own, once the receiver has a better path (manifeststream.go).
	if s.stream != nil {
		return s.offerStream(ctx, rw, fr, ss) // streamserve.go
	}
	flags := s.flags
	if meetingOnly(rw) {
		flags |= wire.FlagManifestStream
		ss.manifestPending.Store(true)
	}
	return s.decide(ctx, rw, fr, ss, func() error {
		if err := writeManifestInfo(rw, s.src.Table, flags); err != nil {
			return err
		}
		if flags&wire.FlagManifestStream == 0 {
			return writeManifest(rw, s.src.Table, s.root)
		}
		return nil
	})
}

// decide sends the offer (offer writes it) and reads the receiver's
// decision, within the decision timeout. A Decline ends the session only:
// the offer stands for others.
func (s *server) decide(ctx context.Context, rw io.ReadWriteCloser, fr *wire.Reader, ss *srvSession, offer func() error) error {
	var t wire.Type
	err := within(ctx, rw, s.timeouts.decision, func() error {
		if err := offer(); err != nil {
			return err
		}
		var err error
		t, _, err = fr.Next()
		return err
	})
	if err != nil {
		return err
	}
	switch t {
	case wire.TAccept:
		return nil
	case wire.TDecline:
		s.dropSession(ss)
		emit(s.events, DeclinedEvent{Peer: ss.peer.String(), Receiver: ss.rid})
		return ErrDeclined
	}
	return fmt.Errorf("%w: %v after the offer", wire.ErrFrame, t)
}

// authenticate reserves a guard slot, waiting while handshakes in flight
// hold the rest, and runs PAKE on it; the wait and the handshake together
// get timeouts.handshake. The slot is resolved as a failure only for a
// judged wrong guess (ErrWrongPassphrase); a peer that vanished, stalled or
// spoke garbage tested no passphrase and gives its slot back.
func (s *server) authenticate(ctx context.Context, rw io.ReadWriteCloser, remote peer.ID) (*auth.Session, error) {
	hctx, cancel := context.WithTimeout(ctx, s.timeouts.handshake)
	defer cancel()
	ticket, err := s.guard.Reserve(hctx)
	if err != nil {
		return nil, fmt.Errorf("handshake refused: %w", err)
	}
	sess, err := auth.Handshake(hctx, rw, auth.Config{
		Role:       auth.RoleSender,
		Passphrase: s.pass,
		LocalID:    []byte(s.localID),
		RemoteID:   []byte(remote),
	})
	if err == nil {
		ticket.Release()
		return sess, nil
	}
	if !errors.Is(err, auth.ErrWrongPassphrase) {
		ticket.Release()
		emit(s.events, AuthFailedEvent{Peer: remote.String(), Failures: s.guard.Failures(), Max: s.guard.Limit(), Err: err})
		return nil, err
	}
	n, gerr := ticket.Fail()
	emit(s.events, AuthFailedEvent{Peer: remote.String(), Failures: n, Max: s.guard.Limit(), Err: err})
	if gerr != nil {
		// The guard now refuses every handshake. Stop taking streams at
		// once, but let this peer read its abort before the host closes:
		// a closed connection would turn "wrong passphrase" into a broken
		// handshake on its side.
		if s.stopListening != nil {
			s.stopListening()
		}
		_ = within(ctx, rw, s.timeouts.linger, func() error {
			_ = closeWrite(rw)
			_, err := io.CopyN(io.Discard, rw, 1<<10)
			return err
		})
		s.failFatal(gerr)
	}
	return nil, err
}

// serverTimeouts bound what a peer can make a stream wait for. Zero fields
// take the defaults; only this package's tests shorten them.
type serverTimeouts struct {
	open      time.Duration // reading the Open frame; default openTimeout
	handshake time.Duration // waiting for a guard slot plus PAKE; default handshakeTimeout
	decision  time.Duration // sending the manifest and reading Accept or Decline; default decisionTimeout
	linger    time.Duration // for the peer whose wrong guess exhausted the guard to hang up; default lingerTimeout
}

const (
	// openTimeout: a real receiver sends Open with its first write.
	openTimeout = 10 * time.Second
	// decisionTimeout: the receiver's user reads the offer at a prompt;
	// a human may take a while, an abandoned prompt must not hold the
	// stream for ever.
	decisionTimeout = 30 * time.Minute
	// lingerTimeout: a real receiver hangs up as soon as it reads the abort.
	lingerTimeout = 2 * time.Second
)

func (t serverTimeouts) withDefaults() serverTimeouts {
	if t.open <= 0 {
		t.open = openTimeout
	}
	if t.handshake <= 0 {
		t.handshake = handshakeTimeout
	}
	if t.decision <= 0 {
		t.decision = decisionTimeout
	}
	if t.linger <= 0 {
		t.linger = lingerTimeout
	}
	return t
}

// within runs op, which reads or writes rw, and aborts rw if op has not
// returned within d or when ctx ends; the error then wraps ctx's.
func within(ctx context.Context, rw io.Closer, d time.Duration, op func() error) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { abort(rw) })
	err := op()
	if !stop() {
		return fmt.Errorf("stream aborted: %w", ctx.Err())
	}
	return err
}

func emit(f func(Event), e Event) {
	if f != nil {
		f(e)
	}
}
