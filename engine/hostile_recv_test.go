package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/pcp-p2p/pcp/auth"
	"github.com/pcp-p2p/pcp/engine/p2p"
	"github.com/pcp-p2p/pcp/engine/swarm"
	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/manifest"
)

// rsTree is a one-file tree a recvSender serves from memory.
type rsTree struct {
	m    *manifest.Manifest
	enc  []byte // the manifest's canonical encoding
	data []byte // the file's bytes
	root manifest.Hash
}

func newRSTree(t testing.TB) *rsTree {
	t.Helper()
	const cs = manifest.MinChunkSize
	data := make([]byte, 3*cs+100) // four chunks
	rand.Read(data)
	var hs []manifest.Hash
	for off := 0; off < len(data); off += cs {
		hs = append(hs, manifest.HashChunk(data[off:min(off+cs, len(data))]))
	}
	m := &manifest.Manifest{ChunkSize: cs, Entries: []manifest.Entry{{
		Path: "f", Kind: manifest.KindFile, Mode: 0o644, MTime: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano(),
		Size: int64(len(data)), Chunks: hs,
	}}}
	var b bytes.Buffer
	if err := manifest.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return &rsTree{m: m, enc: b.Bytes(), data: data, root: m.Root()}
}

func (tr *rsTree) info() wire.ManifestInfo {
	return wire.ManifestInfo{Entries: 1, Encoded: uint64(len(tr.enc)), FileBytes: uint64(len(tr.data))}
}

// recvSender speaks the protocol as a sender (PAKE, manifest, chunks) up to
// a chosen point of misbehaviour, and counts the data streams opened to it.
type recvSender struct {
	t    *testing.T
	tree *rsTree
	pass auth.Passphrase
	// control runs on the control stream after PAKE; data on every data
	// stream after its Open. Nil means honest.
	control func(rs *recvSender, s network.Stream, fr *wire.Reader)
	data    func(rs *recvSender, s network.Stream, fr *wire.Reader)

	opens    atomic.Int64 // data streams opened
	declined atomic.Bool  // the receiver answered the manifest with Decline
	addrs    []string
}

func (rs *recvSender) start() *recvSender {
	t := rs.t
	if rs.control == nil {
		rs.control = (*recvSender).honestControl
	}
	if rs.data == nil {
		rs.data = (*recvSender).honestData
	}
	h, err := p2p.NewHost(p2p.HostOptions{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}})
	if err != nil {
		t.Fatal(err)
	}
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
		if o.Kind == wire.KindHave { // the swarm path asks; a sender holds it all
			var total uint32
			for _, e := range rs.tree.m.Entries {
				total += uint32(len(e.Chunks))
			}
			_ = writeHaveMaps(s, swarm.FullSet(total))
			return
		}
		if o.Kind == wire.KindData {
			rs.opens.Add(1)
			rs.data(rs, s, fr)
			return
		}
		if _, err := auth.Handshake(context.Background(), s, auth.Config{Role: auth.RoleSender, Passphrase: rs.pass,
			LocalID: []byte(h.ID()), RemoteID: []byte(s.Conn().RemotePeer())}); err != nil {
			return
		}
		rs.control(rs, s, fr)
	})
	rs.addrs = fullAddrs(h)
	return rs
}

// drain reads until the receiver ends the stream: a handler that
// misbehaved waits here, so that it is the receiver that gives up.
func drain(s network.Stream) { _, _ = io.Copy(io.Discard, s) }

// sendDeclared sends m as an honest sender would: its ManifestInfo, its
// encoding and ManifestEnd (for harnesses that then misbehave elsewhere).
func sendDeclared(w io.Writer, m *manifest.Manifest) error {
	var b bytes.Buffer
	if err := manifest.Encode(&b, m); err != nil {
		return err
	}
	info := wire.ManifestInfo{Entries: uint64(len(m.Entries)), Encoded: uint64(b.Len()), FileBytes: uint64(m.TotalSize())}
	if err := sendInfo(w, info); err != nil {
		return err
	}
	if err := sendManifest(w, b.Bytes()); err != nil {
		return err
	}
	root := m.Root()
	return wire.WriteFrame(w, wire.TManifestEnd, root[:])
}

func sendInfo(w io.Writer, info wire.ManifestInfo) error {
	return wire.WriteFrame(w, wire.TManifestInfo, info.Append(nil))
}

func sendManifest(w io.Writer, enc []byte) error {
	mw := wire.NewManifestWriter(w)
	if _, err := mw.Write(enc); err != nil {
		return err
	}
	return mw.Flush()
}

