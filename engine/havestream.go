package engine

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/pcp-p2p/pcp/engine/swarm"
	"github.com/pcp-p2p/pcp/engine/wire"
)

// Have-maps: which chunks a source holds (issue 14). A receiver fetching
// from several sources opens a KindHave stream of each session; the source
// sends HaveMap frames that cover the manifest's chunks [0, T) in order,
// then HaveUpdate frames as it gains chunks (a re-seeder that is still
// receiving), and closes once it holds them all. A sender holds every chunk:
// it sends the whole map and closes at once.

// serveHave answers a KindHave stream, only for the session's own peer.
func (s *server) serveHave(ctx context.Context, rw io.ReadWriteCloser, id [32]byte, remote peer.ID) error {
	ss := s.sessionOf(id, remote)
	if ss == nil {
		return fmt.Errorf("%w: have stream for an unknown session", ErrPeerMisbehaving)
	}
	if s.seed != nil {
		return s.serveSeedHave(ctx, rw) // seed.go
	}
	idx, err := s.index()
	if s.stream != nil {
		err = fmt.Errorf("%w: a stream has no have-map", wire.ErrBadRequest)
	}
	if err != nil {
		_ = wire.WriteFrame(rw, wire.TError, wire.AppendError(nil, wire.CodeOf(err), err.Error()))
		return err
	}
	full := swarm.FullSet(idx.Total())
	return within(ctx, rw, s.timeouts.decision, func() error {
		if err := writeHaveMaps(rw, full); err != nil {
			return err
		}
		return closeWrite(rw)
	})
}

// index is the manifest's global chunk index, built once.
func (s *server) index() (*swarm.Index, error) {
	if s.stream != nil {
		return nil, errNotSwarmable
	}
	s.idxOnce.Do(func() { s.idx, s.idxErr = swarmIndex(s.src.Table) })
	return s.idx, s.idxErr
}

// serverIndex holds a server's global chunk index (havestream.go).
type serverIndex struct {
	idxOnce sync.Once
	idx     *swarm.Index
	idxErr  error
}

// writeHaveMaps sends set as HaveMap frames of at most wire.MaxHaveSpan
// chunks each, covering all of it in order.
func writeHaveMaps(w io.Writer, set *swarm.Set) error {
	total := set.Len()
	var buf []byte
	for start := uint32(0); start < total; {
		span := min(total-start, wire.MaxHaveSpan)
		p, err := wire.AppendHaveMap(buf[:0], total, set.HaveMap(start, span))
		if err != nil {
			return err
		}
		if err := wire.WriteFrame(w, wire.THaveMap, p); err != nil {
			return err
		}
		buf = p
		start += span
	}
	return nil
}

// readHaveMaps reads the HaveMap frames that open a KindHave stream, until
// they cover [0, total), and returns the set they describe. Each frame must
// start where the last ended. Every read gets stall.
func readHaveMaps(s deadlineReader, fr *wire.Reader, total uint32, stall time.Duration) (*swarm.Set, error) {
	set := swarm.NewSet(total)
	for next := uint32(0); next < total; {
		_ = s.SetReadDeadline(time.Now().Add(stall))
		t, p, err := fr.Next()
		if err != nil {
			return nil, err
		}
		if t == wire.TWait {
			continue
		}
		if t == wire.TError {
			if re, err := wire.DecodeError(p); err == nil {
				return nil, re
			}
		}
		if t != wire.THaveMap {
			return nil, fmt.Errorf("%w: %v where a have-map was due", ErrPeerMisbehaving, t)
		}
		h, err := wire.DecodeHaveMap(p, total)
		if err != nil || h.Start != next {
			return nil, fmt.Errorf("%w: have-map from chunk %d when %d was due (%v)", ErrPeerMisbehaving, h.Start, next, err)
		}
		if err := set.AddHaveMap(h); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrPeerMisbehaving, err)
		}
		next += h.Span
	}
	_ = s.SetReadDeadline(time.Time{})
	return set, nil
}

// followHaves reads the HaveUpdate frames after the maps and passes them to
// p, until the source closes the stream (it holds everything) or fails. A
// source that sends nothing, not even Wait, for stall is dropped.
func followHaves(s deadlineReader, fr *wire.Reader, total uint32, p *swarm.Peer, stall time.Duration) error {
	var idx []uint32
	for {
		_ = s.SetReadDeadline(time.Now().Add(stall))
		t, pl, err := fr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			p.Leave(err)
			return err
		}
		switch t {
		case wire.TWait:
			continue
		case wire.THaveUpdate:
			if idx, err = wire.DecodeHaveUpdate(pl, total, idx[:0]); err == nil {
				err = p.Have(idx...)
			}
		default:
			err = fmt.Errorf("%v where a have-update was due", t)
		}
		if err != nil {
			err = fmt.Errorf("%w: %v", ErrPeerMisbehaving, err)
			p.Leave(err)
			return err
		}
	}
}
