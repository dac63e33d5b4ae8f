package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/manifest"
)

const testStreamChunk = manifest.MinChunkSize

func spoolFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "pcp-stream-*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// A spooled stream: the spool's two files exist (0600) while it is sent;
// announcements come from chunk 0 on every announcement stream, the same
// each time, as the input is read, and end with the stream's size and
// root; every announced chunk is served, nothing beyond; and the spool is
// gone once Send returns.
func TestStreamSpooled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*watchdog)
	defer cancel()
	dir := t.TempDir()
	input := make([]byte, 3*testStreamChunk+testStreamChunk/2)
	rand.Read(input)
	pr, pw := io.Pipe()
	defer pw.Close()
	pass := testPass(t)
	addrs, res := startSender(t, ctx, SendOptions{Passphrase: pass, Stdin: pr, ChunkSize: testStreamChunk,
		StreamName: "db.dump", stream: streamTestHooks{spoolDir: dir}})

	// Two chunks read before anyone looks: the pipe's writes return once
	// the sender has taken them.
	if _, err := pw.Write(input[:2*testStreamChunk]); err != nil {
		t.Fatal(err)
	}
	c := acceptStream(t, ctx, addrs, pass)
	if c.info.Name != "db.dump" || c.info.ChunkSize != testStreamChunk || !c.info.Spooled() {
		t.Fatalf("StreamInfo %+v", c.info)
	}
	first := c.announcements()
	if err := first.until(announced(2)); err != nil {
		t.Fatal(err)
	}
	files := spoolFiles(t, dir)
	if len(files) != 2 {
		t.Fatalf("spool files %v, want the chunks and their hashes", files)
	}
	for _, f := range files {
		if st, err := os.Stat(f); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v, %v; want mode 0600", f, st.Mode(), err)
		}
	}
	if _, err := pw.Write(input[2*testStreamChunk:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if err := first.toEnd(); err != nil {
		t.Fatal(err)
	}
	checkAnnounced(t, first, input)

	// A second announcement stream of the session (after a drop) gets the
	// same, from chunk 0.
	again := c.announcements()
	if err := again.toEnd(); err != nil {
		t.Fatal(err)
	}
	if len(again.hashes) != len(first.hashes) || *again.end != *first.end {
		t.Fatalf("second announcements: %d chunks, end %+v; first: %d, %+v", len(again.hashes), again.end, len(first.hashes), first.end)
	}
	for i := range first.hashes {
		if again.hashes[i] != first.hashes[i] {
			t.Fatalf("chunk %d announced differently the second time", i)
		}
	}

	s, fr := c.open(wire.KindData)
	var got []byte
	for i := range first.hashes {
		data, err := fetch(s, fr, uint32(i))
		if err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
		got = append(got, data...)
	}
	if !bytes.Equal(got, input) {
		t.Fatalf("served %d bytes, not the input's %d", len(got), len(input))
	}
	bad, badr := c.open(wire.KindData)
	if _, err := fetch(bad, badr, uint32(len(first.hashes))); !errors.Is(err, wire.ErrBadRequest) {
		t.Fatalf("a chunk past the announced: %v, want BadRequest", err)
	}
	finishStream(t, s, fr)
	r := waitSend(t, res)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.sum.ManifestBytes != int64(len(input)) || r.sum.Root != first.end.Root.String() || r.sum.Receivers != 1 {
		t.Fatalf("summary %+v", r.sum)
	}
	if files := spoolFiles(t, dir); len(files) != 0 {
		t.Fatalf("spool left behind: %v", files)
	}
}

// checkAnnounced holds announcements to the input: a hash per chunk, the
// size and the stream root.
func checkAnnounced(t *testing.T, a *announcements, input []byte) {
	t.Helper()
	if a.end == nil || a.end.Size != uint64(len(input)) {
		t.Fatalf("end %+v, want size %d", a.end, len(input))
	}
	for i := range a.hashes {
		chunk := input[i*testStreamChunk : min((i+1)*testStreamChunk, len(input))]
		if manifest.HashChunk(chunk) != a.hashes[i] {
			t.Fatalf("chunk %d announced with the wrong hash", i)
		}
	}
	root, err := manifest.StreamRoot(testStreamChunk, a.end.Size, a.hashes)
	if err != nil || root != a.end.Root {
		t.Fatalf("root %x (%v), announced %x", root, err, a.end.Root)
	}
}

// A stream larger than its spool ends Send with ErrSpoolFull, whose text
// names the bound and the ways out, and leaves no spool behind: both for
// SpoolMax and for the free space.
func TestStreamSpoolFull(t *testing.T) {
	for _, tc := range []struct {
		name  string
		max   int64
		free  int64
		words []string
	}{
		{"spool max", 2 * testStreamChunk, 1 << 40, []string{"limit of 131072", "--spool-max", "--no-spool"}},
		{"free space", 0, spoolReserve + 2*testStreamChunk + 100, []string{"bytes free", "--spool-max", "--no-spool"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*watchdog)
			defer cancel()
			dir := t.TempDir()
			// The disk's free space shrinks as the spool grows.
			free := func(string) (int64, bool) {
				n := tc.free
				for _, f := range spoolFiles(t, dir) {
					if st, err := os.Stat(f); err == nil {
						n -= st.Size()
					}
				}
				return n, true
			}
			input := bytes.NewReader(make([]byte, 3*testStreamChunk))
			_, res := startSender(t, ctx, SendOptions{Passphrase: testPass(t), Stdin: input, ChunkSize: testStreamChunk,
				SpoolMax: tc.max, stream: streamTestHooks{spoolDir: dir, freeSpace: free}})
			r := waitSend(t, res)
			if !errors.Is(r.err, ErrSpoolFull) {
				t.Fatalf("Send: %v, want ErrSpoolFull", r.err)
			}
			for _, w := range tc.words {
				if !strings.Contains(r.err.Error(), w) {
					t.Errorf("%q does not say %q", r.err, w)
				}
			}
			if files := spoolFiles(t, dir); len(files) != 0 {
				t.Fatalf("spool left behind: %v", files)
			}
		})
	}
}