// finishControl sends ManifestEnd and reads the receiver's answer.
func (rs *recvSender) finishControl(s network.Stream, fr *wire.Reader) {
	if wire.WriteFrame(s, wire.TManifestEnd, rs.tree.root[:]) != nil {
		return
	}
	if t, _, err := fr.Next(); err == nil && t == wire.TDecline {
		rs.declined.Store(true)
	}
}

func (rs *recvSender) honestControl(s network.Stream, fr *wire.Reader) {
	if sendDeclared(s, rs.tree.m) != nil {
		return
	}
	if t, _, err := fr.Next(); err == nil && t == wire.TDecline {
		rs.declined.Store(true)
	}
}

// honestData answers every Request with its chunks, raw, and Done with
// DoneAck.
func (rs *recvSender) honestData(s network.Stream, fr *wire.Reader) {
	var refs []wire.Ref
	cs := int(rs.tree.m.ChunkSize)
	for {
		t, p, err := fr.Next()
		if err != nil {
			return
		}
		switch t {
		case wire.TDone:
			_ = wire.WriteFrame(s, wire.TDoneAck, nil)
			drain(s)
			return
		case wire.TRequest:
			if refs, err = wire.DecodeRequest(p, refs); err != nil {
				return
			}
			for _, r := range refs {
				off := int(r.Chunk) * cs
				d := rs.tree.data[off:min(off+cs, len(rs.tree.data))]
				payload := append(wire.AppendChunkHeader(nil, wire.ChunkHeader{Ref: r, Enc: wire.EncRaw, RawLen: uint32(len(d))}), d...)
				if wire.WriteFrame(s, wire.TChunk, payload) != nil {
					return
				}
			}
		}
	}
}

// misbehaveOnRequest returns a data handler that waits for the receiver's
// first Request and answers it with act (raw bytes), then drains.
func misbehaveOnRequest(act []byte) func(*recvSender, network.Stream, *wire.Reader) {
	return func(rs *recvSender, s network.Stream, fr *wire.Reader) {
		if _, err := fr.Expect(wire.TRequest); err != nil {
			return
		}
		if _, err := s.Write(act); err != nil {
			return
		}
		drain(s)
	}
}

func errorFrame(code wire.Code, msg string) []byte {
	var b bytes.Buffer
	_ = wire.WriteFrame(&b, wire.TError, wire.AppendError(nil, code, msg))
	return b.Bytes()
}

