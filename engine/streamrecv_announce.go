package engine

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/manifest"
)

// sight checks one manifest stream's announcements against what an
// earlier one (or an earlier run) announced: the hashes of the written
// prefix by their digest (n chunks, sum), the rest one by one (snap, the
// hashes of chunks n, n+1, ... held when the stream opened).
type sight struct {
	n    uint64
	sum  manifest.Hash
	h    hash.Hash
	snap []manifest.Hash
	seen uint64 // announcements read on this stream
}

// newSight starts the check of a new manifest stream; s.mu held.
func (s *streamRecv) newSight() *sight {
	g := &sight{n: s.base, h: prefixHasher(), snap: append([]manifest.Hash(nil), s.hashes...)}
	if s.prefix != nil {
		g.sum = sumOf(s.prefix)
	} else {
		g.sum = s.prefixSum
	}
	return g
}

// announce takes one Announce frame read on the stream g checks.
func (s *streamRecv) announce(a wire.Announce, g *sight) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if uint64(a.First) != g.seen {
		return fmt.Errorf("%w: an announcement from chunk %d when chunk %d was next", ErrPeerMisbehaving, a.First, g.seen)
	}
	if s.ended && g.seen+uint64(len(a.Hashes)) > s.announced {
		return fmt.Errorf("%w: announcements past the stream's end", ErrPeerMisbehaving)
	}
	for _, h := range a.Hashes {
		i := g.seen
		g.seen++
		if i < g.n { // the written prefix: by its digest
			g.h.Write(h[:])
			if i+1 == g.n {
				if sumOf(g.h) != g.sum {
					return fmt.Errorf("%w: the stream's announcements of chunks 0 to %d differ from what was announced before", ErrPeerMisbehaving, i)
				}
				if s.prefix == nil { // a resumed prefix, now confirmed
					s.prefix = g.h
				}
			}
		}
		switch {
		case i < s.announced:
			if i >= g.n && g.snap[i-g.n] != h {
				return fmt.Errorf("%w: chunk %d of the stream announced twice with different hashes", ErrPeerMisbehaving, i)
			}
		case s.shortAt >= 0 && int64(i) > s.shortAt:
			return fmt.Errorf("%w: chunk %d announced after chunk %d, which was short", ErrPeerMisbehaving, i, s.shortAt)
		case s.max > 0 && int64(i)*s.cs+1 > s.max:
			return fmt.Errorf("%w: chunk %d of %d bytes puts it past %d bytes", ErrStreamTooLarge, i, s.cs, s.max)
		default: // first sight
			s.root.Add(h)
			s.announced++
			if i >= s.base {
				s.hashes = append(s.hashes, h)
			}
		}
	}
	s.notify()
	return nil
}

// streamEnd takes the StreamEnd read on the stream g checks.
func (s *streamRecv) streamEnd(e wire.StreamEnd, g *sight) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		if g.seen != s.announced || e != s.end {
			return fmt.Errorf("%w: the stream's end differs from what was announced before", ErrPeerMisbehaving)
		}
		return nil
	}
	if g.seen != s.announced || g.seen < g.n {
		return fmt.Errorf("%w: the stream ended after %d chunks, when %d were announced or written before", ErrPeerMisbehaving, g.seen, max(s.announced, g.n))
	}
	n := manifest.StreamChunks(e.Size, uint32(s.cs))
	if n != s.announced {
		return fmt.Errorf("%w: a stream of %d bytes ended after %d chunks of %d bytes", ErrPeerMisbehaving, e.Size, s.announced, s.cs)
	}
	if s.shortAt >= 0 && (uint64(s.shortAt)+1 != n || s.shortLen != manifest.ChunkLen(int64(e.Size), uint32(s.cs), s.shortAt)) {
		return fmt.Errorf("%w: chunk %d of the stream does not have the length its end implies", ErrPeerMisbehaving, s.shortAt)
	}
	root, err := s.root.Sum(e.Size)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrPeerMisbehaving, err)
	}
	if root != e.Root {
		return fmt.Errorf("%w: the stream ended with root %s, and its announcements make %s", ErrPeerMisbehaving, e.Root, root)
	}
	if s.max > 0 && int64(e.Size) > s.max {
		return fmt.Errorf("%w: %d bytes, more than %d", ErrStreamTooLarge, e.Size, s.max)
	}
	s.ended, s.end = true, e
	s.notify()
	return nil
}

