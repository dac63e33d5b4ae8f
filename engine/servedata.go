package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/pcp-p2p/pcp/engine/p2p"
	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/manifest"
)

func (s *server) serveData(ctx context.Context, rw io.ReadWriter, fr *wire.Reader, id [32]byte, remote peer.ID) error {
	ss := s.sessionOf(id, remote)
	if ss == nil {
		_ = wire.WriteFrame(rw, wire.TError, wire.AppendError(nil, wire.CodeUnknownSess, "unknown session"))
		return wire.ErrUnknownSession
	}
	select {
	case <-s.ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	// A write blocked on a receiver that stopped reading must end with the
	// sender: closing the stream would wait for it, resetting it does not.
	if r, ok := rw.(interface{ Reset() error }); ok {
		stop := context.AfterFunc(ctx, func() { _ = r.Reset() })
		defer stop()
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
	s.streamOpened(ss)
	defer s.streamClosed(ss)
	cs := newChunkServer(s)
	cs.sess = ss
	defer cs.close()
	// A stream counts against the limits from its first Request, so the
	// stream that carries only Done is never refused.
	admitted := false
	defer func() {
		if admitted {
			s.release(id)
		}
	}()
	var refs []wire.Ref
	cw := &coalescer{w: rw}
	for {
		t, p, err := fr.Next()
		if err != nil {
			return err
		}
		switch t {
		case wire.TRequest:
			if !admitted {
				if err := s.admit(id); err != nil {
					_ = wire.WriteFrame(rw, wire.TError, wire.AppendError(nil, wire.CodeBusy, err.Error()))
					return err
				}
				admitted = true
			}
			if refs, err = wire.DecodeRequest(p, refs); err != nil {
				return err
			}
			for _, r := range refs {
				if err := cs.serve(ctx, cw, r); err != nil {
					_ = cw.Flush() // the chunks served before it, then why
					return s.serveFailed(rw, fr, err)
				}
			}
			if err := cw.Flush(); err != nil {
				return err
			}
		case wire.TDone:
			if len(p) == 1 && p[0]&^wire.DoneSelected != 0 {
				return fmt.Errorf("%w: Done flags %#x", wire.ErrFrame, p[0])
			}
			ss.selected = len(p) == 1 && p[0]&wire.DoneSelected != 0
			if ns, ok := rw.(interface{ Conn() network.Conn }); ok {
				ss.path = p2p.PathDirect
				if p2p.IsRelayed(ns.Conn()) {
					ss.path = p2p.PathRelayed
				}
				ss.transport = p2p.ConnTransport(ns.Conn())
			}
			if err := wire.WriteFrame(rw, wire.TDoneAck, nil); err != nil {
				return err
			}
			// Wait for the receiver to close, so the ack is delivered
			// before the sender exits.
			waitHangUp(rw, fr)
			ss.done.Do(func() {
				select {
				case s.finished <- ss: // Send counts it (receivers.go)
				case <-ctx.Done():
				}
			})
			return nil
		default:
			return fmt.Errorf("%w: unexpected %v on a data stream", wire.ErrFrame, t)
		}
	}
}

// serveFailed tells the receiver why a chunk was not served. A changed
// source ends the transfer on both sides: the receiver gets the manifest
// path, the sender's user an event, and Send returns the error once the
// receiver has hung up (so the Error frame is not lost with the host).
func (s *server) serveFailed(rw io.ReadWriter, fr *wire.Reader, err error) error {
	var sc *SourceChangedError
	if errors.Is(err, context.Canceled) {
		return err // this sender is stopping: not the receiver's fault, and resumable
	}
	if !errors.As(err, &sc) {
		_ = wire.WriteFrame(rw, wire.TError, wire.AppendError(nil, wire.CodeOf(err), err.Error()))
		return err
	}
	_ = wire.WriteFrame(rw, wire.TError, wire.AppendError(nil, wire.CodeSourceChange, sc.Path))
	emit(s.events, SourceChangedEvent{Path: sc.Path})
	waitHangUp(rw, fr)
	s.failFatal(err)
	return err
}

// waitHangUp waits, briefly, for the receiver to close the stream.
func waitHangUp(rw io.ReadWriter, fr *wire.Reader) {
	if d, ok := rw.(interface{ SetReadDeadline(time.Time) error }); ok {
		_ = d.SetReadDeadline(time.Now().Add(5 * time.Second))
	}
	_, _, _ = fr.Next()
}

// SourceChangedError is the sender's ErrSourceChanged: the file at manifest
// path Path no longer matches what was hashed.
type SourceChangedError struct{ Path string }

func (e *SourceChangedError) Error() string {
	return fmt.Sprintf("%s changed on disk since it was hashed; it was not sent", e.Path)
}

func (e *SourceChangedError) Unwrap() error { return wire.ErrSourceChanged }

// SourceChangedPath returns the manifest path an ErrSourceChanged error
// names, on the sender (a *SourceChangedError) or on the receiver (the
// sender's Error frame carries the path as its message). The path is the
// peer's text: escape it before printing.
func SourceChangedPath(err error) (string, bool) {
	var sc *SourceChangedError
	if errors.As(err, &sc) {
		return sc.Path, true
	}
	var re *wire.RemoteError
	if errors.As(err, &re) && re.Code == wire.CodeSourceChange {
		return re.Msg, true
	}
	return "", false
}

// chunkServer reads, verifies, compresses and writes chunks for one stream.
// It keeps the file it last read open, since requests come in file order.
// Its buffers are borrowed from the server's slots chunk by chunk.
type chunkServer struct {
	s     *server
	sess  *srvSession // whose stream this is, for its counters
	t     *manifest.Table
	cs    uint32
	comp  *compressor
	entry int
	f     *os.File
}

const chunkFrameHead = wire.HeaderSize + 13

// handshakeTimeout bounds a PAKE exchange (it takes milliseconds), so a
// silent peer cannot hold a stream open.
const handshakeTimeout = 30 * time.Second

func newChunkServer(s *server) *chunkServer {
	if s.stream != nil {
		return &chunkServer{s: s, cs: s.stream.cs, comp: newCompressor(), entry: -1}
	}
	t := s.src.Table
	return &chunkServer{s: s, t: t, cs: t.ChunkSize(), comp: newCompressor(), entry: -1}
}

func (c *chunkServer) close() {
	if c.f != nil {
		c.f.Close()
	}
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
	f, err := manifest.OpenLocal(local)
	if err != nil {
		return &SourceChangedError{Path: e.Path}
	}
	st, err := f.Stat()
	if err != nil || st.Size() != e.Size || st.ModTime().UnixNano() != e.MTime {
		f.Close()
		return &SourceChangedError{Path: e.Path}
	}
	c.f, c.entry = f, i
	return nil
}

func (c *chunkServer) serve(ctx context.Context, w io.Writer, r wire.Ref) error {
	if c.s.stream != nil {
		return c.serveStream(ctx, w, r) // streamserve.go
	}
	if c.s.seed != nil {
		return c.serveSeed(ctx, w, r) // seed.go
	}
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
	sl, err := c.s.getSlot(ctx, w)
	if err != nil {
		return err
	}
	defer c.s.putSlot(sl)
	n := manifest.ChunkLen(e.Size, c.cs, int64(r.Chunk))
	raw := sl.buf[chunkFrameHead : chunkFrameHead+int(n)]
	if _, err := c.f.ReadAt(raw, int64(r.Chunk)*int64(c.cs)); err != nil {
		return &SourceChangedError{Path: e.Path}
	}
	// A file overwritten in place after it was hashed keeps its size and
	// may keep its mtime: only the bytes tell. Never send a chunk the
	// receiver would reject as corrupt (and blame the sender for).
	want, err := c.t.ChunkHash(int(r.Entry), int64(r.Chunk))
	if err != nil {
		return err
	}
	if manifest.HashChunk(raw) != want {
		return &SourceChangedError{Path: e.Path}
	}
	wireLen, err := c.sendChunk(ctx, w, r, sl, raw)
	if err != nil {
		return err
	}
	c.s.files.served(r, manifest.ChunkCount(e.Size, c.cs))
	c.sess.served(n, wireLen, lastChunk(e.Size, c.cs, r.Chunk))
	return nil
}

// sendChunk compresses a verified chunk, raw (in sl's buffer at
// chunkFrameHead), when it pays, frames it, writes it and counts it; it
// returns its bytes on the wire. Files, streams and seeds share it.
func (c *chunkServer) sendChunk(ctx context.Context, w io.Writer, r wire.Ref, sl *chunkSlot, raw []byte) (int64, error) {
	if c.s.tamper != nil {
		c.s.tamper(r, raw)
	}
	n := len(raw)
	frame := sl.buf[:chunkFrameHead+n]
	enc := wire.EncRaw
	var busy time.Duration
	if c.comp.shouldTry() {
		start := time.Now()
		z, ok := c.comp.compress(sl.encoder(c.cs, c.comp.level), sl.zbuf[:chunkFrameHead], raw)
		if ok {
			frame, enc = z, wire.EncZstd
		}
		busy = time.Since(start)
	}
	fillChunkHead(frame, r, enc, uint32(n))
	if c.s.limit != nil {
		if err := flushHeld(w); err != nil { // nothing held waits on the limit
			return 0, err
		}
		if err := c.s.limit.wait(ctx, len(frame)); err != nil {
			return 0, err
		}
	}
	if _, err := w.Write(frame); err != nil {
		return 0, err
	}
	wireLen := int64(len(frame) - chunkFrameHead)
	c.comp.wrote(n, int(wireLen), busy, time.Now())
	c.s.chunksServed.Add(1)
	c.s.rawServed.Add(int64(n))
	c.s.wireServed.Add(wireLen)
	return wireLen, nil
}

// fillChunkHead writes the frame header and the chunk header in front of the
// data already placed at frame[chunkFrameHead:].
func fillChunkHead(frame []byte, r wire.Ref, enc uint8, rawLen uint32) {
	frame[0] = byte(wire.TChunk)
	binary.BigEndian.PutUint32(frame[1:], uint32(len(frame)-wire.HeaderSize))
	wire.AppendChunkHeader(frame[wire.HeaderSize:wire.HeaderSize], wire.ChunkHeader{Ref: r, Enc: enc, RawLen: rawLen})
}

func skipReason(err error) string {
	return strings.TrimPrefix(err.Error(), "manifest: ")
}
