package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/pcp-p2p/pcp/auth"
	"github.com/pcp-p2p/pcp/engine/p2p"
	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/manifest"
)

// streamSender offers a stream held in memory and speaks the stream
// protocol as a sender does (PAKE, ManifestInfo + StreamInfo, the
// announcements on the session's manifest stream, chunks on data streams),
// up to the point a test makes it misbehave through its hooks.
type streamSender struct {
	t    *testing.T
	pass auth.Passphrase
	info wire.StreamInfo
	data []byte
	// announce runs on every manifest stream; nil = honest (all, then
	// StreamEnd). serve answers a request for chunk i; nil = honest.
	announce func(ss *streamSender, s network.Stream)
	serve    func(ss *streamSender, s network.Stream, i uint32) error
	// per is the hashes per Announce frame (0 = 3).
	per int

	h         interface{ Close() error }
	manifests atomic.Int64 // manifest streams opened
	served    atomic.Int64 // chunks served
	accepted  atomic.Bool
	addrs     []string
	mu        sync.Mutex
	onServe   func(n int64) // after each chunk served (n: served so far); nil = none
}

func newStreamSender(t *testing.T, data []byte, cs uint32) *streamSender {
	ss := &streamSender{t: t, pass: testPass(t), data: data}
	rand.Read(ss.info.ID[:])
	ss.info.ChunkSize, ss.info.Name, ss.info.Flags = cs, "stdin", wire.StreamSpooled
	return ss
}

// hashes are the chunk hashes of the stream's data.
func (ss *streamSender) hashes() []manifest.Hash {
	var hs []manifest.Hash
	cs := int(ss.info.ChunkSize)
	for off := 0; off < len(ss.data); off += cs {
		hs = append(hs, manifest.HashChunk(ss.data[off:min(off+cs, len(ss.data))]))
	}
	return hs
}

func (ss *streamSender) root() manifest.Hash {
	r, err := manifest.StreamRoot(ss.info.ChunkSize, uint64(len(ss.data)), ss.hashes())
	if err != nil {
		ss.t.Fatal(err)
	}
	return r
}

// announceAll sends hs from chunk first, per hashes a frame.
func (ss *streamSender) announceAll(s network.Stream, first int, hs []manifest.Hash) error {
	per := ss.per
	if per == 0 {
		per = 3
	}
	for i := 0; i < len(hs); i += per {
		b, err := wire.AppendAnnounce(nil, wire.Announce{First: uint32(first + i), Hashes: hs[i:min(i+per, len(hs))]})
		if err != nil {
			return err
		}
		if err := wire.WriteFrame(s, wire.TAnnounce, b); err != nil {
			return err
		}
	}
	return nil
}

func (ss *streamSender) honestAnnounce(s network.Stream) {
	if ss.announceAll(s, 0, ss.hashes()) != nil {
		return
	}
	end := wire.StreamEnd{Size: uint64(len(ss.data)), Root: ss.root()}
	_ = wire.WriteFrame(s, wire.TStreamEnd, end.Append(nil))
	_ = s.CloseWrite()
	drain(s)
}

func (ss *streamSender) honestServe(s network.Stream, i uint32) error {
	cs := int(ss.info.ChunkSize)
	off := int(i) * cs
	if off >= len(ss.data) {
		return wire.WriteFrame(s, wire.TError, wire.AppendError(nil, wire.CodeBadRequest, "not announced"))
	}
	c := ss.data[off:min(off+cs, len(ss.data))]
	p := wire.AppendChunkHeader(nil, wire.ChunkHeader{Ref: wire.Ref{Chunk: i}, Enc: wire.EncRaw, RawLen: uint32(len(c))})
	return wire.WriteFrame(s, wire.TChunk, append(p, c...))
}

func (ss *streamSender) start() *streamSender {
	t := ss.t
	if ss.announce == nil {
		ss.announce = (*streamSender).honestAnnounce
	}
	if ss.serve == nil {
		ss.serve = (*streamSender).honestServe
	}
	h, err := p2p.NewHost(p2p.HostOptions{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}})
	if err != nil {
		t.Fatal(err)
	}
	ss.h = h
	t.Cleanup(func() { h.Close() })
	h.SetStreamHandler(wire.ProtocolID, func(s network.Stream) {
		defer s.Close()
		fr := wire.NewReader(s)
		p, err := fr.Expect(wire.TOpen)
		if err != nil {
			return
		}
		o, err := wire.DecodeOpen(p)
		if err != nil {
			return
		}
		switch o.Kind {
		case wire.KindManifest:
			ss.manifests.Add(1)
			ss.announce(ss, s)
			return
		case wire.KindData:
			ss.dataStream(s, fr)
			return
		}
		if _, err := auth.Handshake(context.Background(), s, auth.Config{Role: auth.RoleSender, Passphrase: ss.pass,
			LocalID: []byte(h.ID()), RemoteID: []byte(s.Conn().RemotePeer())}); err != nil {
			return
		}
		info := wire.ManifestInfo{Flags: wire.FlagStream}
		if sendInfo(s, info) != nil || wire.WriteFrame(s, wire.TStreamInfo, ss.info.Append(nil)) != nil {
			return
		}
		if t, _, err := fr.Next(); err == nil && t == wire.TAccept {
			ss.accepted.Store(true)
		}
		drain(s)
	})
	ss.addrs = fullAddrs(h)
	return ss
}

