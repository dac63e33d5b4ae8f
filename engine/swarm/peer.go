package swarm

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pcp-p2p/pcp/engine/wire"
)

// Peer is a source added to a Scheduler: the handle its transport uses to
// pass on have-map updates. Its fields are guarded by the scheduler's
// mutex.
type Peer struct {
	s      *Scheduler
	id     int
	src    Source
	have   *Set
	ctx    context.Context // ends when the peer is dropped or Run ends
	cancel context.CancelFunc

	window    int64 // bytes it may have in flight
	maxWindow int64
	out       int64 // bytes in flight
	calls     int   // Fetch calls running
	delivered int
	bytes     int64
	bad       int
	stolen    int
	err       error     // why it was dropped; nil while it serves
	start     time.Time // when it was first asked for chunks
}

// Have records chunks the source newly holds (a HaveUpdate frame): they
// become eligible at once.
func (p *Peer) Have(chunks ...uint32) error {
	s := p.s
	s.mu.Lock()
	for _, i := range chunks {
		if i >= p.have.Len() {
			s.mu.Unlock()
			return fmt.Errorf("swarm: have-update of chunk %d in a manifest of %d", i, p.have.Len())
		}
		p.have.Add(i)
	}
	s.mu.Unlock()
	s.signal()
	return nil
}

// Holds reports whether the source's have-map holds chunk i.
func (p *Peer) Holds(i uint32) bool {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	return p.have.Has(i)
}

// HaveMap records the chunks a HaveMap frame says the source holds.
func (p *Peer) HaveMap(h wire.HaveMap) error {
	s := p.s
	s.mu.Lock()
	err := p.have.AddHaveMap(h)
	s.mu.Unlock()
	s.signal()
	return err
}

// Leave drops the source (its connection closed, say): it is asked for
// nothing more, its Fetch calls are cancelled and what they had in flight
// goes to the other sources. err is reported in its Stats.
func (p *Peer) Leave(err error) {
	s := p.s
	s.mu.Lock()
	if p.err == nil {
		if err == nil {
			err = errLeft
		}
		s.drop(p, err)
	}
	s.mu.Unlock()
	s.signal()
}

// errLeft is Leave's error when it is given none.
var errLeft = errors.New("swarm: the source left")

// PeerStats is one source's account.
type PeerStats struct {
	Delivered int   // chunks verified from this source
	Bytes     int64 // their cost
	Bad       int   // chunks that failed verification
	// Stolen counts chunks this source was asked for that another source
	// delivered first (endgame): each halved its window.
	Stolen    int
	Window    int64 // its window now
	MaxWindow int64 // the largest its window grew
	Err       error // why it was dropped; nil while it serves
}

// Stats returns the source's counters.
func (p *Peer) Stats() PeerStats {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	return PeerStats{
		Delivered: p.delivered, Bytes: p.bytes, Bad: p.bad, Stolen: p.stolen,
		Window: p.window, MaxWindow: p.maxWindow, Err: p.err,
	}
}

// grow widens the window by a verified chunk's cost (slow start: it doubles
// each time a window's worth is verified), up to the global window, and to
// about windowTime of what the source has delivered since it was first
// asked (never below minWindow). A slow source, such as a sender's uplink
// shared by many receivers, is then not asked for much more than it can
// send before another source could give the same chunks: what it has
// queued cannot be taken back. Five receivers behind one 20 Mbit sender
// (discovery/lab TestLabSwarmFiveReceivers) with windows bounded only by
// the global one: 3.4-3.6x the payload over the sender's uplink.
func (p *Peer) grow(n int64) {
	limit := p.s.window
	if el := time.Since(p.start).Seconds(); el > 0 {
		limit = max(int64(float64(p.bytes)/el*windowTime.Seconds()), p.s.minWindow(p))
	}
	p.window = min(p.window+n, p.s.window, limit)
	p.maxWindow = max(p.maxWindow, p.window)
}

// windowTime is how much of a source's delivery rate its window holds.
const windowTime = time.Second

// shrink halves the window, to no less than minWindow.
func (p *Peer) shrink() {
	p.window = max(p.window/2, p.s.minWindow(p))
}

// minWindow is the least window of p: two chunks, so that a source alone
// is never idle while its next chunk is asked for; one chunk while other
// sources serve too, so that a slow source shared by several receivers
// (a sender's uplink) has as little as possible queued that they may get
// from each other sooner. s.mu is held.
func (s *Scheduler) minWindow(p *Peer) int64 {
	if s.othersLive(p) {
		return s.unit
	}
	return s.minWin
}
