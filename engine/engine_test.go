package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pcp-p2p/pcp/auth"
	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/manifest"
	"github.com/pcp-p2p/pcp/store"
)

// makeTree builds a tree with nested dirs, an empty file, an empty dir, an
// executable, a symlink, nSmall small files and one file of bigSize bytes.
func makeTree(t testing.TB, dir string, nSmall int, bigSize int64) string {
	t.Helper()
	root := filepath.Join(dir, "tree")
	writeFile(t, filepath.Join(root, "a/b/c/deep.txt"), []byte("deep\n"))
	writeFile(t, filepath.Join(root, "empty.txt"), nil)
	if err := os.MkdirAll(filepath.Join(root, "emptydir"), 0o750); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, "run.sh"), []byte("#!/bin/sh\necho hi\n"))
	if err := os.Chmod(filepath.Join(root, "run.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a/b/c/deep.txt", filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	text := bytes.Repeat([]byte("the quick brown fox jumps over the lazy dog\n"), 100)
	for i := 0; i < nSmall; i++ {
		writeFile(t, filepath.Join(root, "small", fmt.Sprintf("d%02d", i%50), fmt.Sprintf("f%05d.txt", i)), append([]byte(fmt.Sprint(i)), text[:4000]...))
	}
	if bigSize > 0 {
		writeRandom(t, filepath.Join(root, "big.bin"), bigSize)
	}
	return root
}

func TestRoundTripTree(t *testing.T) {
	nSmall, big := 10_000, int64(300<<20)
	if testing.Short() {
		nSmall, big = 500, 20<<20
	}
	dir := t.TempDir()
	src := makeTree(t, dir, nSmall, big)
	want := rootOf(t, src)
	pass := testPass(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	addrs, res := startSender(t, ctx, SendOptions{Paths: []string{src}, Passphrase: pass})
	dest := filepath.Join(dir, "out")
	ro := recvOpts(pass, dest, addrs)
	ro.ResumeLogPath = filepath.Join(dir, "state", "resume.db")
	sum, err := Receive(ctx, ro)
	if err != nil {
		t.Fatal(err)
	}
	if r := <-res; r.err != nil {
		t.Fatalf("sender: %v", r.err)
	}
	assertSameTree(t, src, filepath.Join(dest, "tree"))
	if got := rootOf(t, filepath.Join(dest, "tree")); got != want {
		t.Fatalf("received tree root %s, sent %s", got.Short(), want.Short())
	}
	if sum.FetchedBytes != sum.ManifestBytes || sum.ChunksRefetched != 0 {
		t.Fatalf("summary: fetched %d of %d, refetched %d", sum.FetchedBytes, sum.ManifestBytes, sum.ChunksRefetched)
	}
	if sum.Root != want.String() {
		t.Fatalf("summary root %s, want %s", sum.Root, want)
	}
	if _, err := os.Stat(filepath.Join(dest, ".pcp-partial-"+want.String()[:16])); !os.IsNotExist(err) {
		t.Fatalf("staging directory left behind: %v", err)
	}
}

func TestWrongPassphrase(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "f"), []byte("secret"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var failures atomic.Int32
	addrs, res := startSender(t, ctx, SendOptions{
		Paths: []string{filepath.Join(dir, "f")}, Passphrase: testPass(t), MaxAuthFailures: 1,
		Events: func(e Event) {
			if a, ok := e.(AuthFailedEvent); ok && errors.Is(a.Err, ErrWrongPassphrase) {
				failures.Add(1)
			}
		},
	})
	_, err := Receive(ctx, recvOpts(testPass(t), filepath.Join(dir, "out"), addrs))
	if !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("receiver: %v, want ErrWrongPassphrase", err)
	}
	r := <-res
	if !errors.Is(r.err, ErrTooManyFailures) {
		t.Fatalf("sender: %v, want ErrTooManyFailures", r.err)
	}
	if failures.Load() != 1 {
		t.Fatalf("sender saw %d wrong-passphrase failures, want 1", failures.Load())
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "f")); !os.IsNotExist(err) {
		t.Fatalf("file written despite failed authentication: %v", err)
	}
}

