package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/host"

	"github.com/pcp-p2p/pcp/engine/p2p"
	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/manifest"
)

// Serving a stream offer (streamsend.go): the hooks sender.go,
// manifeststream.go, servedata.go, receivers.go and send.go call when the
// server has a stream instead of a manifest.

// maxAnnounceStreams bounds the announcement streams one session may hold
// open at once: one, and one more that replaces it after a drop the
// sender has not seen yet.
const maxAnnounceStreams = 2

// announceWriteTimeout bounds one announcement frame's write: a receiver
// that stops reading its announcements is cut off.
const announceWriteTimeout = 2 * time.Minute

// prepareStream publishes the stream offer and reads the input to its end.
func (s *server) prepareStream(ctx context.Context, opts SendOptions) error {
	close(s.ready)
	return s.stream.run(ctx, opts.Stdin)
}

// offerStream declares the stream on an authenticated control stream
// (ManifestInfo with FlagStream, then StreamInfo) and reads the decision.
func (s *server) offerStream(ctx context.Context, rw io.ReadWriteCloser, fr *wire.Reader, ss *srvSession) error {
	return s.decide(ctx, rw, fr, ss, func() error {
		info := wire.ManifestInfo{Flags: wire.FlagStream}
		if err := wire.WriteFrame(rw, wire.TManifestInfo, info.Append(nil)); err != nil {
			return err
		}
		return wire.WriteFrame(rw, wire.TStreamInfo, s.stream.info.Append(nil))
	})
}