// rsReceive runs Receive against rs with the test's tweaks to the options.
func rsReceive(t *testing.T, rs *recvSender, tweak func(*ReceiveOptions)) (string, error) {
	t.Helper()
	base := t.TempDir()
	dest := filepath.Join(base, "dest")
	ro := recvOpts(rs.pass, dest, rs.addrs)
	ro.ResumeLogPath = filepath.Join(base, "state", "resume.db")
	ro.manifestIdle = 2 * time.Second
	if tweak != nil {
		tweak(&ro)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, err := Receive(ctx, ro)
	t.Logf("Receive: %v", err)
	if ctx.Err() != nil {
		t.Fatalf("Receive did not return before the test's deadline: %v", err)
	}
	return dest, err
}

// TestHostileRecvHonest checks the harness itself: an honest recvSender,
// including one that says Wait for longer than the receiver's manifest
// deadline while it "hashes", delivers the file.
func TestHostileRecvHonest(t *testing.T) {
	waits := func(rs *recvSender, s network.Stream, fr *wire.Reader) {
		// Wait frames ten times as often as the receiver needs them, for
		// two and a half of its deadlines: without them it would give up.
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for range 25 {
			<-tick.C
			if wire.WriteFrame(s, wire.TWait, nil) != nil {
				return
			}
		}
		rs.honestControl(s, fr)
	}
	for name, control := range map[string]func(*recvSender, network.Stream, *wire.Reader){"at once": nil, "after waits": waits} {
		t.Run(name, func(t *testing.T) {
			tree := newRSTree(t)
			rs := (&recvSender{t: t, tree: tree, pass: testPass(t), control: control}).start()
			dest, err := rsReceive(t, rs, nil)
			if err != nil {
				t.Fatalf("Receive: %v", err)
			}
			got, err := os.ReadFile(filepath.Join(dest, "f"))
			if err != nil || !bytes.Equal(got, tree.data) {
				t.Fatalf("the file did not arrive intact (err %v)", err)
			}
		})
	}
}

// TestHostileRecvManifestStalls: a sender that goes quiet or trickles at any
// point of the manifest exchange gets ErrInterrupted once the manifest
// deadline passes without progress, not a receiver that waits for ever
// (issue 10, class 8: over 600 s, with neither --timeout nor --patience
// applying).
func TestHostileRecvManifestStalls(t *testing.T) {
	cases := map[string]func(*recvSender, network.Stream, *wire.Reader){
		"silent after PAKE": func(rs *recvSender, s network.Stream, fr *wire.Reader) { drain(s) },
		"stall mid-manifest": func(rs *recvSender, s network.Stream, fr *wire.Reader) {
			if sendInfo(s, rs.tree.info()) == nil && sendManifest(s, rs.tree.enc[:len(rs.tree.enc)/2]) == nil {
				drain(s)
			}
		},
		"no ManifestEnd": func(rs *recvSender, s network.Stream, fr *wire.Reader) {
			if sendInfo(s, rs.tree.info()) == nil && sendManifest(s, rs.tree.enc) == nil {
				drain(s)
			}
		},
		"trickle": func(rs *recvSender, s network.Stream, fr *wire.Reader) {
			// A byte every 100 ms: the whole manifest would take many
			// deadlines. The trickle is the misbehaviour, not a wait.
			if sendInfo(s, rs.tree.info()) != nil {
				return
			}
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for _, b := range rs.tree.enc {
				<-tick.C
				if wire.WriteFrame(s, wire.TManifest, []byte{b}) != nil {
					return
				}
			}
			rs.finishControl(s, fr)
		},
	}
	for name, control := range cases {
		t.Run(name, func(t *testing.T) {
			rs := (&recvSender{t: t, tree: newRSTree(t), pass: testPass(t), control: control}).start()
			_, err := rsReceive(t, rs, nil)
			if !errors.Is(err, ErrInterrupted) || errors.Is(err, ErrPeerMisbehaving) {
				t.Fatalf("err = %v, want ErrInterrupted", err)
			}
			if rs.opens.Load() != 0 {
				t.Fatalf("%d data streams opened before a manifest arrived", rs.opens.Load())
			}
		})
	}
}

// TestHostileRecvEndlessManifest: a sender that declares a small manifest
// and then streams valid entries without end is stopped as misbehaving
// once it passes its declaration, with the few MiB that stream buffers
// hold written, not gigabytes (issue 10, class 8: 3.5-10 GB of temporary
// files in 90 s).
func TestHostileRecvEndlessManifest(t *testing.T) {
	const giveUp = 256 << 20 // a failing receiver must not keep the test writing for ever
	var written atomic.Int64
	var stopped atomic.Bool // the writes ended in an error: the receiver reset the stream
	done := make(chan struct{})
	endless := func(rs *recvSender, s network.Stream, fr *wire.Reader) {
		defer close(done)
		if sendInfo(s, rs.tree.info()) != nil {
			return
		}
		cw := &countWriter{w: wire.NewManifestWriter(s), n: &written}
		enc := manifest.NewEncoder(cw, manifest.DefaultChunkSize)
		for i := 0; written.Load() < giveUp; i++ {
			if err := enc.Add(&manifest.Entry{Path: fmt.Sprintf("d%012d", i), Kind: manifest.KindDir, Mode: 0o755}); err != nil {
				stopped.Store(true)
				return
			}
		}
		drain(s)
	}
	rs := (&recvSender{t: t, tree: newRSTree(t), pass: testPass(t), control: endless}).start()
	_, err := rsReceive(t, rs, nil)
	if !errors.Is(err, ErrPeerMisbehaving) {
		t.Fatalf("err = %v, want ErrPeerMisbehaving", err)
	}
	// The handler may still be writing into its buffers when Receive
	// returns; it stops at the reset.
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("the endless sender never stopped")
	}
	if !stopped.Load() || written.Load() > 64<<20 {
		t.Fatalf("the endless manifest wrote %d bytes (stopped by the receiver: %v)", written.Load(), stopped.Load())
	}
}

type countWriter struct {
	w *wire.ManifestWriter
	n *atomic.Int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	if err == nil {
		err = c.w.Flush()
	}
	c.n.Add(int64(n))
	return n, err
}