func TestReconnectAfterConnectionCut(t *testing.T) {
	dir := t.TempDir()
	size := int64(96 << 20)
	writeRandom(t, filepath.Join(dir, "src", "big.bin"), size)
	pass := testPass(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	addrs, res := startSender(t, ctx, SendOptions{Paths: []string{filepath.Join(dir, "src")}, Passphrase: pass})
	target, id := tcpTarget(t, addrs)
	px := newCutProxy(t, target)
	var once sync.Once
	cut := make(chan struct{})
	ro := recvOpts(pass, filepath.Join(dir, "out"), []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d/p2p/%s", px.port(), id)})
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
		t.Fatal("transfer finished before the connection was cut")
	}
	if r := <-res; r.err != nil {
		t.Fatalf("sender: %v", r.err)
	}
	if sum.Reconnects < 1 {
		t.Fatalf("reconnects = %d, want >= 1", sum.Reconnects)
	}
	if !sameBytes(t, filepath.Join(dir, "src", "big.bin"), filepath.Join(dir, "out", "src", "big.bin")) {
		t.Fatal("bytes differ after reconnect")
	}
	// Nothing beyond the in-flight window was fetched twice.
	total := manifest.ChunkCount(size, manifest.DefaultChunkSize)
	window := int64(DefaultMaxInFlight / manifest.DefaultChunkSize)
	if sum.ChunksFetched > total+window {
		t.Fatalf("fetched %d chunks for %d, more than the %d-chunk window re-sent", sum.ChunksFetched, total, window)
	}
}

// tcpTarget returns host:port and the peer ID from a sender's addresses.
func tcpTarget(t testing.TB, addrs []string) (string, string) {
	for _, a := range addrs {
		var port int
		var id string
		if _, err := fmt.Sscanf(strings.ReplaceAll(a, "/", " "), " ip4 127.0.0.1 tcp %d p2p %s", &port, &id); err == nil {
			return fmt.Sprintf("127.0.0.1:%d", port), id
		}
	}
	t.Fatalf("no loopback TCP address in %v", addrs)
	return "", ""
}

func TestCorruptChunkOnWireIsRefetched(t *testing.T) {
	dir := t.TempDir()
	writeRandom(t, filepath.Join(dir, "src", "f.bin"), 8<<20)
	pass := testPass(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var flipped atomic.Int32
	opts := SendOptions{Paths: []string{filepath.Join(dir, "src")}, Passphrase: pass}
	opts.tamper = func(r wire.Ref, data []byte) {
		if r.Chunk == 3 && flipped.Add(1) == 1 {
			data[100] ^= 0x40 // only the first time
		}
	}
	addrs, res := startSender(t, ctx, opts)
	sum, err := Receive(ctx, recvOpts(pass, filepath.Join(dir, "out"), addrs))
	if err != nil {
		t.Fatal(err)
	}
	<-res
	if sum.ChunksRefetched != 1 {
		t.Fatalf("refetched = %d, want 1", sum.ChunksRefetched)
	}
	if !sameBytes(t, filepath.Join(dir, "src", "f.bin"), filepath.Join(dir, "out", "src", "f.bin")) {
		t.Fatal("bytes differ")
	}
}

func TestPersistentlyBadPeerIsDropped(t *testing.T) {
	dir := t.TempDir()
	writeRandom(t, filepath.Join(dir, "src", "f.bin"), 4<<20)
	pass := testPass(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opts := SendOptions{Paths: []string{filepath.Join(dir, "src")}, Passphrase: pass}
	opts.tamper = func(r wire.Ref, data []byte) {
		if r.Chunk == 1 {
			data[0] ^= 1
		}
	}
	addrs, _ := startSender(t, ctx, opts)
	_, err := Receive(ctx, recvOpts(pass, filepath.Join(dir, "out"), addrs))
	if !errors.Is(err, ErrPeerMisbehaving) {
		t.Fatalf("err = %v, want ErrPeerMisbehaving", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "src", "f.bin")); !os.IsNotExist(err) {
		t.Fatalf("unverified file put in place: %v", err)
	}
}

// transferOnce sends src to dest with a resume log and returns the summary.
func transferOnce(t *testing.T, src, dest, logPath string, overwrite bool) (*Summary, error) {
	t.Helper()
	pass := testPass(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	addrs, res := startSender(t, ctx, SendOptions{Paths: []string{src}, Passphrase: pass})
	ro := recvOpts(pass, dest, addrs)
	ro.ResumeLogPath, ro.Overwrite = logPath, overwrite
	sum, err := Receive(ctx, ro)
	if err == nil {
		if r := <-res; r.err != nil {
			t.Fatalf("sender: %v", r.err)
		}
	}
	return sum, err
}

func TestCorruptByteOnDiskRepairedWithOneChunk(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeRandom(t, filepath.Join(src, "f.bin"), 10<<20)
	writeFile(t, filepath.Join(src, "g.txt"), []byte("untouched"))
	dest, logPath := filepath.Join(dir, "out"), filepath.Join(dir, "resume.db")
	if _, err := transferOnce(t, src, dest, logPath, false); err != nil {
		t.Fatal(err)
	}
	got := filepath.Join(dest, "src", "f.bin")
	f, err := os.OpenFile(got, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{0xff ^ readByte(t, got, 5<<20+7)}, 5<<20+7); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// The write changed the file's ctime: to pcp it is an edit, which is
	// never replaced unasked.
	if _, err := transferOnce(t, src, dest, logPath, false); !errors.Is(err, ErrExists) {
		t.Fatalf("second receive without --overwrite: err = %v, want ErrExists", err)
	}
	sum, err := transferOnce(t, src, dest, logPath, true)
	if err != nil {
		t.Fatal(err)
	}
	if sum.ChunksFetched != 1 || sum.FetchedBytes != manifest.DefaultChunkSize {
		t.Fatalf("repair fetched %d chunks / %d bytes, want 1 chunk", sum.ChunksFetched, sum.FetchedBytes)
	}
	if !sameBytes(t, filepath.Join(src, "f.bin"), got) {
		t.Fatal("file not repaired")
	}
	assertSameTree(t, src, filepath.Join(dest, "src"))
}

func readByte(t testing.TB, path string, off int64) byte {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	return b[0]
}

func TestCompleteDataAtDestinationIsNotResent(t *testing.T) {
	dir := t.TempDir()
	src := makeTree(t, dir, 20, 3<<20)
	dest := filepath.Join(dir, "out")
	if _, err := transferOnce(t, src, dest, filepath.Join(dir, "r1.db"), false); err != nil {
		t.Fatal(err)
	}
	// A fresh resume log: the engine must recognize the data by hashing it.
	sum, err := transferOnce(t, src, dest, filepath.Join(dir, "r2.db"), false)
	if err != nil {
		t.Fatal(err)
	}
	if sum.ChunksFetched != 0 || sum.SkippedBytes != sum.ManifestBytes {
		t.Fatalf("re-sent %d chunks; skipped %d of %d bytes", sum.ChunksFetched, sum.SkippedBytes, sum.ManifestBytes)
	}
	assertSameTree(t, src, filepath.Join(dest, "tree"))
}

func TestExistingFileIsNotClobbered(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeFile(t, filepath.Join(src, "a.txt"), []byte("new content"))
	dest := filepath.Join(dir, "out")
	mine := filepath.Join(dest, "src", "a.txt")
	writeFile(t, mine, []byte("my precious data"))
	_, err := transferOnce(t, src, dest, filepath.Join(dir, "r.db"), false)
	if !errors.Is(err, ErrExists) {
		t.Fatalf("err = %v, want ErrExists", err)
	}
	if b, _ := os.ReadFile(mine); string(b) != "my precious data" {
		t.Fatalf("existing file clobbered: %q", b)
	}
	if _, err := transferOnce(t, src, dest, filepath.Join(dir, "r.db"), true); err != nil {
		t.Fatalf("with overwrite: %v", err)
	}
	if b, _ := os.ReadFile(mine); string(b) != "new content" {
		t.Fatalf("overwrite did not replace: %q", b)
	}
}

// TestReverifyCatchesCorruptStagedChunk: chunks the log says are durable are
// trusted by default; with Reverify a corrupted one is found and fetched again.
func TestReverifyCatchesCorruptStagedChunk(t *testing.T) {
	dir := t.TempDir()
	size := int64(64 << 20)
	src := filepath.Join(dir, "src")
	writeRandom(t, filepath.Join(src, "f.bin"), size)
	pass := testPass(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// The first sender serves the first half and then stalls, so the
	// receiver is interrupted mid-file whatever the machine's speed.
	stall := make(chan struct{})
	first := SendOptions{Paths: []string{src}, Passphrase: pass}
	first.tamper = func(r wire.Ref, _ []byte) {
		if r.Chunk >= 32 {
			<-stall
		}
	}
	sctx, stopSender := context.WithCancel(ctx)
	addrs, _ := startSender(t, sctx, first)
	dest, logPath := filepath.Join(dir, "out"), filepath.Join(dir, "resume.db")
	rctx, stop := context.WithCancel(ctx)
	ro := recvOpts(pass, dest, addrs)
	ro.ResumeLogPath = logPath
	ro.Events = func(e Event) {
		if p, ok := e.(ProgressEvent); ok && p.Bytes >= 24<<20 {
			stop()
		}
	}
	if _, err := Receive(rctx, ro); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("first run: %v, want ErrInterrupted", err)
	}
	close(stall)
	stopSender()
	addrs, res := startSender(t, ctx, SendOptions{Paths: []string{src}, Passphrase: pass})
	ro.Network.Direct = addrs
	// Corrupt chunk 0 of the staging file: it is in the log as durable.
	staged, err := filepath.Glob(filepath.Join(dest, ".pcp-partial-*", "*"))
	if err != nil || len(staged) != 1 {
		t.Fatalf("staging files: %v %v", staged, err)
	}
	f, err := os.OpenFile(staged[0], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte{0, 1, 2, 3}, 10)
	f.Close()

	ro.Events, ro.Reverify = nil, true
	sum, err := Receive(ctx, ro)
	if err != nil {
		t.Fatal(err)
	}
	if r := <-res; r.err != nil {
		t.Fatalf("sender: %v", r.err)
	}
	if !sameBytes(t, filepath.Join(src, "f.bin"), filepath.Join(dest, "src", "f.bin")) {
		t.Fatal("corrupted staged chunk survived --reverify")
	}
	if sum.SkippedBytes == 0 || sum.SkippedBytes+sum.FetchedBytes != size {
		t.Fatalf("skipped %d + fetched %d != %d", sum.SkippedBytes, sum.FetchedBytes, size)
	}
}

// TestTwoSendersOnOneChannel: a receiver offered two senders that share the
// channel word tries both, blacklists the one whose PAKE fails, and
// receives from the right one.
func TestTwoSendersOnOneChannel(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "right", "f.txt"), []byte("from the right sender"))
	writeFile(t, filepath.Join(dir, "wrong", "f.txt"), []byte("from another sender"))
	right := testPass(t)
	var wrong auth.Passphrase
	for {
		wrong = testPass(t)
		if wrong.String() != right.String() {
			break
		}
	}
	// Same channel word, other secret words.
	wrong, err := auth.Parse(right.Channel() + "-" + strings.Join(wrong.Words()[1:], "-"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	wrongAddrs, _ := startSender(t, ctx, SendOptions{Paths: []string{filepath.Join(dir, "wrong")}, Passphrase: wrong})
	rightAddrs, res := startSender(t, ctx, SendOptions{Paths: []string{filepath.Join(dir, "right")}, Passphrase: right})
	var failed []string
	ro := recvOpts(right, filepath.Join(dir, "out"), append(wrongAddrs, rightAddrs...))
	ro.Events = func(e Event) {
		if a, ok := e.(AuthFailedEvent); ok {
			failed = append(failed, a.Peer)
		}
	}
	if _, err := Receive(ctx, ro); err != nil {
		t.Fatal(err)
	}
	if r := <-res; r.err != nil {
		t.Fatalf("right sender: %v", r.err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "out", "right", "f.txt")); string(b) != "from the right sender" {
		t.Fatalf("received %q", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "wrong")); !os.IsNotExist(err) {
		t.Fatalf("data from the wrong sender: %v", err)
	}
	if len(failed) != 1 {
		t.Fatalf("auth failures seen: %v, want exactly the wrong sender once", failed)
	}
}

// TestStalledSenderEndsResumably: a sender that keeps the connection open but
// stops sending ends the receive with ErrInterrupted after Patience, instead
// of re-opening streams forever; what arrived is kept.
func TestStalledSenderEndsResumably(t *testing.T) {
	dir := t.TempDir()
	writeRandom(t, filepath.Join(dir, "src", "f.bin"), 16<<20)
	pass := testPass(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stall := make(chan struct{})
	defer close(stall)
	opts := SendOptions{Paths: []string{filepath.Join(dir, "src")}, Passphrase: pass}
	opts.tamper = func(r wire.Ref, _ []byte) {
		if r.Chunk >= 4 {
			<-stall
		}
	}
	addrs, _ := startSender(t, ctx, opts)
	ro := recvOpts(pass, filepath.Join(dir, "out"), addrs)
	ro.ResumeLogPath = filepath.Join(dir, "resume.db")
	// The stall and patience bound only how long the test takes: what it
	// asserts holds however slowly chunks arrive on a busy machine.
	ro.stall, ro.Patience = 500*time.Millisecond, 3*time.Second
	var verified int64 = -1
	ro.runDone = func(r *receiver) { verified = r.chunks.Load() }
	start := time.Now()
	_, err := Receive(ctx, ro)
	if !errors.Is(err, ErrInterrupted) || !strings.Contains(err.Error(), "no data from the sender") {
		t.Fatalf("err = %v, want ErrInterrupted for a stalled sender", err)
	}
	if d := time.Since(start); d > 45*time.Second {
		t.Fatalf("gave up only after %v", d)
	}
	l, err := store.OpenResumeLog(ro.ResumeLogPath)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ts, _ := l.List()
	if len(ts) != 1 {
		t.Fatalf("transfers in the log: %d", len(ts))
	}
	// Every chunk verified before the receiver gave up is logged durable,
	// and none that the sender never sent. How many of the first four got
	// through before the stall ended the run depends on scheduling.
	var n int64
	l.Done(ts[0].Root, func(c store.ChunkRef) error {
		if c.Chunk >= 4 {
			t.Errorf("chunk %d logged, but the sender never sent it", c.Chunk)
		}
		n++
		return nil
	})
	if n != verified || n < 1 {
		t.Fatalf("%d chunks logged durable, want the %d verified (at least 1)", n, verified)
	}
}

// TestFullDiskIsResumableAndLosesNothing receives 16 MiB into a 4 MiB file
// system: the receive stops with a clear, resumable error, and a file that
// was there before is untouched. Needs root to mount a small tmpfs (the only
// way to get a really full file system here); skipped otherwise.
func TestFullDiskIsResumableAndLosesNothing(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a 4 MiB tmpfs as a full disk")
	}
	dir := t.TempDir()
	dest := filepath.Join(dir, "small")
	if err := os.MkdirAll(dest, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", dest).CombinedOutput(); err != nil {
		t.Skipf("cannot mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dest).Run() })
	mine := filepath.Join(dest, "keep.txt")
	writeFile(t, mine, []byte("precious"))
	writeRandom(t, filepath.Join(dir, "src", "big.bin"), 16<<20)
	pass := testPass(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	addrs, _ := startSender(t, ctx, SendOptions{Paths: []string{filepath.Join(dir, "src")}, Passphrase: pass})
	ro := recvOpts(pass, dest, addrs)
	ro.ResumeLogPath = filepath.Join(dir, "resume.db")
	// Free space unknown: skip the check before the transfer, so that the
	// disk fills while data is written (the check itself is tested in
	// TestHostileRecvDestinationSpace).
	ro.freeSpace = func(string) (int64, bool) { return 0, false }
	_, err := Receive(ctx, ro)
	if !errors.Is(err, ErrInterrupted) || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("err = %v, want a resumable 'no space left' error", err)
	}
	if b, _ := os.ReadFile(mine); string(b) != "precious" {
		t.Fatalf("existing file damaged: %q", b)
	}
	if _, err := os.Stat(filepath.Join(dest, "src", "big.bin")); !os.IsNotExist(err) {
		t.Fatalf("incomplete file put in place: %v", err)
	}
}
