package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/manifest"
)

// fetchWorker keeps one data stream busy with the stream's announced
// chunks until none is left. Each round requests a batch and reads it;
// a chunk is verified against its announcement before it is handed on.
// A stream that breaks is opened again (the chunks it owed go back), as
// streamWorker does for files; a violation or CodeGone ends the receive.
func (s *streamRecv) fetchWorker(ctx context.Context, op streamOpener, batch int, stall, patience time.Duration) error {
	dec, err := newChunkDecoder(uint64(s.cs))
	if err != nil {
		return err
	}
	defer dec.Close()
	var again reopening
	for first := true; ; first = false {
		refs, err := s.take(ctx, batch)
		if err != nil || len(refs) == 0 {
			return err
		}
		s.requeue(refs) // taken only to know there is work: the stream takes again
		if !first {
			s.reconnects.Add(1)
		}
		rw, err := op.openData(ctx)
		if err != nil {
			return err
		}
		rw = s.limit.reader(ctx, rw)
		got, err := s.runData(ctx, rw, dec, batch, stall)
		rw.Close()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, wire.ErrGone) {
			return fmt.Errorf("%w: %w", ErrStreamGone, err)
		}
		if err := again.wait(ctx, err, got > 0, time.Unix(0, s.lastData.Load()), patience); err != nil {
			return err
		}
	}
}

// runData requests and reads batches on one data stream until nothing is
// left (nil) or the stream fails; what it owed goes back to the queue.
func (s *streamRecv) runData(ctx context.Context, rw io.ReadWriteCloser, dec *zstd.Decoder, batch int, stall time.Duration) (got int, err error) {
	stop := context.AfterFunc(ctx, func() { abort(rw) })
	defer stop()
	fr := wire.NewReader(rw)
	dl, _ := rw.(interface{ SetReadDeadline(time.Time) error })
	req := make([]wire.Ref, 0, batch)
	var owed []uint64
	defer func() { s.requeue(owed) }()
	for {
		refs, err := s.take(ctx, batch)
		if err != nil || len(refs) == 0 {
			return got, err
		}
		owed = refs
		req = req[:0]
		for _, i := range refs {
			req = append(req, wire.Ref{Entry: 0, Chunk: uint32(i)})
		}
		if err := wire.WriteFrame(rw, wire.TRequest, wire.AppendRequest(nil, req)); err != nil {
			return got, err
		}
		for len(owed) > 0 {
			if dl != nil {
				_ = dl.SetReadDeadline(time.Now().Add(stall))
			}
			p, err := fr.Expect(wire.TChunk)
			if err != nil {
				return got, err
			}
			if err := s.accept(p, owed[0], dec); err != nil {
				return got, err
			}
			owed = owed[1:]
			got++
		}
	}
}

// accept decodes, verifies and delivers chunk i from a Chunk payload.
func (s *streamRecv) accept(p []byte, i uint64, dec *zstd.Decoder) error {
	h, data, err := wire.DecodeChunk(p)
	if err != nil || h.Entry != 0 || uint64(h.Chunk) != i {
		return fmt.Errorf("%w: chunk %v when chunk %d of the stream was due (%v)", ErrPeerMisbehaving, h.Ref, i, err)
	}
	want, exact, _ := s.hashOf(i)
	n := int64(h.RawLen)
	if n < 1 || n > s.cs || exact != 0 && n != exact {
		return fmt.Errorf("%w: chunk %d of the stream claims %d bytes", ErrPeerMisbehaving, i, n)
	}
	s.wire.Add(int64(len(data)))
	b := s.buf()
	switch h.Enc {
	case wire.EncZstd:
		out, derr := dec.DecodeAll(data, b)
		if derr != nil || int64(len(out)) != n {
			s.putBuf(b)
			return fmt.Errorf("%w: chunk %d of the stream does not decompress to its %d bytes", ErrPeerMisbehaving, i, n)
		}
		b = out
	default:
		if int64(len(data)) != n {
			s.putBuf(b)
			return fmt.Errorf("%w: chunk %d of the stream has %d bytes and claims %d", ErrPeerMisbehaving, i, len(data), n)
		}
		b = append(b, data...)
	}
	if manifest.HashChunk(b) != want {
		s.putBuf(b)
		return fmt.Errorf("%w: chunk %d of the stream does not match its announcement", ErrPeerMisbehaving, i)
	}
	if err := s.deliver(i, b); err != nil {
		s.putBuf(b)
		return err
	}
	s.chunks.Add(1)
	s.lastData.Store(time.Now().UnixNano())
	return nil
}