// serveAnnouncements sends a session's KindManifest stream everything
// announceable from chunk 0: Announce frames as chunks are read, Wait while
// the input is idle, StreamEnd at its end. A chunk no longer held (no
// spool) is answered with Error CodeGone.
func (s *server) serveAnnouncements(ctx context.Context, rw io.ReadWriteCloser, ss *srvSession) error {
	st := s.stream
	if !st.enter(ss.id) {
		_ = wire.WriteFrame(rw, wire.TError, wire.AppendError(nil, wire.CodeBusy, "too many announcement streams"))
		return fmt.Errorf("%w: more than %d announcement streams", wire.ErrBusy, maxAnnounceStreams)
	}
	defer st.leave(ss.id)
	// A stream whose input is idle may have no data stream open for long:
	// its announcements keep the session from being reaped as gone.
	s.streamOpened(ss)
	defer s.streamClosed(ss)
	write := func(t wire.Type, p []byte) error {
		return within(ctx, rw, announceWriteTimeout, func() error { return wire.WriteFrame(rw, t, p) })
	}
	hashes := make([]manifest.Hash, wire.MaxAnnounce)
	var frame []byte
	wait := time.NewTimer(st.waitEvery)
	defer wait.Stop()
	for next := uint64(0); ; {
		chunks, _, end, more := st.state()
		if next < chunks {
			k := min(chunks-next, wire.MaxAnnounce)
			if err := st.keep.hashes(next, hashes[:k]); err != nil {
				if errors.Is(err, wire.ErrGone) {
					_ = write(wire.TError, wire.AppendError(nil, wire.CodeGone, err.Error()))
				}
				return err
			}
			var err error
			if frame, err = wire.AppendAnnounce(frame[:0], wire.Announce{First: uint32(next), Hashes: hashes[:k]}); err != nil {
				return err
			}
			if err := write(wire.TAnnounce, frame); err != nil {
				return err
			}
			next += k
			wait.Reset(st.waitEvery)
			continue
		}
		if end != nil {
			if err := write(wire.TStreamEnd, end.Append(nil)); err != nil {
				return err
			}
			return closeWrite(rw)
		}
		select {
		case <-more:
		case <-wait.C:
			if err := write(wire.TWait, nil); err != nil {
				return err
			}
			wait.Reset(st.waitEvery)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// enter counts an announcement stream of session id, or refuses it.
func (st *streamSource) enter(id [32]byte) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.streams[id] >= maxAnnounceStreams {
		return false
	}
	st.streams[id]++
	return true
}

func (st *streamSource) leave(id [32]byte) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.streams[id]--; st.streams[id] <= 0 {
		delete(st.streams, id)
	}
}

// serveStream serves chunk r.Chunk of the stream: announced chunks only,
// from the keeper, checked against its hash again, compressed as for files.
func (c *chunkServer) serveStream(ctx context.Context, w io.Writer, r wire.Ref) error {
	st := c.s.stream
	n, ok := st.chunkLen(uint64(r.Chunk))
	if r.Entry != 0 || !ok {
		return fmt.Errorf("%w: chunk %d/%d of a stream not announced", wire.ErrBadRequest, r.Entry, r.Chunk)
	}
	sl, err := c.s.getSlot(ctx, w)
	if err != nil {
		return err
	}
	defer c.s.putSlot(sl)
	raw := sl.buf[chunkFrameHead : chunkFrameHead+n]
	want, err := st.keep.read(uint64(r.Chunk), raw)
	if err != nil {
		return err
	}
	// The spool is a file anyone with this user's rights can write:
	// never send a chunk the receiver would reject as corrupt.
	if manifest.HashChunk(raw) != want {
		return fmt.Errorf("chunk %d of the spool changed on disk since it was written", r.Chunk)
	}
	wireLen, err := c.sendChunk(ctx, w, r, sl, raw)
	if err != nil {
		return err
	}
	st.keep.served(uint64(r.Chunk))
	_, size, end, _ := st.state()
	c.sess.served(int64(n), wireLen, end != nil && uint64(r.Chunk) == manifest.StreamChunks(size, c.cs)-1)
	return nil
}

// chunkSize is the offer's chunk size: the stream's or the manifest's.
func (s *server) chunkSize() uint32 {
	if s.stream != nil {
		return s.stream.cs
	}
	return s.src.Table.ChunkSize()
}

// streamSummary is a stream offer's Summary: what was read, and served.
func (s *server) streamSummary() Summary {
	_, size, _, _ := s.stream.state()
	return Summary{Root: s.stream.rootString(), Files: 1, ManifestBytes: int64(size),
		WireBytes: s.wireServed.Load(), FetchedBytes: s.rawServed.Load(), ChunksFetched: s.chunksServed.Load(),
		Duration: time.Since(s.start), Streams: s.maxStreams}
}

// streamSessionSummary is what session ss of a stream offer was sent.
func (s *server) streamSessionSummary(ss *srvSession) Summary {
	sum := s.streamSummary()
	sum.WireBytes, sum.FetchedBytes, sum.ChunksFetched = ss.stats.wire.Load(), ss.stats.raw.Load(), ss.stats.chunks.Load()
	sum.Duration, sum.Path, sum.Transport, sum.Streams, sum.Receivers = time.Since(ss.stats.start), ss.path, ss.transport, 0, 1
	return sum
}

// rootString is the stream's root in hex once it has ended, else "".
func (st *streamSource) rootString() string {
	if _, _, end, _ := st.state(); end != nil {
		return end.Root.String()
	}
	return ""
}

// streamProgress reports each session of a stream offer: what it was
// sent (Bytes) of what has been read so far (TotalBytes; StreamOpen until
// the input ends).
func (s *server) streamProgress(h host.Host) {
	_, size, end, _ := s.stream.state()
	s.mu.Lock()
	type line struct {
		ss      *srvSession
		streams int
	}
	lines := make([]line, 0, len(s.sessions))
	for _, ss := range s.sessions {
		lines = append(lines, line{ss, s.serving.perSession[ss.id]})
	}
	s.mu.Unlock()
	for _, l := range lines {
		ss := l.ss
		s.events(ProgressEvent{Receiver: ss.rid, Peer: ss.peer.String(), Receivers: len(lines),
			Bytes: ss.stats.raw.Load(), TotalBytes: int64(size), WireBytes: ss.stats.wire.Load(),
			Files: int(min(ss.stats.files.Load(), 1)), FilesTotal: 1, StreamOpen: end == nil,
			Path: p2p.PathOf(h, ss.peer), Transport: p2p.TransportOf(h, ss.peer), Streams: l.streams})
	}
}
