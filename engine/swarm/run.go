package swarm

import (
	"context"
	"math/bits"
	"math/rand/v2"
	"slices"
)

// Run fetches every needed chunk from the sources and returns nil once each
// one was verified; a *NoSourceError when chunks are missing, nothing is
// in flight and no source left may be asked for any of them; Verify's
// error; or ctx's. Add the first sources before Run. Run waits for every
// Fetch call it made to return before it returns.
func (s *Scheduler) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	s.mu.Lock()
	s.runCtx = ctx
	for _, p := range s.peers {
		if p.ctx == nil {
			p.ctx, p.cancel = context.WithCancel(ctx)
		}
	}
	var err error
	for {
		if s.err != nil {
			err = s.err
			break
		}
		if s.left == 0 {
			break
		}
		s.dispatch()
		if len(s.flights) == 0 && s.holds == 0 {
			// Nothing in flight, no source took work, and none may come
			// or grow (Hold): none may be asked for any missing chunk.
			err = &NoSourceError{Missing: s.left}
			break
		}
		s.mu.Unlock()
		select {
		case <-s.wake:
		case <-ctx.Done():
		}
		s.mu.Lock()
		if ctx.Err() != nil {
			err = ctx.Err()
			break
		}
	}
	s.stopped = true
	s.mu.Unlock()
	cancel()
	s.wg.Wait()
	return err
}

// dispatch gives every live source as much work as its window and the
// global window allow, starting with a different source each time. s.mu
// is held.
func (s *Scheduler) dispatch() {
	n := len(s.peers)
	s.turn++
	for k := 0; k < n; k++ {
		p := s.peers[(s.turn+k)%n]
		for p.err == nil {
			batch, bytes := s.pick(p)
			if len(batch) == 0 {
				break
			}
			s.launch(p, batch, bytes)
		}
	}
}

// budget is how many bytes the next batch for p may cost, or 0 when p
// should wait: a source with work in flight gets a new batch only once
// half its window is free, so that batches stay large.
func (s *Scheduler) budget(p *Peer) int64 {
	free := p.window - p.out
	if p.out > 0 && free < p.window/2 {
		return 0
	}
	half := max(p.window/2, s.unit)
	return max(min(free, half, s.window-s.out), 0)
}

// batch is a Fetch call being put together.
type batch struct {
	budget int64
	max    int
	chunks []uint32
	bytes  int64
}

// take adds chunk i of cost c if it fits.
func (b *batch) take(i uint32, c int64) bool {
	if b.bytes+c > b.budget || len(b.chunks) == b.max {
		return false
	}
	b.chunks = append(b.chunks, i)
	b.bytes += c
	return true
}

// pick chooses p's next batch: the lowest-numbered waiting chunks p holds
// and has not failed, in order; when no chunk waits at all, chunks in
// flight at one other source (the endgame: a stalled source cannot hold
// the transfer back). s.mu is held.
func (s *Scheduler) pick(p *Peer) ([]uint32, int64) {
	b := batch{budget: s.budget(p), max: s.batch}
	if b.budget == 0 {
		return nil, 0
	}
	pw, hw := s.pending.w, p.have.w
	for s.lo < len(pw) && pw[s.lo] == 0 {
		s.lo++
	}
	// First the chunks no other live source holds, from a random place on
	// (new for each batch), then the lowest of any: a sender serving
	// several receivers is not asked for what a re-seeder could give, and
	// its receivers ask it for different chunks. In a lab of five
	// receivers started one after another behind one 20 Mbit sender
	// (discovery/lab TestLabSwarmFiveReceivers), lowest first alone sent
	// 2.3-2.8x the payload over the sender's uplink, only-it-holds from
	// the lowest 3.4x (each receiver asked the sender for what the others
	// were asking it for), and from one random place per receiver 2.2-2.5x
	// under load (a receiver whose place lay behind another's caught up
	// with it and then asked for what the other was asking for).
	for _, onlyP := range []bool{s.othersLive(p), false} {
		from := uint32(s.lo * 64)
		if onlyP && s.want.Total > from {
			from += uint32(rand.Uint64() % uint64(s.want.Total-from))
		}
		scanFrom(s.lo, len(pw), from, func(k int) uint64 {
			w := pw[k] & hw[k]
			if onlyP && w != 0 {
				w &^= s.othersHave(p, k)
			}
			return w
		}, func(i uint32) bool {
			if s.excluded(i, p) {
				return true
			}
			if !b.take(i, s.cost(i)) {
				return false
			}
			s.pending.Remove(i) // so that the second pass skips it
			return true
		})
	}
	if len(b.chunks) > 0 {
		s.waiting -= len(b.chunks)
		return b.chunks, b.bytes
	}
	if s.waiting == 0 && p.out == 0 {
		b.max = 1
		s.endgame(p, &b)
	}
	return b.chunks, b.bytes
}

