package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/pcp-p2p/pcp/manifest"
)

// TestStreamReceiveReconnect cuts the connection mid-stream, while the
// announcements are still coming: the receiver opens the announcements
// again (checking them equal to the first sight) and new data streams,
// and the output is the stream, once.
func TestStreamReceiveReconnect(t *testing.T) {
	const cs = manifest.MinChunkSize
	data := randomBytes(96*cs + 5)
	ss := newStreamSender(t, data, cs)
	cutDone := make(chan struct{})
	ss.announce = func(ss *streamSender, s network.Stream) {
		if ss.manifests.Load() == 1 { // the first sight stops at chunk 40
			if ss.announceAll(s, 0, ss.hashes()[:40]) == nil {
				drain(s)
			}
			return
		}
		ss.honestAnnounce(s)
	}
	ss.start()
	target, id := tcpTarget(t, ss.addrs)
	px := newCutProxy(t, target)
	var once sync.Once
	ss.onServe = func(n int64) {
		if n == 30 {
			once.Do(func() { px.cut(); close(cutDone) })
		}
	}
	var out bytes.Buffer
	ro := streamOpts(ss, "")
	ro.Network.Direct = []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d/p2p/%s", px.port(), id)}
	ro.Stdout = &out
	ro.ResumeLogPath = filepath.Join(t.TempDir(), "resume.db")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sum, err := Receive(ctx, ro)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-cutDone:
	default:
		t.Fatal("the stream ended before the connection was cut")
	}
	if !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("output of %d bytes differs from the stream's %d", out.Len(), len(data))
	}
	if sum.Reconnects < 1 || ss.manifests.Load() < 2 {
		t.Fatalf("reconnects %d, manifest streams %d: want a reconnect and a second sight", sum.Reconnects, ss.manifests.Load())
	}
}

// TestStreamReceiveResumeFile interrupts a stream received into a file,
// then receives the same stream (the same id) again: it continues from
// the verified prefix, fetching less; another stream of the same name
// starts over and says so.
func TestStreamReceiveResumeFile(t *testing.T) {
	const cs = manifest.MinChunkSize
	data := randomBytes(64*cs + 9)
	dest := t.TempDir()
	total := int64(len(data)+cs-1) / cs

	// First run: stopped after 40 chunks were served.
	ss := newStreamSender(t, data, cs)
	ss.start()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rctx, stop := context.WithCancel(ctx)
	ss.onServe = func(n int64) {
		if n == 40 {
			stop()
		}
	}
	ro := streamOpts(ss, dest)
	if _, err := Receive(rctx, ro); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("first run: err = %v, want ErrInterrupted", err)
	}
	if _, err := os.Stat(filepath.Join(dest, "stdin")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("an interrupted stream reached the destination: %v", err)
	}

	// Second run, the same stream from a new sender process.
	ss2 := newStreamSender(t, data, cs)
	ss2.info = ss.info
	ss2.start()
	var offer StreamOffer
	ro = streamOpts(ss2, dest)
	ro.Events = func(e Event) {
		if o, ok := e.(StreamOfferEvent); ok {
			offer = o.Offer
		}
	}
	sum, err := Receive(ctx, ro)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "stdin")); !bytes.Equal(b, data) {
		t.Fatal("the resumed file differs from the stream")
	}
	if offer.ResumeBytes == 0 || sum.SkippedBytes != offer.ResumeBytes || ss2.served.Load() >= total {
		t.Fatalf("resumed %d bytes (summary %d), served %d of %d chunks: want a resume that fetches less",
			offer.ResumeBytes, sum.SkippedBytes, ss2.served.Load(), total)
	}
	if sum.FetchedBytes+sum.SkippedBytes != int64(len(data)) {
		t.Errorf("fetched %d + resumed %d != %d", sum.FetchedBytes, sum.SkippedBytes, len(data))
	}

	// Another stream named "stdin", interrupted, then a third: starts over.
	os.Remove(filepath.Join(dest, "stdin"))
	ss3 := newStreamSender(t, data, cs).start()
	rctx, stop = context.WithCancel(ctx)
	ss3.onServe = func(n int64) {
		if n == 20 {
			stop()
		}
	}
	if _, err := Receive(rctx, streamOpts(ss3, dest)); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("third run: err = %v, want ErrInterrupted", err)
	}
	other := randomBytes(5*cs + 1)
	ss4 := newStreamSender(t, other, cs).start()
	ro = streamOpts(ss4, dest)
	offer = StreamOffer{}
	ro.Events = func(e Event) {
		if o, ok := e.(StreamOfferEvent); ok {
			offer = o.Offer
		}
	}
	if _, err := Receive(ctx, ro); err != nil {
		t.Fatal(err)
	}
	if !offer.Restarted || offer.ResumeBytes != 0 {
		t.Fatalf("offer %+v: want a restart without resumed bytes", offer)
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "stdin")); !bytes.Equal(b, other) {
		t.Fatal("the restarted file differs from its stream")
	}
}

