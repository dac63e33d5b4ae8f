package engine

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/pcp-p2p/pcp/auth"
	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/manifest"
)

// streamClient is a receiver of a stream offer spoken by hand: the
// sender's side is tested frame by frame, without the engine's receiver.
type streamClient struct {
	t    *testing.T
	ctx  context.Context
	h    host.Host
	id   peer.ID
	sess [32]byte
	info wire.StreamInfo
}

// acceptStream authenticates with the sender at addrs, reads its stream
// offer and accepts it.
func acceptStream(t *testing.T, ctx context.Context, addrs []string, pass auth.Passphrase) *streamClient {
	t.Helper()
	h, id := attacker(t, ctx, addrs)
	s, err := openStream(ctx, h, id, wire.Open{Kind: wire.KindControl})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(watchdog))
	sess, err := auth.Handshake(ctx, s, auth.Config{Role: auth.RoleReceiver, Passphrase: pass,
		LocalID: []byte(h.ID()), RemoteID: []byte(id)})
	if err != nil {
		t.Fatal(err)
	}
	fr := wire.NewReader(s)
	var p []byte
	for {
		var ty wire.Type
		if ty, p, err = fr.Next(); err != nil {
			t.Fatal(err)
		}
		if ty == wire.TManifestInfo {
			break
		}
		if ty != wire.TWait {
			t.Fatalf("%v before ManifestInfo", ty)
		}
	}
	mi, err := wire.DecodeManifestInfo(p)
	if err != nil || !mi.Stream() || mi.Entries != 0 {
		t.Fatalf("ManifestInfo %+v (%v), want a stream", mi, err)
	}
	if p, err = fr.Expect(wire.TStreamInfo); err != nil {
		t.Fatal(err)
	}
	info, err := wire.DecodeStreamInfo(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := wire.WriteFrame(s, wire.TAccept, nil); err != nil {
		t.Fatal(err)
	}
	return &streamClient{t: t, ctx: ctx, h: h, id: id, sess: sess.ID, info: info}
}

func (c *streamClient) open(kind uint8) (network.Stream, *wire.Reader) {
	c.t.Helper()
	s, err := openStream(c.ctx, c.h, c.id, wire.Open{Kind: kind, Session: c.sess})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { s.Reset() })
	_ = s.SetDeadline(time.Now().Add(watchdog))
	return s, wire.NewReader(s)
}

// announcements reads one announcement stream's frames: every hash from
// chunk 0 until stop says so (after each Announce), or to StreamEnd.
type announcements struct {
	s      network.Stream
	fr     *wire.Reader
	hashes []manifest.Hash
	end    *wire.StreamEnd
	waits  int
}

func (c *streamClient) announcements() *announcements {
	s, fr := c.open(wire.KindManifest)
	return &announcements{s: s, fr: fr}
}

// until reads until stop(a) holds or the stream ends; a's error is the
// sender's Error frame, or any other failure.
func (a *announcements) until(stop func(*announcements) bool) error {
	buf := make([]manifest.Hash, wire.MaxAnnounce)
	for !stop(a) {
		ty, p, err := a.fr.Next()
		if err != nil {
			return err
		}
		switch ty {
		case wire.TWait:
			a.waits++
		case wire.TAnnounce:
			an, err := wire.DecodeAnnounce(p, buf)
			if err != nil {
				return err
			}
			if int(an.First) != len(a.hashes) {
				return errors.New("an Announce that does not start at the next chunk")
			}
			a.hashes = append(a.hashes, an.Hashes...)
		case wire.TStreamEnd:
			e, err := wire.DecodeStreamEnd(p)
			if err != nil {
				return err
			}
			a.end = &e
			return nil
		case wire.TError:
			re, err := wire.DecodeError(p)
			if err != nil {
				return err
			}
			return re
		default:
			return errors.New("unexpected " + ty.String())
		}
	}
	return nil
}

func (a *announcements) toEnd() error {
	return a.until(func(*announcements) bool { return false })
}

func announced(n int) func(*announcements) bool {
	return func(a *announcements) bool { return len(a.hashes) >= n }
}

// fetch asks for chunk i on data stream s and returns its bytes, or the
// sender's Error frame.
func fetch(s network.Stream, fr *wire.Reader, i uint32) ([]byte, error) {
	if err := wire.WriteFrame(s, wire.TRequest, wire.AppendRequest(nil, []wire.Ref{{Chunk: i}})); err != nil {
		return nil, err
	}
	p, err := fr.Expect(wire.TChunk)
	if err != nil {
		return nil, err
	}
	h, data, err := wire.DecodeChunk(p)
	if err != nil {
		return nil, err
	}
	if h.Chunk != i || h.Entry != 0 {
		return nil, errors.New("a chunk other than the one asked for")
	}
	if h.Enc == wire.EncZstd {
		d, err := zstd.NewReader(nil)
		if err != nil {
			return nil, err
		}
		defer d.Close()
		return d.DecodeAll(data, nil)
	}
	return append([]byte(nil), data...), nil
}

// finish sends Done on a data stream and reads the sender's DoneAck.
func finishStream(t *testing.T, s network.Stream, fr *wire.Reader) {
	t.Helper()
	if err := wire.WriteFrame(s, wire.TDone, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := fr.Expect(wire.TDoneAck); err != nil {
		t.Fatal(err)
	}
	s.Close()
}

// endless is an input that never ends by itself: a deterministic byte
// pattern, counting what was read, until closed.
type endless struct {
	read   chan int64 // the running count, after each Read (latest wins)
	n      int64
	closed chan struct{}
}

func newEndless() *endless {
	return &endless{read: make(chan int64, 1), closed: make(chan struct{})}
}

func (e *endless) Read(p []byte) (int, error) {
	select {
	case <-e.closed:
		return 0, io.EOF
	default:
	}
	for i := range p {
		p[i] = byte((e.n + int64(i)) * 7)
	}
	e.n += int64(len(p))
	select {
	case <-e.read:
	default:
	}
	e.read <- e.n
	return len(p), nil
}