// TestHostileRecvManifestDeclaration: the receiver holds the sender to its
// ManifestInfo, refuses absurd declarations before it stores anything, and
// refuses an offer that does not fit in its free space.
func TestHostileRecvManifestDeclaration(t *testing.T) {
	lie := func(f func(*wire.ManifestInfo)) func(*recvSender, network.Stream, *wire.Reader) {
		return func(rs *recvSender, s network.Stream, fr *wire.Reader) {
			info := rs.tree.info()
			f(&info)
			if sendInfo(s, info) == nil && sendManifest(s, rs.tree.enc) == nil {
				rs.finishControl(s, fr)
			}
		}
	}
	manifestOnly := func(free int64) func(*ReceiveOptions) {
		return func(ro *ReceiveOptions) {
			ro.freeSpace = func(string) (int64, bool) { return free, true }
		}
	}
	cases := []struct {
		name    string
		control func(*recvSender, network.Stream, *wire.Reader)
		tweak   func(*ReceiveOptions)
		want    error
	}{
		{"more entries than sent", lie(func(i *wire.ManifestInfo) { i.Entries++ }), nil, ErrPeerMisbehaving},
		{"fewer entries than sent", lie(func(i *wire.ManifestInfo) { i.Entries-- }), nil, ErrPeerMisbehaving},
		{"fewer manifest bytes", lie(func(i *wire.ManifestInfo) { i.Encoded-- }), nil, ErrPeerMisbehaving},
		{"more manifest bytes", lie(func(i *wire.ManifestInfo) { i.Encoded++ }), nil, ErrPeerMisbehaving},
		{"fewer file bytes", lie(func(i *wire.ManifestInfo) { i.FileBytes-- }), nil, ErrPeerMisbehaving},
		{"more file bytes", lie(func(i *wire.ManifestInfo) { i.FileBytes++ }), nil, ErrPeerMisbehaving},
		{"absurd entries", lie(func(i *wire.ManifestInfo) { i.Entries = 1 << 40 }), nil, ErrPeerMisbehaving},
		{"absurd encoding", lie(func(i *wire.ManifestInfo) { i.Encoded = 1 << 40 }), nil, ErrPeerMisbehaving},
		{"encoding entries cannot have", lie(func(i *wire.ManifestInfo) { i.Encoded = 1 << 30 }), nil, ErrPeerMisbehaving},
		{"manifest before info", func(rs *recvSender, s network.Stream, fr *wire.Reader) {
			if sendManifest(s, rs.tree.enc) == nil {
				rs.finishControl(s, fr)
			}
		}, nil, ErrPeerMisbehaving},
		{"manifest beyond free space", nil, manifestOnly(100), ErrNoSpace},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rs := (&recvSender{t: t, tree: newRSTree(t), pass: testPass(t), control: c.control}).start()
			_, err := rsReceive(t, rs, c.tweak)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if c.want == ErrNoSpace && (errors.Is(err, ErrPeerMisbehaving) || !errors.Is(err, ErrInterrupted)) {
				t.Fatalf("err = %v: no space is resumable, not the peer's fault", err)
			}
			if rs.opens.Load() != 0 {
				t.Fatalf("%d data streams opened for a refused manifest", rs.opens.Load())
			}
		})
	}
}

// TestHostileRecvDestinationSpace: an offer whose missing bytes exceed the
// destination's free space stops, resumably, before any data moves; the
// sender is not told Decline, so it can serve a later run.
func TestHostileRecvDestinationSpace(t *testing.T) {
	rs := (&recvSender{t: t, tree: newRSTree(t), pass: testPass(t)}).start()
	var dest string
	_, err := rsReceive(t, rs, func(ro *ReceiveOptions) {
		dest = ro.Dest
		ro.freeSpace = func(dir string) (int64, bool) {
			if strings.HasPrefix(dir, dest) {
				return 1000, true
			}
			return 1 << 40, true
		}
	})
	if !errors.Is(err, ErrNoSpace) || !errors.Is(err, ErrInterrupted) || !strings.Contains(err.Error(), "which has 1000 free") {
		t.Fatalf("err = %v, want ErrInterrupted and ErrNoSpace for the destination", err)
	}
	if rs.declined.Load() || rs.opens.Load() != 0 {
		t.Fatalf("sender saw Decline: %v; data streams: %d", rs.declined.Load(), rs.opens.Load())
	}
}

