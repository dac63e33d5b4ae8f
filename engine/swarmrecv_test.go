package engine

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/pcp-p2p/pcp/auth"
	"github.com/pcp-p2p/pcp/engine/swarm"
	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/manifest"
)

// swarmTree writes a tree of several files and returns its directory.
func swarmTree(t *testing.T) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "tree")
	writeRandom(t, filepath.Join(src, "big"), 2<<20+777)
	writeRandom(t, filepath.Join(src, "d", "mid"), 700<<10)
	writeRandom(t, filepath.Join(src, "d", "small"), 1000)
	writeFile(t, filepath.Join(src, "empty"), nil)
	return src
}

// sourceEvents collects a receive's SourceEvents.
type sourceEvents struct {
	mu  sync.Mutex
	evs []SourceEvent
}

func (s *sourceEvents) on(e Event) {
	if se, ok := e.(SourceEvent); ok {
		s.mu.Lock()
		s.evs = append(s.evs, se)
		s.mu.Unlock()
	}
}

// TestReceiveFromTwoSources: a receive finds two real senders of the same
// tree; the first one it meets corrupts every chunk. The scheduler drops
// it, the other delivers everything, and the tree is identical.
func TestReceiveFromTwoSources(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	src := swarmTree(t)
	pass := testPass(t)
	opts := SendOptions{Passphrase: pass, Paths: []string{src}, ChunkSize: manifest.MinChunkSize}
	opts.tamper = func(_ wire.Ref, b []byte) { b[0] ^= 1 }
	bad, _ := startSender(t, ctx, opts)
	opts.tamper = nil
	good, goodRes := startSender(t, ctx, opts)

	dest := t.TempDir()
	var evs sourceEvents
	ro := recvOpts(pass, dest, append(append([]string{}, bad...), good...))
	ro.swarm, ro.Events = true, evs.on
	sum, err := Receive(ctx, ro)
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	assertSameTree(t, src, filepath.Join(dest, "tree"))
	if sum.ChunksRefetched < 3 {
		t.Errorf("%d chunks refetched, want at least the 3 that dropped the corrupting source", sum.ChunksRefetched)
	}
	// The good sender saw the receiver finish.
	if r := <-goodRes; r.err != nil {
		t.Errorf("good sender: %v", r.err)
	}
	var joined, dropped, served int
	for _, e := range evs.evs {
		switch {
		case e.Joined:
			joined++
		case errors.Is(e.Err, swarm.ErrTooManyBad):
			dropped++
		case e.Err == nil && e.Delivered > 0:
			served++
		}
	}
	if joined != 2 || dropped != 1 || served != 1 {
		t.Errorf("sources: %d joined, %d dropped for bad chunks, %d served; want 2, 1, 1 (%+v)", joined, dropped, served, evs.evs)
	}
}

// seedingReceive starts a receive that seeds, and returns its host's
// addresses once it has authenticated, and its result.
func seedingReceive(t *testing.T, ctx context.Context, ro ReceiveOptions) ([]string, <-chan sendResult) {
	t.Helper()
	addrs := make(chan []string, 1)
	ro.swarm, ro.NoSeed = true, false
	ro.afterAuth = func(h host.Host, _ peer.ID) {
		var s []string
		for _, a := range h.Addrs() {
			s = append(s, a.String()+"/p2p/"+h.ID().String())
		}
		addrs <- s
	}
	res := make(chan sendResult, 1)
	go func() {
		s, err := Receive(ctx, ro)
		res <- sendResult{s, err}
	}()
	select {
	case a := <-addrs:
		return a, res
	case r := <-res:
		t.Fatalf("seeding receive ended before it authenticated: %v", r.err)
	}
	return nil, nil
}

// fullSeeder starts receiver A from the sender at sAddrs, seeding until
// ctx ends, and returns once A has the whole tree: its destination, its
// addresses and its result.
func fullSeeder(t *testing.T, ctx context.Context, pass auth.Passphrase, sAddrs []string) (string, []string, <-chan sendResult) {
	t.Helper()
	dest := t.TempDir()
	ro := recvOpts(pass, dest, sAddrs)
	done := make(chan struct{})
	ro.Events = func(e Event) {
		if _, ok := e.(DoneEvent); ok {
			close(done)
		}
	}
	ro.Seed = time.Hour // until ctx ends
	addrs, res := seedingReceive(t, ctx, ro)
	select {
	case <-done:
	case r := <-res:
		t.Fatalf("receiver A: %v", r.err)
	}
	return dest, addrs, res
}

// TestFinishFromAReseeder: receiver A gets the tree from the sender and
// goes on seeding it; the sender stops; receiver B, which knows only A,
// gets the whole tree from A, identical.
func TestFinishFromAReseeder(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	src := swarmTree(t)
	pass := testPass(t)
	sctx, stopSender := context.WithCancel(ctx)
	sAddrs, sRes := startSender(t, sctx, SendOptions{Passphrase: pass, Paths: []string{src}, ChunkSize: manifest.MinChunkSize})

	actx, stopA := context.WithCancel(ctx)
	defer stopA()
	destA, aAddrs, aRes := fullSeeder(t, actx, pass, sAddrs)
	assertSameTree(t, src, filepath.Join(destA, "tree"))
	if r := <-sRes; r.err != nil {
		t.Fatalf("sender: %v", r.err)
	}
	stopSender()

	destB := t.TempDir()
	var evs sourceEvents
	roB := recvOpts(pass, destB, aAddrs)
	roB.swarm, roB.Events = true, evs.on
	sum, err := Receive(ctx, roB)
	if err != nil {
		t.Fatalf("receiver B: %v", err)
	}
	assertSameTree(t, src, filepath.Join(destB, "tree"))
	if sum.FetchedBytes != sum.ManifestBytes {
		t.Errorf("B fetched %d of %d bytes", sum.FetchedBytes, sum.ManifestBytes)
	}
	stopA()
	if r := <-aRes; r.err != nil && !errors.Is(r.err, context.Canceled) {
		t.Errorf("receiver A after seeding: %v", r.err)
	}
}

