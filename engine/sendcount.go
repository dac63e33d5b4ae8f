package engine

import "time"

// Send's count of complete receivers (SendOptions.Receivers): a receiver
// that sends Done is counted and its session ends; once the count is
// reached no new receiver is taken, sessions still running are let finish,
// and Send returns when none is left (receivers.go has the sessions).

// receiverCount is Send's count of complete receivers against
// SendOptions.Receivers.
type receiverCount struct {
	want     int // SendOptions.Receivers
	done     int
	selected int // of done: took a selection
	last     *srvSession
}

// idle is how long a session may have no stream before reapIdle drops it.
func (c *receiverCount) idle() time.Duration {
	if c.reached() {
		return drainIdle
	}
	return sessionIdle
}

// reached reports whether as many receivers as asked have completed.
func (c *receiverCount) reached() bool { return c.want >= 0 && c.done >= max(c.want, 1) }

// completed counts ss, which sent Done, ends its session and tells the
// user; once the count is reached no new receiver is taken. It reports
// whether the count is reached.
func (c *receiverCount) completed(s *server, ss *srvSession) bool {
	c.done++
	c.selected += btoi(ss.selected)
	c.last = ss
	s.dropSession(ss)
	sum := s.sessionSummary(ss)
	s.mu.Lock()
	sum.Streams = ss.stats.maxData
	s.mu.Unlock()
	emit(s.events, ProgressEvent{Streams: sum.Streams, Receiver: ss.rid, Peer: ss.peer.String(), Receivers: s.activeSessions() + 1,
		Bytes: sum.FetchedBytes, TotalBytes: sum.ManifestBytes, WireBytes: sum.WireBytes,
		Files: min(int(ss.stats.files.Load()), sum.Files), FilesTotal: sum.Files, Path: ss.path, Transport: ss.transport})
	emit(s.events, ReceiverDoneEvent{Receiver: ss.rid, Peer: ss.peer.String(), Summary: sum})
	if c.reached() {
		s.stopTaking()
		return true
	}
	return false
}

// drained reports whether the count is reached and every session that was
// running then has ended.
func (c *receiverCount) drained(s *server) bool { return c.reached() && s.activeSessions() == 0 }

// finish is Send's result once it is done serving: what all sessions were
// sent, and how many receivers completed.
func (s *server) finish(c *receiverCount) (*Summary, error) {
	sum := s.summary()
	sum.Receivers, sum.Selected = c.done, c.selected
	sum.Path, sum.Transport = c.last.path, c.last.transport
	emit(s.events, DoneEvent{Summary: sum, Receiver: c.last.rid})
	return &sum, nil
}