func (ss *streamSender) dataStream(s network.Stream, fr *wire.Reader) {
	for {
		t, p, err := fr.Next()
		if err != nil || t != wire.TRequest {
			if t == wire.TDone {
				_ = wire.WriteFrame(s, wire.TDoneAck, nil)
			}
			return
		}
		refs, err := wire.DecodeRequest(p, nil)
		if err != nil {
			return
		}
		for _, r := range refs {
			if err := ss.serve(ss, s, r.Chunk); err != nil {
				return
			}
			n := ss.served.Add(1)
			ss.mu.Lock()
			f := ss.onServe
			ss.mu.Unlock()
			if f != nil {
				f(n)
			}
		}
	}
}

// streamOpts are receive options for ss with a short stall and idle.
func streamOpts(ss *streamSender, dest string) ReceiveOptions {
	ro := recvOpts(ss.pass, dest, ss.addrs)
	ro.Streams = 2
	ro.MaxInFlight = 8 * int64(ss.info.ChunkSize)
	return ro
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestStreamReceiveStdout(t *testing.T) {
	const cs = manifest.MinChunkSize
	data := randomBytes(20*cs + 123)
	ss := newStreamSender(t, data, cs).start()
	var out bytes.Buffer
	ro := streamOpts(ss, "")
	ro.Stdout = &out
	ro.ResumeLogPath = filepath.Join(t.TempDir(), "state", "resume.db")
	var offer StreamOfferEvent
	var peak uint64
	ro.Events = func(e Event) {
		if o, ok := e.(StreamOfferEvent); ok {
			offer = o
		}
	}
	ro.streamDone = func(s *streamRecv) { peak = s.peak }
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sum, err := Receive(ctx, ro)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("output of %d bytes differs from the stream's %d", out.Len(), len(data))
	}
	if sum.Root != ss.root().String() || sum.ManifestBytes != int64(len(data)) {
		t.Errorf("summary root %s size %d, want %s %d", sum.Root, sum.ManifestBytes, ss.root(), len(data))
	}
	if offer.Offer.Name != "stdin" || !offer.Offer.Spooled || !offer.Offer.Stdout {
		t.Errorf("offer event %+v", offer)
	}
	if peak == 0 || peak > 4 {
		t.Errorf("peak chunks ahead of the output = %d, want 1..4 (half the window)", peak)
	}
}

func TestStreamReceiveFile(t *testing.T) {
	const cs = manifest.MinChunkSize
	data := randomBytes(7*cs + 1)
	dest := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// An existing file of that name is a conflict: refused, left alone.
	ss := newStreamSender(t, data, cs)
	ss.info.Name = "log.txt"
	ss.start()
	writeFile(t, filepath.Join(dest, "log.txt"), []byte("mine"))
	if _, err := Receive(ctx, streamOpts(ss, dest)); !errors.Is(err, ErrExists) {
		t.Fatalf("err = %v, want ErrExists", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "log.txt")); string(b) != "mine" {
		t.Fatalf("the existing file was changed: %q", b)
	}
	if ss.accepted.Load() {
		t.Error("the conflicting offer was accepted")
	}

	// --overwrite replaces it; without a conflict it is simply written.
	for _, overwrite := range []bool{true, false} {
		if !overwrite {
			os.Remove(filepath.Join(dest, "log.txt"))
		}
		ss := newStreamSender(t, data, cs)
		ss.info.Name = "log.txt"
		ss.start()
		ro := streamOpts(ss, dest)
		ro.Overwrite = overwrite
		sum, err := Receive(ctx, ro)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(filepath.Join(dest, "log.txt")); !bytes.Equal(b, data) {
			t.Fatalf("overwrite=%v: the file differs from the stream", overwrite)
		}
		if sum.Root != ss.root().String() {
			t.Errorf("root %s, want %s", sum.Root, ss.root())
		}
		des, _ := os.ReadDir(dest)
		if len(des) != 1 {
			t.Errorf("destination holds %d entries, want only the file (staging removed)", len(des))
		}
	}
}

func TestStreamReceiveEmpty(t *testing.T) {
	ss := newStreamSender(t, nil, manifest.MinChunkSize).start()
	dest := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := Receive(ctx, streamOpts(ss, dest)); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(dest, "stdin")); err != nil || st.Size() != 0 {
		t.Fatalf("empty stream: %v, %v", st, err)
	}
}

// TestStreamReceiveDeclined: a declined stream offer leaves the
// destination as it was, and a partial of another stream there too.
func TestStreamReceiveDeclined(t *testing.T) {
	const cs = manifest.MinChunkSize
	dest := t.TempDir()
	stage := filepath.Join(dest, streamStage("stdin"))
	writeFile(t, filepath.Join(stage, streamStateFile), []byte("another stream's state"))
	writeFile(t, filepath.Join(stage, streamDataFile), []byte("another stream's prefix"))
	ss := newStreamSender(t, randomBytes(3*cs), cs).start()
	ro := streamOpts(ss, dest)
	var asked *StreamOffer
	ro.Confirm = func(o Offer) bool { asked = o.Stream; return false }
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := Receive(ctx, ro); !errors.Is(err, ErrDeclined) {
		t.Fatalf("err = %v, want ErrDeclined", err)
	}
	if asked == nil || asked.Name != "stdin" || !asked.Restarted {
		t.Fatalf("Confirm saw %+v, want the stream offer, restarting another's partial", asked)
	}
	if b, _ := os.ReadFile(filepath.Join(stage, streamDataFile)); string(b) != "another stream's prefix" {
		t.Fatalf("the other stream's partial changed: %q", b)
	}
	if ss.accepted.Load() {
		t.Fatal("the declined offer was accepted")
	}
	os.RemoveAll(stage)
	if _, err := Receive(ctx, ro); !errors.Is(err, ErrDeclined) {
		t.Fatalf("err = %v, want ErrDeclined", err)
	}
	if des, _ := os.ReadDir(dest); len(des) != 0 {
		t.Fatalf("a declined offer left %d entries in the destination", len(des))
	}
}
