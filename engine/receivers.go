package engine

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/pcp-p2p/pcp/engine/p2p"
	"github.com/pcp-p2p/pcp/manifest"
)

// Many receivers. One Send serves any number of receivers at once, each in
// its own session (its own PAKE, its own session id); the guard's count of
// wrong guesses is the offer's, across all of them. A session gets a short
// receiver ID ("r1", "r2", ... in order of authentication) that every
// sender event about it carries. Its state is O(1): a few counters here,
// and its entries in servingLimits; chunk slots and stream limits stay the
// server's, shared by every session. A session leaves the server's map
// when it ends: Done, Decline, a control stream that fails before the
// decision, or (reapIdle) no stream for sessionIdle.

// errNotTaking: a control stream arrived after the count of receivers was
// reached; it is closed before any handshake.
var errNotTaking = errors.New("the sender takes no more receivers")

// ErrReceiverGone: an authenticated receiver opened no stream for
// sessionIdle; its session was dropped (ReceiverFailedEvent).
var ErrReceiverGone = errors.New("the receiver went away")

// sessionIdle is how long an accepted session may have no stream open
// before it is dropped: longer than a receiver re-dials a lost sender
// (DefaultPatience), so a receiver that reconnects keeps its session.
const sessionIdle = DefaultPatience + 2*time.Minute

// drainIdle replaces sessionIdle once the count of receivers is reached: a
// session with no stream then is not running (its receiver was killed, or
// gave up) and must not hold the sender; the grace covers the moment
// between a receiver's Accept and its first data stream.
const drainIdle = 3 * time.Second

// ReceiverDoneEvent (sender): receiver Receiver (peer Peer) has every file.
// Summary counts what this session was sent. Send goes on serving others
// unless this was the last receiver it was asked to serve
// (SendOptions.Receivers); then a DoneEvent follows.
type ReceiverDoneEvent struct {
	Receiver, Peer string
	Summary        Summary
}

// ReceiverFailedEvent (sender): an authenticated receiver's session ended
// without Done (its control stream failed before the decision, or it went
// away). It does not count as a complete receiver; the offer stands.
type ReceiverFailedEvent struct {
	Receiver, Peer string
	Err            error
}

func (ReceiverDoneEvent) isEvent()   {}
func (ReceiverFailedEvent) isEvent() {}

// sessionStats are one session's counters: what it was sent. O(1).
type sessionStats struct {
	raw, wire, chunks atomic.Int64
	// files counts files whose last chunk this session was sent. A file
	// asked for again after a reconnect can count twice, so readers cap it
	// at the manifest's count; Done means the receiver holds them all.
	files atomic.Int64
	start time.Time
	// streams open (control and data), and since when none is; under
	// server.mu.
	streams   int
	idleSince time.Time
	// maxData is the most data streams seen serving it at once (progress
	// samples it), for its last ProgressEvent; under server.mu.
	maxData int
}

// receiverBook is the server's bookkeeping of receivers; under server.mu.
type receiverBook struct {
	next   int                  // receivers authenticated so far
	closed bool                 // no new receiver is taken (the count is reached)
	old    map[peer.ID]struct{} // peers of an older pcp already reported (oldpeer.go)
}

// addSession records an authenticated session and gives it its receiver
// ID; nil once the server takes no new receivers.
func (s *server) addSession(id [32]byte, remote peer.ID) *srvSession {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.recv.closed {
		return nil
	}
	s.recv.next++
	ss := &srvSession{id: id, peer: remote, rid: fmt.Sprintf("r%d", s.recv.next)}
	ss.stats.start = time.Now()
	ss.stats.streams = 1 // the control stream
	s.sessions[id] = ss
	return ss
}

// sessionOf is the session id, if remote is the peer that authenticated
// it; nil otherwise. Every stream of a session goes through it.
func (s *server) sessionOf(id [32]byte, remote peer.ID) *srvSession {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss := s.sessions[id]; ss != nil && ss.peer == remote {
		return ss
	}
	return nil
}

// takingReceivers reports whether a new receiver may start a handshake.
func (s *server) takingReceivers() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.recv.closed
}

// stopTaking makes the server refuse new receivers; sessions already
// authenticated go on.
func (s *server) stopTaking() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recv.closed = true
}

