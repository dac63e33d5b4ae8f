package engine

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pcp-p2p/pcp/auth"
	"github.com/pcp-p2p/pcp/discovery"
	"github.com/pcp-p2p/pcp/engine/p2p"
	"github.com/pcp-p2p/pcp/engine/swarm"
	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/manifest"
)

// swarmPeer authenticates with the sender at addrs, reads its manifest,
// accepts, and returns the manifest and a peerSource over the session.
func swarmPeer(t *testing.T, ctx context.Context, pass auth.Passphrase, addrs []string) (*manifest.Table, func(*swarm.Index) (*peerSource, *swarm.Set)) {
	t.Helper()
	h, err := newHost(loopback, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	infos, err := p2p.ParseAddrInfos(addrs)
	if err != nil {
		t.Fatal(err)
	}
	ap, err := tryCandidate(ctx, h, discovery.Candidate{Info: infos[0], Source: "direct"}, pass)
	if err != nil {
		t.Fatal(err)
	}
	tab, _, err := readManifest(ap.ctl, t.TempDir(), time.Minute, freeSpace, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tab.Close() })
	if err := wire.WriteFrame(ap.ctl, wire.TAccept, nil); err != nil {
		t.Fatal(err)
	}
	ap.ctl.Close()
	open := func(ctx context.Context) (io.ReadWriteCloser, error) {
		return openStream(ctx, h, ap.info.ID, wire.Open{Kind: wire.KindData, Session: ap.session.ID})
	}
	have := func(total uint32) *swarm.Set {
		hs, err := openStream(ctx, h, ap.info.ID, wire.Open{Kind: wire.KindHave, Session: ap.session.ID})
		if err != nil {
			t.Fatal(err)
		}
		defer hs.Close()
		fr := wire.NewReader(hs)
		set, err := readHaveMaps(hs, fr, total, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		// A sender holds everything: the maps are all it sends.
		if _, _, err := fr.Next(); err != io.EOF {
			t.Fatalf("after the have-maps: %v, want the end of the stream", err)
		}
		return set
	}
	return tab, func(idx *swarm.Index) (*peerSource, *swarm.Set) {
		return newPeerSource(open, tab, idx, MaxStreams, 30*time.Second), have(idx.Total())
	}
}

// TestSwarmFromTwoSenders fetches one tree from two real senders of the
// same files at once. One of them corrupts every chunk it serves: the
// scheduler drops it after MaxBad failures, the other delivers the rest,
// and the result is the exact bytes.
func TestSwarmFromTwoSenders(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	src := t.TempDir()
	writeRandom(t, filepath.Join(src, "a"), 3<<20+123)
	writeRandom(t, filepath.Join(src, "b"), 1<<20)
	pass := testPass(t)
	opts := SendOptions{Passphrase: pass, Paths: []string{src}, ChunkSize: manifest.MinChunkSize}
	good, _ := startSender(t, ctx, opts)
	opts.tamper = func(_ wire.Ref, b []byte) { b[0] ^= 1 }
	bad, _ := startSender(t, ctx, opts)

	tg, goodSrc := swarmPeer(t, ctx, pass, good)
	tb, badSrc := swarmPeer(t, ctx, pass, bad)
	if tg.Root() != tb.Root() {
		t.Fatal("two senders of the same files offer different roots")
	}
	idx, err := swarmIndex(tg)
	if err != nil {
		t.Fatal(err)
	}
	// What arrives goes to memory, by entry: the test checks the transport
	// and the scheduler, not the receiver's files.
	got := make([][]byte, tg.Len())
	for i := range got {
		e, _ := tg.Entry(i)
		got[i] = make([]byte, e.Size)
	}
	verify := func(i uint32, data []byte) (bool, error) {
		ref := idx.Ref(i)
		want, err := tg.ChunkHash(int(ref.Entry), int64(ref.Chunk))
		if err != nil {
			return false, err
		}
		if manifest.HashChunk(data) != want {
			return false, nil
		}
		copy(got[ref.Entry][int64(ref.Chunk)*int64(tg.ChunkSize()):], data)
		return true, nil
	}
	s := swarm.New(swarm.Want{Root: tg.Root(), Total: idx.Total(), ChunkSize: tg.ChunkSize()}, verify, swarm.Options{})
	gs, gHave := goodSrc(idx)
	bs, bHave := badSrc(idx)
	defer gs.close()
	defer bs.close()
	if n := gHave.Count(); n != int(idx.Total()) || bHave.Count() != n {
		t.Fatalf("senders' have-maps hold %d and %d of %d chunks", n, bHave.Count(), idx.Total())
	}
	pb, err := s.Add(tb.Root(), bHave, bs)
	if err != nil {
		t.Fatal(err)
	}
	pg, err := s.Add(tg.Root(), gHave, gs)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	for i := range got {
		e, _ := tg.Entry(i)
		if e.Kind != manifest.KindFile {
			continue
		}
		want, err := os.ReadFile(filepath.Join(src, e.Path))
		if err != nil {
			// The manifest's paths start at the directory's name.
			want, err = os.ReadFile(filepath.Join(filepath.Dir(src), e.Path))
		}
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got[i], want) {
			t.Errorf("%s: bytes differ", e.Path)
		}
	}
	bst, gst := pb.Stats(), pg.Stats()
	if !errors.Is(bst.Err, swarm.ErrTooManyBad) || bst.Bad < 3 || bst.Delivered != 0 {
		t.Errorf("corrupting source: %+v, want dropped after 3 bad chunks, none delivered", bst)
	}
	if gst.Err != nil || gst.Delivered != int(idx.Total()) {
		t.Errorf("good source: %+v, want all %d chunks", gst, idx.Total())
	}
}