// TestHostileRecvDataViolations: a protocol violation on a data stream ends
// the session at once as ErrPeerMisbehaving, with one stream per worker,
// where the receiver used to re-open streams 30,000-170,000 times (issue
// 10, class 9). A changed source still ends as ErrSourceChanged.
func TestHostileRecvDataViolations(t *testing.T) {
	limit, _ := wire.MaxPayload(wire.TChunk)
	oversized := binary.BigEndian.AppendUint32([]byte{byte(wire.TChunk)}, uint32(limit+1))
	errorEvery := func(rs *recvSender, s network.Stream, fr *wire.Reader) {
		for {
			if _, err := fr.Expect(wire.TRequest); err != nil {
				return
			}
			if _, err := s.Write(errorFrame(wire.CodeInternal, "no")); err != nil {
				return
			}
		}
	}
	var wrongChunk bytes.Buffer
	_ = wire.WriteFrame(&wrongChunk, wire.TChunk, append(wire.AppendChunkHeader(nil, wire.ChunkHeader{Ref: wire.Ref{Entry: 0, Chunk: 3}, RawLen: 1}), 7))
	cases := []struct {
		name string
		data func(*recvSender, network.Stream, *wire.Reader)
		want error
	}{
		{"oversized chunk", misbehaveOnRequest(oversized), ErrPeerMisbehaving},
		{"unknown frame type", misbehaveOnRequest([]byte{99, 0, 0, 0, 0}), ErrPeerMisbehaving},
		{"frame of another stream", misbehaveOnRequest([]byte{byte(wire.TAccept), 0, 0, 0, 0}), ErrPeerMisbehaving},
		{"chunk out of order", misbehaveOnRequest(wrongChunk.Bytes()), ErrPeerMisbehaving},
		{"error for every request", errorEvery, ErrPeerMisbehaving},
		{"bad request error", misbehaveOnRequest(errorFrame(wire.CodeBadRequest, "no")), ErrPeerMisbehaving},
		{"unknown error code", misbehaveOnRequest(errorFrame(999, "no")), ErrPeerMisbehaving},
		{"source changed", misbehaveOnRequest(errorFrame(wire.CodeSourceChange, "f")), wire.ErrSourceChanged},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rs := (&recvSender{t: t, tree: newRSTree(t), pass: testPass(t), data: c.data}).start()
			_, err := rsReceive(t, rs, nil)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if c.want == wire.ErrSourceChanged && errors.Is(err, ErrPeerMisbehaving) {
				t.Fatalf("err = %v: a changed source is not misbehaviour", err)
			}
			if n := rs.opens.Load(); n < 1 || n > DefaultStreams {
				t.Fatalf("%d data streams opened, want 1..%d (one per worker)", n, DefaultStreams)
			}
		})
	}
}

// TestHostileRecvResetEveryStream: a sender that resets every data stream
// at once is a transient failure as far as the receiver can tell, so it
// ends as ErrInterrupted after Patience; but the re-opens back off, so they
// number a few per worker, not thousands.
func TestHostileRecvResetEveryStream(t *testing.T) {
	reset := func(rs *recvSender, s network.Stream, fr *wire.Reader) { s.Reset() }
	rs := (&recvSender{t: t, tree: newRSTree(t), pass: testPass(t), data: reset}).start()
	_, err := rsReceive(t, rs, func(ro *ReceiveOptions) { ro.Patience = 2 * time.Second })
	if !errors.Is(err, ErrInterrupted) || errors.Is(err, ErrPeerMisbehaving) {
		t.Fatalf("err = %v, want ErrInterrupted", err)
	}
	// 100 ms doubling: about six opens per worker within 2 s of patience.
	t.Logf("%d data streams opened", rs.opens.Load())
	if n := rs.opens.Load(); n < DefaultStreams || n >= 50 {
		t.Fatalf("%d data streams opened, want %d..49", n, DefaultStreams)
	}
}

// TestHostileRecvBusyIsTransient: a sender that refuses streams as Busy
// (its stream limits) is retried with backoff, and the transfer completes
// once it admits them; Busy is not a violation.
func TestHostileRecvBusyIsTransient(t *testing.T) {
	var refused atomic.Int64
	busyFirst := func(rs *recvSender, s network.Stream, fr *wire.Reader) {
		if refused.Add(1) <= 2*DefaultStreams {
			misbehaveOnRequest(errorFrame(wire.CodeBusy, "busy"))(rs, s, fr)
			return
		}
		rs.honestData(s, fr)
	}
	tree := newRSTree(t)
	rs := (&recvSender{t: t, tree: tree, pass: testPass(t), data: busyFirst}).start()
	dest, err := rsReceive(t, rs, nil)
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	if got, err := os.ReadFile(filepath.Join(dest, "f")); err != nil || !bytes.Equal(got, tree.data) {
		t.Fatalf("the file did not arrive intact (err %v)", err)
	}
	if n := rs.opens.Load(); n <= 2*DefaultStreams {
		t.Fatalf("%d data streams opened: the refused ones were not retried", n)
	}
}