// TestReceiveFromSenderAndReseeder: receiver B joins while receiver A is
// part-way through a rate-limited sender's transfer, and knows both: it
// fetches from both at once (A serves what it holds, growing as A goes),
// and both trees are identical.
func TestReceiveFromSenderAndReseeder(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	src := swarmTree(t)
	pass := testPass(t)
	sAddrs, _ := startSender(t, ctx, SendOptions{Passphrase: pass, Paths: []string{src}, ChunkSize: manifest.MinChunkSize,
		RateLimit: 1 << 20, Receivers: 2})

	destA := t.TempDir()
	roA := recvOpts(pass, destA, sAddrs)
	third, aDone := make(chan struct{}), make(chan struct{})
	var once sync.Once
	roA.Events = func(e Event) {
		switch e := e.(type) {
		case ProgressEvent:
			if e.TotalBytes > 0 && e.Bytes*3 >= e.TotalBytes {
				once.Do(func() { close(third) })
			}
		case DoneEvent:
			close(aDone)
		}
	}
	roA.Seed = time.Hour
	actx, stopA := context.WithCancel(ctx)
	defer stopA()
	aAddrs, aRes := seedingReceive(t, actx, roA)
	select {
	case <-third:
	case r := <-aRes:
		t.Fatalf("receiver A ended early: %v", r.err)
	}

	destB := t.TempDir()
	var evs sourceEvents
	roB := recvOpts(pass, destB, append(append([]string{}, sAddrs...), aAddrs...))
	roB.swarm, roB.Events = true, evs.on
	if _, err := Receive(ctx, roB); err != nil {
		t.Fatalf("receiver B: %v", err)
	}
	assertSameTree(t, src, filepath.Join(destB, "tree"))
	aID := aAddrs[0][strings.LastIndex(aAddrs[0], "/")+1:]
	fromA := -1
	for _, e := range evs.evs {
		if e.Peer == aID && !e.Joined {
			fromA = e.Delivered
		}
	}
	if fromA <= 0 {
		t.Errorf("receiver A delivered %d chunks to B, want some (%+v)", fromA, evs.evs)
	}
	select { // A finishes too, then seeds until stopped
	case <-aDone:
	case r := <-aRes:
		t.Fatalf("receiver A: %v", r.err)
	}
	stopA()
	if r := <-aRes; r.err != nil {
		t.Fatalf("receiver A: %v", r.err)
	}
	assertSameTree(t, src, filepath.Join(destA, "tree"))
}

// TestResumeFromAReseeder: receiver B is interrupted part-way through a
// sender that then goes away; a later run of the same receive, which knows
// only receiver A (it holds the tree and seeds), resumes from B's log and
// gets the rest from A, identical.
func TestResumeFromAReseeder(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	src := swarmTree(t)
	pass := testPass(t)
	// Once A has everything, the sender stalls past the 16th chunk of a
	// file: B is interrupted mid-file however fast the machine is.
	var gate atomic.Bool
	stall := make(chan struct{})
	so := SendOptions{Passphrase: pass, Paths: []string{src}, ChunkSize: manifest.MinChunkSize, Receivers: 2}
	so.tamper = func(r wire.Ref, _ []byte) {
		if gate.Load() && r.Chunk >= 16 {
			<-stall
		}
	}
	sctx, stopSender := context.WithCancel(ctx)
	sAddrs, _ := startSender(t, sctx, so)

	actx, stopA := context.WithCancel(ctx)
	defer stopA()
	_, aAddrs, aRes := fullSeeder(t, actx, pass, sAddrs)
	gate.Store(true)

	destB, logB := t.TempDir(), filepath.Join(t.TempDir(), ResumeLogFile)
	bctx, stopB := context.WithCancel(ctx)
	roB := recvOpts(pass, destB, sAddrs)
	roB.ResumeLogPath, roB.NoSeed = logB, true
	roB.Events = func(e Event) {
		if p, ok := e.(ProgressEvent); ok && p.Bytes >= 512<<10 {
			stopB()
		}
	}
	if _, err := Receive(bctx, roB); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("B's first run: %v, want ErrInterrupted", err)
	}
	close(stall)
	stopSender()

	roB.Network.Direct, roB.Events = aAddrs, nil
	sum, err := Receive(ctx, roB)
	if err != nil {
		t.Fatalf("B's second run, from A: %v", err)
	}
	assertSameTree(t, src, filepath.Join(destB, "tree"))
	if sum.SkippedBytes == 0 || sum.SkippedBytes+sum.FetchedBytes != sum.ManifestBytes {
		t.Errorf("B resumed %d and fetched %d of %d bytes", sum.SkippedBytes, sum.FetchedBytes, sum.ManifestBytes)
	}
	stopA()
	if r := <-aRes; r.err != nil && !errors.Is(r.err, context.Canceled) {
		t.Errorf("receiver A after seeding: %v", r.err)
	}
}
