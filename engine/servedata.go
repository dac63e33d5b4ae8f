package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/pcp-p2p/pcp/engine/p2p"
	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/manifest"
)

func (s *server) serveData(ctx context.Context, rw io.ReadWriter, fr *wire.Reader, id [32]byte, remote peer.ID) error {
	s.mu.Lock()
	ss := s.sessions[id]
	s.mu.Unlock()
	if ss == nil || ss.peer != remote {
		_ = wire.WriteFrame(rw, wire.TError, wire.AppendError(nil, wire.CodeUnknownSess, "unknown session"))
		return wire.ErrUnknownSession
	}
	select {
	case <-s.ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.mu.Lock()
	s.dataStreams++
	s.maxStreams = max(s.maxStreams, s.dataStreams)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.dataStreams--
		s.mu.Unlock()
	}()
	cs := newChunkServer(s)
	defer cs.close()
	var refs []wire.Ref
	for {
		t, p, err := fr.Next()
		if err != nil {
			return err
		}
		switch t {
		case wire.TRequest:
			if refs, err = wire.DecodeRequest(p, refs); err != nil {
				return err
			}
			for _, r := range refs {
				if err := cs.serve(rw, r); err != nil {
					_ = wire.WriteFrame(rw, wire.TError, wire.AppendError(nil, wire.CodeOf(err), err.Error()))
					return err
				}
			}
		case wire.TDone:
			if ns, ok := rw.(interface{ Conn() network.Conn }); ok {
				ss.path = p2p.PathDirect
				if p2p.IsRelayed(ns.Conn()) {
					ss.path = p2p.PathRelayed
				}
			}
			if err := wire.WriteFrame(rw, wire.TDoneAck, nil); err != nil {
				return err
			}
			// Wait for the receiver to close, so the ack is delivered
			// before the sender exits.
			if d, ok := rw.(interface{ SetReadDeadline(time.Time) error }); ok {
				_ = d.SetReadDeadline(time.Now().Add(5 * time.Second))
			}
			_, _, _ = fr.Next()
			ss.done.Do(func() {
				select {
				case s.finished <- ss:
				default:
				}
			})
			return nil
		default:
			return fmt.Errorf("%w: unexpected %v on a data stream", wire.ErrFrame, t)
		}
	}
}

// chunkServer reads, compresses and writes chunks for one stream. It keeps
// the file it last read open, since requests come in file order.
type chunkServer struct {
	s     *server
	t     *manifest.Table
	cs    uint32
	comp  *compressor
	buf   []byte // header room + one chunk
	zbuf  []byte
	entry int
	f     *os.File
}

const chunkFrameHead = wire.HeaderSize + 13

// handshakeTimeout bounds a PAKE exchange (it takes milliseconds), so a
// silent peer cannot hold a stream open.
const handshakeTimeout = 30 * time.Second

func newChunkServer(s *server) *chunkServer {
	t := s.src.Table
	cs := t.ChunkSize()
	return &chunkServer{
		s:     s,
		t:     t,
		cs:    cs,
		comp:  newCompressor(),
		buf:   make([]byte, chunkFrameHead+int(cs)),
		zbuf:  make([]byte, 0, chunkFrameHead+int(cs)+int(cs)/64+1024),
		entry: -1,
	}
}

func (c *chunkServer) close() {
	if c.f != nil {
		c.f.Close()
	}
	c.comp.enc.Close()
}

func (c *chunkServer) open(i int, e *manifest.Entry) error {
	if c.entry == i {
		return nil
	}
	if c.f != nil {
		c.f.Close()
		c.f = nil
		c.entry = -1
	}
	local, err := c.s.src.Local(i)
	if err != nil {
		return err
	}
	f, err := os.Open(local)
	if err != nil {
		return fmt.Errorf("%w: %s: cannot open", wire.ErrSourceChanged, e.Path)
	}
	st, err := f.Stat()
	if err != nil || st.Size() != e.Size || st.ModTime().UnixNano() != e.MTime {
		f.Close()
		return fmt.Errorf("%w: %s", wire.ErrSourceChanged, e.Path)
	}
	c.f, c.entry = f, i
	return nil
}

func (c *chunkServer) serve(w io.Writer, r wire.Ref) error {
	if int64(r.Entry) >= int64(c.t.Len()) {
		return fmt.Errorf("%w: entry %d out of range", wire.ErrBadRequest, r.Entry)
	}
	e, err := c.t.Entry(int(r.Entry))
	if err != nil {
		return err
	}
	if e.Kind != manifest.KindFile || int64(r.Chunk) >= manifest.ChunkCount(e.Size, c.cs) {
		return fmt.Errorf("%w: chunk %d/%d out of range", wire.ErrBadRequest, r.Entry, r.Chunk)
	}
	if err := c.open(int(r.Entry), &e); err != nil {
		return err
	}
	n := manifest.ChunkLen(e.Size, c.cs, int64(r.Chunk))
	raw := c.buf[chunkFrameHead : chunkFrameHead+int(n)]
	if _, err := c.f.ReadAt(raw, int64(r.Chunk)*int64(c.cs)); err != nil {
		return fmt.Errorf("%w: %s: %v", wire.ErrSourceChanged, e.Path, errors.Unwrap(err))
	}
	if c.s.tamper != nil {
		c.s.tamper(r, raw)
	}
	frame := c.buf[:chunkFrameHead+int(n)]
	enc := wire.EncRaw
	if c.comp.shouldTry() {
		if z, ok := c.comp.compress(c.zbuf[:chunkFrameHead], raw); ok {
			frame, enc = z, wire.EncZstd
		}
	}
	fillChunkHead(frame, r, enc, uint32(n))
	if _, err := w.Write(frame); err != nil {
		return err
	}
	c.comp.wrote(int(n), time.Now())
	c.s.chunksServed.Add(1)
	c.s.rawServed.Add(n)
	c.s.wireServed.Add(int64(len(frame) - chunkFrameHead))
	return nil
}

// fillChunkHead writes the frame header and the chunk header in front of the
// data already placed at frame[chunkFrameHead:].
func fillChunkHead(frame []byte, r wire.Ref, enc uint8, rawLen uint32) {
	frame[0] = byte(wire.TChunk)
	binary.BigEndian.PutUint32(frame[1:], uint32(len(frame)-wire.HeaderSize))
	wire.AppendChunkHeader(frame[wire.HeaderSize:wire.HeaderSize], wire.ChunkHeader{Ref: r, Enc: enc, RawLen: rawLen})
}