// readAnnouncements reads one manifest stream until StreamEnd. A stream
// that sends nothing, not even Wait, for idle is a stall: errStall.
// While more than aheadMax announcements wait unwritten it reads no more.
func (s *streamRecv) readAnnouncements(ctx context.Context, ms deadlineReadCloser, idle time.Duration) error {
	s.mu.Lock()
	g := s.newSight()
	s.mu.Unlock()
	fr := wire.NewReader(ms)
	into := make([]manifest.Hash, 0, wire.MaxAnnounce)
	for {
		if err := s.wait(ctx, func() bool { return s.announced < s.base+s.aheadMax() || g.seen < s.announced }); err != nil {
			return err
		}
		s.mu.Unlock()
		_ = ms.SetReadDeadline(time.Now().Add(idle))
		t, p, err := fr.Next()
		if err != nil {
			return err
		}
		switch t {
		case wire.TWait:
		case wire.TAnnounce:
			a, err := wire.DecodeAnnounce(p, into)
			if err != nil {
				return err
			}
			if err := s.announce(a, g); err != nil {
				return err
			}
		case wire.TStreamEnd:
			e, err := wire.DecodeStreamEnd(p)
			if err != nil {
				return err
			}
			return s.streamEnd(e, g)
		case wire.TError:
			re, err := wire.DecodeError(p)
			if err != nil {
				return err
			}
			return re
		default:
			return fmt.Errorf("%w: %v on the stream's announcements", wire.ErrFrame, t)
		}
	}
}

// announcements keeps a manifest stream read until the stream ends,
// opening a new one after a drop (within patience of the last progress).
func (s *streamRecv) announcements(ctx context.Context, open manifestStreamFunc, idle, patience time.Duration) error {
	var down time.Time
	backoff := streamBackoffMin
	for first := true; ; first = false {
		if !first {
			s.reconnects.Add(1)
		}
		ms, err := open()
		if err == nil {
			s.mu.Lock()
			before := s.announced
			s.mu.Unlock()
			stop := context.AfterFunc(ctx, func() { abort(ms) })
			err = s.readAnnouncements(ctx, ms, idle)
			stop()
			if err == nil {
				ms.Close()
				return nil
			}
			abort(ms)
			s.mu.Lock()
			if s.announced > before { // progress: a fresh failure
				down, backoff = time.Time{}, streamBackoffMin
			}
			s.mu.Unlock()
		}
		var re *wire.RemoteError
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, ErrPeerMisbehaving), errors.Is(err, ErrStreamTooLarge), errors.Is(err, ErrNoPath):
			return err
		case errors.Is(err, wire.ErrGone):
			return fmt.Errorf("%w: %w", ErrStreamGone, err)
		case errors.Is(err, wire.ErrFrame):
			return fmt.Errorf("%w: %w", ErrPeerMisbehaving, err)
		case errors.As(err, &re):
			return fmt.Errorf("%w: the sender answered with an error on the stream's announcements (code %d): %w", ErrPeerMisbehaving, re.Code, err)
		case isTimeout(err):
			return fmt.Errorf("%w: the sender announced nothing, not even that it waits, for %v", ErrInterrupted, idle)
		}
		if down.IsZero() {
			down = time.Now()
		} else if time.Since(down) > patience {
			return fmt.Errorf("%w: the stream's announcements broke off and could not be read again for %v: %v", ErrInterrupted, patience, err)
		}
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			backoff = min(2*backoff, streamBackoffMax)
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
