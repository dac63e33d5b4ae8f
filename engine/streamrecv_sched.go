package engine

import (
	"context"
	"fmt"
	"hash"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/zeebo/blake3"

	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/manifest"
)

// streamRecv is the state of one stream being received: what was
// announced, what is requested, what waits to be written in order, and
// the verified prefix written. Three kinds of goroutine share it under
// mu: the announcement reader (streamrecv_announce.go), the data workers
// (streamrecv_fetch.go) and the writer (write, below).
//
// Memory is bounded by the window: a chunk is requested only when it lies
// in [base, base+slots), and it holds its slot, verified, until it is
// written; hashes hold the announcements from base on, and the reader
// stops reading announcements while more than aheadMax are unwritten.
type streamRecv struct {
	info  wire.StreamInfo
	cs    int64
	slots uint64 // chunks in flight or waiting for their turn, at most
	sink  streamSink
	max   int64 // bytes the stream may have; 0 = no bound
	limit *rateLimit

	mu      sync.Mutex
	changed chan struct{} // closed (and replaced) on every change
	err     error         // the first failure: everything stops

	base      uint64          // chunks written: the verified prefix
	hashes    []manifest.Hash // announced hashes of chunks base, base+1, ...
	announced uint64          // chunks announced: fed to root, in order
	root      *manifest.StreamHasher
	ended     bool
	end       wire.StreamEnd
	shortAt   int64 // a chunk shorter than cs that arrived (-1: none): it must be the last
	shortLen  int64
	next      uint64            // the first chunk never requested
	retry     []uint64          // chunks to request again (their stream broke)
	ready     map[uint64][]byte // verified chunks waiting for their turn
	// prefix digests the hashes of chunks 0..base-1 (prefixHasher): the
	// record a resumed receive and a second sight are checked against.
	// nil while a resumed prefix is not confirmed yet (prefixSum holds it).
	prefix    hash.Hash
	prefixSum manifest.Hash
	resumed   int64  // bytes of the prefix an earlier run verified
	peak      uint64 // the most chunks requested and not yet written (at most slots)

	fetched, wire, chunks, reconnects atomic.Int64
	lastData                          atomic.Int64 // unix ns of the last verified chunk
	bufs                              chan []byte  // free chunk buffers
}

// aheadMax bounds the announcements held beyond the written prefix.
func (s *streamRecv) aheadMax() uint64 { return s.slots + 2*wire.MaxAnnounce }

// prefixHasher starts the digest of a stream's chunk hashes in order.
func prefixHasher() hash.Hash {
	h := blake3.New()
	h.Write([]byte("pcp stream prefix v1"))
	return h
}

func sumOf(h hash.Hash) (s manifest.Hash) {
	h.Sum(s[:0])
	return s
}

// notify wakes every waiter; s.mu must be held.
func (s *streamRecv) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// fail records the first failure and wakes everyone.
func (s *streamRecv) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
	}
	s.notify()
}

// wait blocks until cond holds (checked under s.mu, which it holds when
// it returns nil), the stream failed, or ctx ends.
func (s *streamRecv) wait(ctx context.Context, cond func() bool) error {
	s.mu.Lock()
	for {
		if s.err != nil {
			err := s.err
			s.mu.Unlock()
			return err
		}
		if cond() {
			return nil
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		s.mu.Lock()
	}
}

// done reports whether every chunk is written; s.mu held.
func (s *streamRecv) done() bool { return s.ended && s.base == s.announced }

// take hands a data worker up to n chunks to request, in order, waiting
// for announcements and window room. nil, nil: nothing is left to fetch.
func (s *streamRecv) take(ctx context.Context, n int) ([]uint64, error) {
	var out []uint64
	err := s.wait(ctx, func() bool {
		return len(s.retry) > 0 || s.next < min(s.announced, s.base+s.slots) || s.ended && s.next >= s.announced
	})
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	if len(s.retry) > 0 {
		k := min(n, len(s.retry))
		out = append(out, s.retry[:k]...)
		s.retry = s.retry[k:]
		return out, nil
	}
	for ; len(out) < n && s.next < min(s.announced, s.base+s.slots); s.next++ {
		out = append(out, s.next)
	}
	if d := s.next - s.base; d > s.peak {
		s.peak = d
	}
	return out, nil // empty: ended and all requested
}

// requeue gives chunks requested on a broken stream back for another.
func (s *streamRecv) requeue(refs []uint64) {
	if len(refs) == 0 {
		return
	}
	s.mu.Lock()
	s.retry = append(s.retry, refs...)
	slices.Sort(s.retry)
	s.notify()
	s.mu.Unlock()
}

// hashOf is the announced hash of chunk i, not yet written, and the
// length it must have as far as is known: exact once the stream ended,
// else 0 (1 to cs, and less than cs only for the last announced).
func (s *streamRecv) hashOf(i uint64) (h manifest.Hash, exact int64, last bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h = s.hashes[i-s.base]
	if s.ended {
		exact = manifest.ChunkLen(int64(s.end.Size), uint32(s.cs), int64(i))
	}
	return h, exact, i+1 == s.announced
}

// deliver hands a verified chunk to the writer.
func (s *streamRecv) deliver(i uint64, b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if int64(len(b)) < s.cs && !s.ended {
		if i+1 != s.announced {
			return fmt.Errorf("%w: chunk %d of the stream has %d bytes, but only its last may have fewer than %d", ErrPeerMisbehaving, i, len(b), s.cs)
		}
		s.shortAt, s.shortLen = int64(i), int64(len(b))
	}
	s.ready[i] = b
	s.notify()
	return nil
}

// buf returns a chunk buffer: a free one, or a new one. At most slots
// are kept free (a sync.Pool would keep more across collections).
func (s *streamRecv) buf() []byte {
	select {
	case b := <-s.bufs:
		return b[:0]
	default:
		return make([]byte, 0, s.cs)
	}
}

func (s *streamRecv) putBuf(b []byte) {
	select {
	case s.bufs <- b:
	default:
	}
}

// write writes verified chunks to the sink in order until the stream is
// done, recording the prefix as it goes (the sink decides how often it
// makes the record durable).
func (s *streamRecv) write(ctx context.Context) error {
	for {
		var b []byte
		err := s.wait(ctx, func() bool {
			b = s.ready[s.base]
			return b != nil || s.done()
		})
		if err != nil {
			return err
		}
		if b == nil { // done
			sum := sumOf(s.prefix)
			n := s.base
			s.mu.Unlock()
			return s.sink.commit(n, sum, true)
		}
		s.mu.Unlock()
		if err := s.sink.write(b); err != nil {
			return err
		}
		s.mu.Lock()
		delete(s.ready, s.base)
		s.prefix.Write(s.hashes[0][:])
		s.hashes = s.hashes[1:]
		if cap(s.hashes) > 4*int(s.aheadMax()) && len(s.hashes) < int(s.aheadMax()) {
			s.hashes = slices.Clone(s.hashes) // let the old array go
		}
		s.base++
		n, sum := s.base, sumOf(s.prefix)
		s.notify()
		s.mu.Unlock()
		s.fetched.Add(int64(len(b)))
		s.putBuf(b)
		if err := s.sink.commit(n, sum, false); err != nil {
			return err
		}
	}
}