// scanFrom calls take for every set bit i of words [lo, n) (word gives
// word k), from chunk from up, then from lo*64 up to from, until take
// returns false.
func scanFrom(lo, n int, from uint32, word func(k int) uint64, take func(i uint32) bool) {
	if lo >= n {
		return
	}
	first := int(from / 64)
	if first < lo || first >= n {
		first, from = lo, uint32(lo*64)
	}
	upper := ^uint64(0) << (from % 64)
	visit := func(k int, mask uint64) bool {
		for w := word(k) & mask; w != 0; w &= w - 1 {
			if !take(uint32(k*64 + bits.TrailingZeros64(w))) {
				return false
			}
		}
		return true
	}
	if !visit(first, upper) {
		return
	}
	for k := first + 1; k < n; k++ {
		if !visit(k, ^uint64(0)) {
			return
		}
	}
	for k := lo; k < first; k++ {
		if !visit(k, ^uint64(0)) {
			return
		}
	}
	visit(first, ^upper)
}

// othersLive reports whether a live source other than p exists. s.mu is
// held.
func (s *Scheduler) othersLive(p *Peer) bool {
	for _, q := range s.peers {
		if q != p && q.err == nil {
			return true
		}
	}
	return false
}

// othersHave returns word k of the chunks held by live sources other than
// p. s.mu is held.
func (s *Scheduler) othersHave(p *Peer, k int) uint64 {
	var or uint64
	for _, q := range s.peers {
		if q != p && q.err == nil {
			or |= q.have.w[k]
		}
	}
	return or
}

// endgame fills b with chunks in flight at exactly one other source that p
// holds and has not failed, highest first: the one asked last of its
// source arrives last from it. Only an idle source takes part, one chunk
// at a time: a copy asked of a source that still has its own chunks in
// flight would share its uplink with them and delay them. In a lab of
// three 20 Mbit sources (discovery/lab TestLabSwarmThreeSources), asking
// for the lowest chunks in flight, several at once from any source with
// room, moved 13.5 MiB over an uplink for 11 MiB delivered from it, and the
// transfer took 6.1 s where 4.6 would do. s.mu is held.
func (s *Scheduler) endgame(p *Peer, b *batch) {
	var cand []uint32
	for i, f := range s.flights {
		if len(f.calls) == 1 && f.calls[0].p != p && !f.verifying && !s.done.Has(i) &&
			p.have.Has(i) && !s.excluded(i, p) {
			cand = append(cand, i)
		}
	}
	slices.Sort(cand)
	slices.Reverse(cand)
	for _, i := range cand {
		if !b.take(i, s.cost(i)) {
			return
		}
	}
}

// excluded reports whether p must not be asked for chunk i: the chunk
// failed verification from p, and another live source that has not failed
// it holds it. A chunk that only p can give is asked of p again (a copy
// corrupted on the way is not a lying source); MaxBad bounds how often.
// s.mu is held.
func (s *Scheduler) excluded(i uint32, p *Peer) bool {
	if len(s.exclude) == 0 || !slices.Contains(s.exclude[i], p) {
		return false
	}
	for _, q := range s.peers {
		if q != p && q.err == nil && q.have.Has(i) && !slices.Contains(s.exclude[i], q) {
			return true
		}
	}
	return false
}
