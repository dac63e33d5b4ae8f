package engine

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/pcp-p2p/pcp/engine/p2p"
	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/manifest"
)

// The manifest on its own stream. A public relay carries about 128 KiB per
// circuit, for meeting: PAKE fits, a manifest of a few thousand files does
// not, and a circuit cut mid-manifest leaves nothing to resume. So when the
// control stream runs on a meeting-only connection, the sender declares the
// manifest with wire.FlagManifestStream and does not send it there; the
// receiver opens a KindManifest stream of the session once a path that can
// carry data exists (the sender's hole punch, or a transfer relay), within
// NoPathWait, and reads the manifest from it. The decision still comes on
// the control stream.

// meetingOnly reports whether the stream rw runs on a connection that may
// carry PAKE and coordination but not bulk bytes (p2p.TransferGrade). A
// stream that is not a libp2p stream (tests' pipes) is never so.
func meetingOnly(rw io.ReadWriteCloser) bool {
	ns, ok := rw.(network.Stream)
	return ok && !p2p.TransferGrade(ns.Conn())
}

// writeManifest sends the manifest's encoding as Manifest frames and its
// ManifestEnd.
func writeManifest(w io.Writer, t *manifest.Table, root manifest.Hash) error {
	mw := wire.NewManifestWriter(w)
	if _, err := io.Copy(mw, t.Encoding()); err != nil {
		return err
	}
	if err := mw.Flush(); err != nil {
		return err
	}
	return wire.WriteFrame(w, wire.TManifestEnd, root[:])
}

// serveManifest sends the manifest on a KindManifest stream: only to the
// peer that authenticated the session, only once, and only when the
// session's ManifestInfo said so. The send is bounded like the control
// stream's.
func (s *server) serveManifest(ctx context.Context, rw io.ReadWriteCloser, id [32]byte, remote peer.ID) error {
	ss := s.sessionOf(id, remote)
	if ss == nil {
		return fmt.Errorf("%w: manifest stream for an unknown session", ErrPeerMisbehaving)
	}
	if s.stream != nil {
		return s.serveAnnouncements(ctx, rw, ss) // streamserve.go
	}
	if !ss.manifestPending.CompareAndSwap(true, false) {
		return fmt.Errorf("%w: manifest stream not announced, or asked for twice", ErrPeerMisbehaving)
	}
	return within(ctx, rw, s.timeouts.decision, func() error {
		if err := writeManifest(rw, s.src.Table, s.root); err != nil {
			return err
		}
		return closeWrite(rw)
	})
}

// closeWrite ends the write side of a stream (all of it, for other
// io.ReadWriteClosers).
func closeWrite(rw io.ReadWriteCloser) error {
	if cw, ok := rw.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// manifestStreamFunc opens the stream a manifest declared with
// FlagManifestStream travels on; nil where none can be opened.
type manifestStreamFunc func() (deadlineReadCloser, error)

type deadlineReadCloser interface {
	deadlineReader
	io.Closer
}

// manifestOpener returns the manifestStreamFunc of session id with peer p:
// it opens a KindManifest stream, which like a data stream never runs on a
// meeting-only connection, waiting up to wait for a path; ErrNoPath when
// only meeting-only connections remain by then.
func manifestOpener(ctx context.Context, h host.Host, p peer.ID, id [32]byte, wait time.Duration) manifestStreamFunc {
	return func() (deadlineReadCloser, error) {
		deadline := time.Now().Add(wait)
		for {
			cctx, cancel := context.WithDeadline(ctx, deadline)
			s, err := openStream(cctx, h, p, wire.Open{Kind: wire.KindManifest, Session: id})
			cancel()
			if err == nil {
				return s, nil
			}
			switch {
			case ctx.Err() != nil:
				return nil, fmt.Errorf("%w: %w", ErrInterrupted, ctx.Err())
			case time.Now().Before(deadline):
				// The connection changed under the open (a punch
				// replacing a relay): try again on what is there now.
				select {
				case <-time.After(250 * time.Millisecond):
				case <-ctx.Done():
				}
			case p2p.MeetingOnly(h, p):
				return nil, fmt.Errorf("%w (waited %v for a hole punch before the manifest)", ErrNoPath, wait)
			default:
				return nil, fmt.Errorf("%w: opening the manifest stream: %v", ErrInterrupted, err)
			}
		}
	}
}
