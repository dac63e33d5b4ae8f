package swarm

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// launch records batch as in flight at p and starts the Fetch call. s.mu
// is held.
func (s *Scheduler) launch(p *Peer, chunks []uint32, bytes int64) {
	ctx, cancel := context.WithCancel(p.ctx)
	c := &call{chunks: chunks, cancel: cancel}
	for _, i := range chunks {
		f := s.flights[i]
		if f == nil {
			f = &flight{}
			s.flights[i] = f
		}
		f.holders = append(f.holders, p)
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
		// What this call delivered: a chunk that failed verification may be
		// asked of p again (in another call) before this one returns, and
		// that flight is not this call's to account for.
		var mu sync.Mutex
		delivered := make([]bool, len(chunks))
		err := p.src.Fetch(ctx, chunks, func(i uint32, data []byte) {
			if k := slices.Index(chunks, i); k >= 0 { // not sorted: pick may wrap
				mu.Lock()
				delivered[k] = true
				mu.Unlock()
			}
			s.got(p, i, data)
		})
		s.fetched(p, c, delivered, err)
	}()
}

// got handles one chunk p delivered: verified once, the first copy to
// arrive; a later copy, a copy from a dropped source, or one Run no longer
// wants is discarded unverified.
func (s *Scheduler) got(p *Peer, i uint32, data []byte) {
	s.mu.Lock()
	f := s.flights[i]
	k := -1
	if f != nil {
		k = slices.Index(f.holders, p)
	}
	if k < 0 {
		s.mu.Unlock() // not asked of p, or delivered twice: ignored
		return
	}
	fc := f.calls[k]
	fc.got++
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
	c := s.cost(i)
	switch {
	case err != nil:
		if s.err == nil {
			s.err = err
		}
	case ok:
		s.done.Add(i)
		s.left--
		p.delivered++
		p.bytes += c
		p.grow(c)
		for k, q := range f.holders {
			if q != p { // q was asked first and was slower
				q.stolen++
				q.shrink()
				s.cutIfDone(f.calls[k])
			}
		}
		s.cutIfDone(fc) // what it has yet to send came from others
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
	if c.cut || c.got == len(c.chunks) {
		return
	}
	for _, i := range slices.Backward(c.chunks) { // the undelivered are last
		if !s.done.Has(i) {
			return
		}
	}
	c.cut = true
	c.cancel()
}

// fetched ends one Fetch call: chunks p did not deliver go back to wait
// for another source, and a call that failed, or returned without
// delivering them all, drops p, unless the call was cut.
func (s *Scheduler) fetched(p *Peer, c *call, delivered []bool, err error) {
	s.mu.Lock()
	missed := 0
	for k, i := range c.chunks {
		if delivered[k] {
			continue // got accounted for it
		}
		if f := s.flights[i]; f != nil && f.holds(p) {
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
	k := slices.Index(f.holders, p)
	f.holders = slices.Delete(f.holders, k, k+1)
	f.calls = slices.Delete(f.calls, k, k+1)
	c := s.cost(i)
	p.out -= c
	s.out -= c
	if len(f.holders) > 0 || f.verifying {
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