// activeSessions is the number of sessions that have not ended.
func (s *server) activeSessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// dropSession removes ss, once; it reports whether ss was still there.
func (s *server) dropSession(ss *srvSession) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessions[ss.id] != ss {
		return false
	}
	delete(s.sessions, ss.id)
	return true
}

// failSession ends ss without Done and tells the user, unless the sender
// itself is stopping.
func (s *server) failSession(ss *srvSession, err error, stopping bool) {
	if s.dropSession(ss) && !stopping {
		emit(s.events, ReceiverFailedEvent{Receiver: ss.rid, Peer: ss.peer.String(), Err: err})
	}
}

// streamOpened and streamClosed count ss's open streams for reapIdle.
func (s *server) streamOpened(ss *srvSession) {
	s.mu.Lock()
	ss.stats.streams++
	s.mu.Unlock()
}

func (s *server) streamClosed(ss *srvSession) {
	s.mu.Lock()
	if ss.stats.streams--; ss.stats.streams == 0 {
		ss.stats.idleSince = time.Now()
	}
	s.mu.Unlock()
}

// reapIdle drops the sessions that have had no stream for longer than
// idle: their receiver went away and did not come back.
func (s *server) reapIdle(now time.Time, idle time.Duration) {
	var gone []*srvSession
	s.mu.Lock()
	for id, ss := range s.sessions {
		if ss.stats.streams == 0 && now.Sub(ss.stats.idleSince) > idle {
			delete(s.sessions, id)
			gone = append(gone, ss)
		}
	}
	s.mu.Unlock()
	for _, ss := range gone {
		emit(s.events, ReceiverFailedEvent{Receiver: ss.rid, Peer: ss.peer.String(),
			Err: fmt.Errorf("%w: no stream for %v", ErrReceiverGone, idle)})
	}
}

// served counts one chunk of n raw bytes, w on the wire, sent to ss; last
// says it was the last chunk of its file.
func (ss *srvSession) served(n, w int64, last bool) {
	if ss == nil {
		return
	}
	ss.stats.raw.Add(n)
	ss.stats.wire.Add(w)
	ss.stats.chunks.Add(1)
	if last {
		ss.stats.files.Add(1)
	}
}

// sessionSummary is what ss was sent, for its ReceiverDoneEvent.
func (s *server) sessionSummary(ss *srvSession) Summary {
	if s.stream != nil {
		return s.streamSessionSummary(ss) // streamserve.go
	}
	t := s.src.Table
	return Summary{
		Root:          s.root.String(),
		Files:         int(t.Files()),
		ManifestBytes: t.TotalSize(),
		WireBytes:     ss.stats.wire.Load(),
		FetchedBytes:  ss.stats.raw.Load(),
		ChunksFetched: ss.stats.chunks.Load(),
		Duration:      time.Since(ss.stats.start),
		Path:          ss.path,
		Transport:     ss.transport,
		Receivers:     1,
		Selected:      btoi(ss.selected),
	}
}

// progress reports, once the manifest is ready, what each session has been
// sent: one ProgressEvent per session, each with its receiver ID and the
// number of sessions (Receivers).
func (s *server) progress(h host.Host) {
	if s.events == nil {
		return
	}
	select {
	case <-s.ready:
	default:
		return
	}
	if s.stream != nil {
		s.streamProgress(h) // streamserve.go
		return
	}
	type line struct {
		ss      *srvSession
		streams int
	}
	s.mu.Lock()
	lines := make([]line, 0, len(s.sessions))
	for _, ss := range s.sessions {
		n := s.serving.perSession[ss.id]
		ss.stats.maxData = max(ss.stats.maxData, n)
		lines = append(lines, line{ss, n})
	}
	s.mu.Unlock()
	t := s.src.Table
	for _, l := range lines {
		ss := l.ss
		s.events(ProgressEvent{Receiver: ss.rid, Peer: ss.peer.String(), Receivers: len(lines),
			Bytes: ss.stats.raw.Load(), TotalBytes: t.TotalSize(), WireBytes: ss.stats.wire.Load(),
			Files: min(int(ss.stats.files.Load()), int(t.Files())), FilesTotal: int(t.Files()),
			Path: p2p.PathOf(h, ss.peer), Transport: p2p.TransportOf(h, ss.peer), Streams: l.streams})
	}
}

// lastChunk reports whether chunk c is the last of a file of size bytes.
func lastChunk(size int64, cs uint32, c uint32) bool {
	return int64(c) == manifest.ChunkCount(size, cs)-1
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