// TestStreamReceiveResumeDiffers: the same stream id whose announcements
// of the recorded prefix differ is a misbehaving sender, and the partial
// file stays as it was.
func TestStreamReceiveResumeDiffers(t *testing.T) {
	const cs = manifest.MinChunkSize
	data := randomBytes(32*cs + 9)
	dest := t.TempDir()
	ss := newStreamSender(t, data, cs).start()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rctx, stop := context.WithCancel(ctx)
	ss.onServe = func(n int64) {
		if n == 10 {
			stop()
		}
	}
	if _, err := Receive(rctx, streamOpts(ss, dest)); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("first run: err = %v, want ErrInterrupted", err)
	}
	staged := filepath.Join(dest, streamStage("stdin"), streamDataFile)
	before, _ := os.ReadFile(staged)
	if len(before) == 0 {
		t.Fatal("nothing was kept of the first run")
	}
	other := bytes.Clone(data)
	other[0] ^= 1
	ss2 := newStreamSender(t, other, cs)
	ss2.info = ss.info
	ss2.start()
	if _, err := Receive(ctx, streamOpts(ss2, dest)); !errors.Is(err, ErrPeerMisbehaving) {
		t.Fatalf("err = %v, want ErrPeerMisbehaving", err)
	}
	if after, _ := os.ReadFile(staged); !bytes.Equal(before, after) {
		t.Fatal("the partial file changed")
	}
}

// TestStreamReconnectRealSender: Send with a stream (spooled) and a
// receiver whose connection is cut a quarter in: it reconnects in the
// same run and the output is the input, once.
func TestStreamReconnectRealSender(t *testing.T) {
	const cs = manifest.MinChunkSize
	const size = 24<<20 + 3
	input := randomBytes(size)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pass := testPass(t)
	addrs, res := startSender(t, ctx, SendOptions{Passphrase: pass, Stdin: bytes.NewReader(input), ChunkSize: cs,
		stream: streamTestHooks{spoolDir: t.TempDir()}})
	target, id := tcpTarget(t, addrs)
	px := newCutProxy(t, target)
	var once sync.Once
	cut := make(chan struct{})
	ro := recvOpts(pass, "", []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d/p2p/%s", px.port(), id)})
	ro.ResumeLogPath = filepath.Join(t.TempDir(), "resume.db")
	ro.RateLimit = 32 << 20 // slow enough to cut a quarter in
	var out bytes.Buffer
	ro.Stdout = &out
	ro.Events = func(e Event) {
		if p, ok := e.(ProgressEvent); ok && p.Bytes > size/4 {
			once.Do(func() { px.cut(); close(cut) })
		}
	}
	sum, err := Receive(ctx, ro)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-cut:
	default:
		t.Fatal("the stream ended before the connection was cut")
	}
	if !bytes.Equal(out.Bytes(), input) {
		t.Fatalf("output of %d bytes differs from the %d sent", out.Len(), len(input))
	}
	if sum.Reconnects < 1 {
		t.Fatalf("reconnects = %d, want at least 1", sum.Reconnects)
	}
	if r := waitSend(t, res); r.err != nil {
		t.Fatalf("sender: %v", r.err)
	}
}

// TestStreamReceiveSecondSightDiffers: after a cut, the sender announces
// the stream again with one hash changed, in the written prefix or among
// the chunks announced but not yet written: a protocol violation, and the
// output holds only the stream's verified prefix.
func TestStreamReceiveSecondSightDiffers(t *testing.T) {
	const cs = manifest.MinChunkSize
	for name, k := range map[string]int{"written prefix": 0, "announced": 39} {
		t.Run(name, func(t *testing.T) {
			data := randomBytes(96 * cs)
			ss := newStreamSender(t, data, cs)
			ss.announce = func(ss *streamSender, s network.Stream) {
				hs := ss.hashes()[:40]
				if ss.manifests.Load() > 1 {
					hs[k] = manifest.HashChunk([]byte("another chunk"))
				}
				if ss.announceAll(s, 0, hs) == nil {
					drain(s)
				}
			}
			ss.start()
			target, id := tcpTarget(t, ss.addrs)
			px := newCutProxy(t, target)
			var once sync.Once
			ss.onServe = func(n int64) {
				if n == 20 {
					once.Do(px.cut)
				}
			}
			var out bytes.Buffer
			ro := streamOpts(ss, "")
			ro.Network.Direct = []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d/p2p/%s", px.port(), id)}
			ro.Stdout = &out
			ro.ResumeLogPath = filepath.Join(t.TempDir(), "resume.db")
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			_, err := Receive(ctx, ro)
			if !errors.Is(err, ErrPeerMisbehaving) {
				t.Fatalf("err = %v, want ErrPeerMisbehaving", err)
			}
			if !bytes.HasPrefix(data, out.Bytes()) || out.Len() > 40*cs {
				t.Fatalf("the output holds %d bytes, not a prefix of the first 40 chunks", out.Len())
			}
		})
	}
}
