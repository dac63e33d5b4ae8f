package engine

import (
	"context"
	"encoding/binary"
	"io"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/pcp-p2p/pcp/auth"
	"github.com/pcp-p2p/pcp/engine/p2p"
	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/manifest"
)

// heapInuse is the live heap: two collections, so that buffers parked in
// a sync.Pool (kept for one cycle in its victim cache) are not counted.
func heapInuse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// TestSenderMemoryWithUnreadStreams: a receiver that authenticates, opens
// 64 data streams, asks for 64 MiB on each and never reads them. Before
// the sender pooled its chunk buffers and encoders and bounded streams per
// session, each stream cost it ~4.8 MB (64 streams: 343 MB). Now streams
// past MaxStreams are refused with wire.CodeBusy, and the admitted ones
// share the sender's chunk slots: the heap stays within 64 MiB of where it
// was, however many streams were asked for.
//
// The receiver is a libp2p host with yamux's default 256 KiB stream
// window, not pcp's 4 MiB one: its own unread buffers (at most 16 x 256
// KiB) then stay small beside the sender's, which is what is measured. With
// pcp's window they reach 16 x 4 MiB, the receiver's own memory, and how
// much of it had arrived when the heap was read was a matter of timing.
func TestSenderMemoryWithUnreadStreams(t *testing.T) {
	dir := t.TempDir()
	const fileChunks = 16
	writeRandom(t, filepath.Join(dir, "big.bin"), fileChunks<<20)
	pass := testPass(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	newHost := func() host.Host {
		h, err := p2p.NewHost(p2p.HostOptions{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	sh := newHost()
	rh, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableMetrics())
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	defer rh.Close()

	srv := newServer(pass, sh.ID(), 3, nil, discard(nil))
	slotWait := make(chan struct{})
	var waitOnce sync.Once
	srv.serving.onWait = func() { waitOnce.Do(func() { close(slotWait) }) }
	sctx, stopServer := context.WithCancel(ctx)
	var handlers sync.WaitGroup
	sh.SetStreamHandler(wire.ProtocolID, func(s network.Stream) {
		handlers.Add(1)
		defer handlers.Done()
		srv.handle(sctx, s, s.Conn().RemotePeer(), "")
	})
	src, err := manifest.Walk(ctx, []string{filepath.Join(dir, "big.bin")}, manifest.WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv.setSource(src)
	defer func() {
		stopServer()
		handlers.Wait()
		src.Close()
	}()

	if err := rh.Connect(ctx, peer.AddrInfo{ID: sh.ID(), Addrs: sh.Addrs()}); err != nil {
		t.Fatal(err)
	}
	ctl, err := openStream(ctx, rh, sh.ID(), wire.Open{Kind: wire.KindControl})
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Reset()
	sess, err := auth.Handshake(ctx, ctl, auth.Config{Role: auth.RoleReceiver, Passphrase: pass,
		LocalID: []byte(rh.ID()), RemoteID: []byte(sh.ID())})
	if err != nil {
		t.Fatal(err)
	}
	before := heapInuse()

	// Every stream asks for the whole file four times: 64 MiB.
	refs := make([]wire.Ref, 0, 4*fileChunks)
	for i := range cap(refs) {
		refs = append(refs, wire.Ref{Entry: 0, Chunk: uint32(i % fileChunks)})
	}
	req := wire.AppendRequest(nil, refs)
	const streams = 64
	first := make(chan wire.Type, streams) // the first frame's type, per stream
	var readers sync.WaitGroup
	defer readers.Wait()
	for range streams {
		s, err := openStream(ctx, rh, sh.ID(), wire.Open{Kind: wire.KindData, Session: sess.ID})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Reset()
		if err := wire.WriteFrame(s, wire.TRequest, req); err != nil {
			t.Fatal(err)
		}
		readers.Add(1)
		go func() {
			defer readers.Done()
			// Only the first frame's header, and an Error's payload: a
			// chunk's data is never read, so the window never opens.
			var hdr [wire.HeaderSize]byte
			if _, err := io.ReadFull(s, hdr[:]); err != nil {
				return
			}
			if wire.Type(hdr[0]) == wire.TError {
				p := make([]byte, binary.BigEndian.Uint32(hdr[1:]))
				if _, err := io.ReadFull(s, p); err != nil {
					return
				}
				if e, err := wire.DecodeError(p); err != nil || e.Code != wire.CodeBusy {
					t.Errorf("refused with %v, %v; want CodeBusy", e, err)
				}
			}
			first <- wire.Type(hdr[0])
		}()
	}
	// Streams past the bound are refused; the rest stay open, unread.
	for refused := 0; refused < streams-MaxStreams; {
		select {
		case ty := <-first:
			if ty == wire.TError {
				refused++
			}
		case <-ctx.Done():
			t.Fatalf("only %d of %d streams past the bound of %d were refused", refused, streams-MaxStreams, MaxStreams)
		}
	}
	// And every chunk slot is pinned by a write the receiver never reads.
	select {
	case <-slotWait:
	case <-ctx.Done():
		t.Fatal("no stream ever waited for a chunk slot")
	}
	after := heapInuse()
	srv.mu.Lock()
	refused, open := srv.serving.refused, srv.serving.open
	srv.mu.Unlock()
	grew := int64(after) - int64(before)
	t.Logf("%d streams: %d admitted, %d refused; sender+receiver heap grew %.1f MiB (%d chunk slots)",
		streams, open, refused, float64(grew)/(1<<20), slotCount(src.Table.ChunkSize()))
	if refused != streams-MaxStreams || open != MaxStreams {
		t.Errorf("%d streams admitted, %d refused; want %d and %d", open, refused, MaxStreams, streams-MaxStreams)
	}
	if grew > 64<<20 {
		t.Errorf("heap grew by %.1f MiB with %d unread streams; the bound is 64 MiB", float64(grew)/(1<<20), streams)
	}
}