// A read error on the input ends Send with it.
func TestStreamReadError(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*watchdog)
	defer cancel()
	boom := errors.New("boom")
	in := io.MultiReader(bytes.NewReader(make([]byte, testStreamChunk+1)), iotest.ErrReader(boom))
	_, res := startSender(t, ctx, SendOptions{Passphrase: testPass(t), Stdin: in, ChunkSize: testStreamChunk,
		stream: streamTestHooks{spoolDir: t.TempDir()}})
	if r := waitSend(t, res); !errors.Is(r.err, boom) {
		t.Fatalf("Send: %v, want the read error", r.err)
	}
}

// Without a spool the ring bounds memory: the input is read no further
// than the ring's slots (and the reader's two buffers) until a chunk is
// served; a served chunk makes room, and once its slot holds a new chunk,
// asking for it again, or for the announcements from chunk 0, is Gone.
func TestStreamNoSpoolRing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*watchdog)
	defer cancel()
	const slots = 4
	in := newEndless()
	defer close(in.closed)
	waiting := make(chan struct{}, 1)
	var ring *chunkRing
	var most int
	hooks := streamTestHooks{ringSlots: slots,
		ringWait: func() {
			select {
			case waiting <- struct{}{}:
			default:
			}
		},
		onPut: func(_ uint64, k chunkKeeper) {
			ring = k.(*chunkRing)
			most = max(most, ring.held())
		}}
	pass := testPass(t)
	addrs, res := startSender(t, ctx, SendOptions{Passphrase: pass, Stdin: in, ChunkSize: testStreamChunk, NoSpool: true, stream: hooks})
	<-waiting // the ring is full and nobody was served
	if n := <-in.read; n > (slots+2)*testStreamChunk {
		t.Fatalf("read %d bytes of the input with a ring of %d chunks", n, slots)
	}
	c := acceptStream(t, ctx, addrs, pass)
	if c.info.Spooled() {
		t.Fatal("a stream without a spool says it is spooled")
	}
	a := c.announcements()
	if err := a.until(announced(slots)); err != nil {
		t.Fatal(err)
	}
	s, fr := c.open(wire.KindData)
	if _, err := fetch(s, fr, 0); err != nil {
		t.Fatal(err)
	}
	if err := a.until(announced(slots + 1)); err != nil { // chunk 0's slot holds chunk 4 now
		t.Fatal(err)
	}
	if _, err := fetch(s, fr, 0); !errors.Is(err, wire.ErrGone) {
		t.Fatalf("an evicted chunk: %v, want Gone", err)
	}
	if err := c.announcements().toEnd(); !errors.Is(err, wire.ErrGone) {
		t.Fatalf("announcements once chunk 0 is gone: %v, want Gone", err)
	}
	cancel()
	waitSend(t, res)
	if most > slots {
		t.Fatalf("the ring held %d chunks, more than its %d slots", most, slots)
	}
}
