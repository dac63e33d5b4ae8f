package swarm

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// launch records batch as in flight at p and starts the Fetch call. s.mu
// is held.
func (s *Scheduler) launch(p *Peer, chunks []uint32, bytes int64) {
	ctx, cancel := context.WithCancel(p.ctx)
	c := &call{p: p, chunks: chunks, delivered: make([]bool, len(chunks)), cancel: cancel}
	for _, i := range chunks {
		f := s.flights[i]
		if f == nil {
			f = &flight{}
			s.flights[i] = f
		}
		f.calls = append(f.calls, c)
	}
	if p.start.IsZero() {
		p.start = time.Now()
	}
	p.out += bytes
	p.calls++
	s.out += bytes
	s.maxOut = max(s.maxOut, s.out)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer cancel()
		err := p.src.Fetch(ctx, chunks, func(i uint32, data []byte) { s.got(c, i, data) })
		s.fetched(c, err)
	}()
}

// got handles one chunk delivered by c's source p: verified once, the
// first copy to arrive; a later copy, a copy from a dropped source, or one
// Run no longer wants is discarded unverified.
func (s *Scheduler) got(c *call, i uint32, data []byte) {
	p := c.p
	s.mu.Lock()
	if k := slices.Index(c.chunks, i); k >= 0 { // not sorted: pick may wrap
		c.delivered[k] = true
	}
	f := s.flights[i]
	if f == nil || f.at(p) < 0 {
		s.mu.Unlock() // not asked of p, or delivered twice: ignored
		return
	}
	if s.done.Has(i) || f.verifying || p.err != nil || s.stopped {
		if s.done.Has(i) {
			s.dups++
		}
		s.release(p, i, f)
		s.mu.Unlock()
		s.signal()
		return
	}
	f.verifying = true
	s.mu.Unlock()

	ok, err := s.verify(i, data)

	s.mu.Lock()
	defer s.signal()
	defer s.mu.Unlock()
	f.verifying = false
	cost := s.cost(i)
	switch {
	case err != nil:
		if s.err == nil {
			s.err = err
		}
	case ok:
		s.done.Add(i)
		s.left--
		p.delivered++
		p.bytes += cost
		p.grow(cost)
		for _, q := range f.calls {
			if q.p != p { // q was asked first and was slower
				q.p.stolen++
				q.p.shrink()
				s.cutIfDone(q)
			}
		}
		s.cutIfDone(c) // what it has yet to send came from others
	default:
		p.bad++
		p.shrink()
		s.exclude[i] = append(s.exclude[i], p)
		s.log.Debug("chunk failed verification", "source", p.id, "chunk", i, "failures", p.bad)
		if p.bad >= s.maxBad {
			s.drop(p, fmt.Errorf("%w (%d chunks)", ErrTooManyBad, p.bad))
		}
	}
	s.release(p, i, f)
}

// cutIfDone cancels call c once every chunk it asked for is verified: in a
// lab of five receivers of one 20 Mbit sender, the sender went on sending
// chunks that re-seeders had already delivered (the endgame asks an idle
// peer for a chunk in flight at the sender), about a third of its uplink.
// s.mu is held.
func (s *Scheduler) cutIfDone(c *call) {
	if c.cut {
		return
	}
	owed := false                                 // the call has chunks yet to send
	for k, i := range slices.Backward(c.chunks) { // the undelivered are last
		if !s.done.Has(i) {
			return
		}
		owed = owed || !c.delivered[k]
	}
	if owed {
		c.cut = true
		c.cancel()
	}
}

// fetched ends Fetch call c: chunks its source p did not deliver go back
// to wait for another source, and a call that failed, or returned without
// delivering them all, drops p, unless the call was cut.
func (s *Scheduler) fetched(c *call, err error) {
	p := c.p
	s.mu.Lock()
	missed := 0
	for k, i := range c.chunks {
		if c.delivered[k] {
			continue // got accounted for it
		}
		if f := s.flights[i]; f != nil && f.at(p) >= 0 {
			s.release(p, i, f)
			missed++
		}
	}
	p.calls--
	if !s.stopped && p.err == nil && !c.cut {
		switch {
		case err != nil:
			s.drop(p, err)
		case missed > 0:
			s.drop(p, fmt.Errorf("swarm: source returned without %d of %d chunks asked", missed, len(c.chunks)))
		}
	}
	s.mu.Unlock()
	s.signal()
}

// release ends chunk i's flight at p: p's and the global window get its
// cost back, and a chunk in flight nowhere else that is not done waits
// again. s.mu is held.
func (s *Scheduler) release(p *Peer, i uint32, f *flight) {
	k := f.at(p)
	f.calls = slices.Delete(f.calls, k, k+1)
	c := s.cost(i)
	p.out -= c
	s.out -= c
	if len(f.calls) > 0 || f.verifying {
		return
	}
	delete(s.flights, i)
	if !s.done.Has(i) {
		s.pending.Add(i)
		s.waiting++
		s.lo = min(s.lo, int(i/64))
	}
}

// drop stops asking p for anything: its Fetch calls are cancelled, and
// what they had in flight waits for the other sources. s.mu is held.
func (s *Scheduler) drop(p *Peer, err error) {
	p.err = err
	if p.cancel != nil {
		p.cancel()
	}
	s.log.Debug("source dropped", "source", p.id, "err", err)
}
