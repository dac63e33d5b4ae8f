package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/pcp-p2p/pcp/engine/wire"
)

// A stream from a pipe, fed a chunk at a time, each next chunk only once
// the receiver has fetched the last (so the announcements grow while it
// fetches), to a real receiver: to its Stdout, and to a file. The bytes
// arrive equal, and the sender's spool is gone when Send returns.
func TestStreamEndToEnd(t *testing.T) {
	for _, tc := range []struct {
		name   string
		toFile bool
		size   int
	}{
		{"stdout", false, 40*testStreamChunk + 123},
		{"file", true, 40*testStreamChunk + 123},
		{"whole chunks", true, 3 * testStreamChunk},
		{"empty", true, 0},
	} {
		toFile := tc.toFile
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*watchdog)
			defer cancel()
			const cs = testStreamChunk
			input := make([]byte, tc.size)
			rand.Read(input)
			spool := t.TempDir()
			pr, pw := io.Pipe()
			defer pr.Close()
			tamper, served := servedChunks()
			pass := testPass(t)
			addrs, res := startSender(t, ctx, SendOptions{Passphrase: pass, Stdin: pr, ChunkSize: cs, StreamName: "feed.bin",
				stream: streamTestHooks{spoolDir: spool}, tamper: tamper})
			go feedSlowly(ctx, pw, input, cs, served, nil)

			dest := t.TempDir()
			ro := recvOpts(pass, dest, addrs)
			ro.ResumeLogPath = filepath.Join(t.TempDir(), "state", "resume.db")
			var out bytes.Buffer
			if !toFile {
				ro.Stdout = &out
			}
			sum, err := Receive(ctx, ro)
			if err != nil {
				t.Fatal(err)
			}
			got := out.Bytes()
			if toFile {
				if got, err = os.ReadFile(filepath.Join(dest, "feed.bin")); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(got, input) {
				t.Fatalf("received %d bytes, not the %d sent", len(got), len(input))
			}
			r := waitSend(t, res)
			if r.err != nil {
				t.Fatal(r.err)
			}
			if r.sum.Root != sum.Root || r.sum.ManifestBytes != int64(len(input)) {
				t.Fatalf("sender's summary %+v, receiver's root %s", r.sum, sum.Root)
			}
			if files := spoolFiles(t, spool); len(files) != 0 {
				t.Fatalf("spool left behind: %v", files)
			}
		})
	}
}

// feedSlowly writes input to w a chunk at a time: chunk i+1 only once
// chunk i was served (then after(i) is called, if set), then closes w.
func feedSlowly(ctx context.Context, w *io.PipeWriter, input []byte, cs int, served <-chan uint32, after func(int)) {
	for i := 0; i*cs < len(input); i++ {
		if _, err := w.Write(input[i*cs : min((i+1)*cs, len(input))]); err != nil {
			return
		}
		for done := false; !done && (i+1)*cs < len(input); {
			select {
			case c := <-served:
				done = int(c) >= i
			case <-ctx.Done():
				w.CloseWithError(ctx.Err())
				return
			}
		}
		if after != nil {
			after(i)
		}
	}
	w.Close()
}

// servedChunks is a tamper hook that alters nothing and reports each
// chunk served on the channel it returns.
func servedChunks() (func(wire.Ref, []byte), chan uint32) {
	served := make(chan uint32, 64)
	return func(r wire.Ref, _ []byte) {
		select {
		case served <- r.Chunk:
		default:
		}
	}, served
}

// A spooled stream survives a cut connection: the receiver reconnects,
// reads the announcements again from chunk 0, and fetches the rest.
func TestStreamReconnect(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*watchdog)
	defer cancel()
	const cs = testStreamChunk
	input := make([]byte, 30*cs+5)
	rand.Read(input)
	pr, pw := io.Pipe()
	defer pr.Close()
	tamper, served := servedChunks()
	pass := testPass(t)
	addrs, res := startSender(t, ctx, SendOptions{Passphrase: pass, Stdin: pr, ChunkSize: cs,
		stream: streamTestHooks{spoolDir: t.TempDir()}, tamper: tamper})
	target, id := tcpTarget(t, addrs)
	px := newCutProxy(t, target)
	cut := make(chan struct{})
	go feedSlowly(ctx, pw, input, cs, served, func(i int) {
		if i == 10 {
			px.cut()
			close(cut)
		}
	})
	ro := recvOpts(pass, t.TempDir(), []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d/p2p/%s", px.port(), id)})
	ro.ResumeLogPath = filepath.Join(t.TempDir(), "state", "resume.db")
	var out bytes.Buffer
	ro.Stdout = &out
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
		t.Fatalf("received %d bytes, not the %d sent", out.Len(), len(input))
	}
	if sum.Reconnects < 1 {
		t.Fatalf("reconnects = %d, want at least 1", sum.Reconnects)
	}
	if r := waitSend(t, res); r.err != nil {
		t.Fatal(r.err)
	}
}

// Two receivers of one spooled stream each get all of it from byte 0,
// the second starting once the first has it all.
func TestStreamTwoReceivers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*watchdog)
	defer cancel()
	input := make([]byte, 9*testStreamChunk+1)
	rand.Read(input)
	pass := testPass(t)
	addrs, res := startSender(t, ctx, SendOptions{Passphrase: pass, Stdin: bytes.NewReader(input), ChunkSize: testStreamChunk,
		Receivers: 2, stream: streamTestHooks{spoolDir: t.TempDir()}})
	for i := range 2 {
		ro := recvOpts(pass, t.TempDir(), addrs)
		ro.ResumeLogPath = filepath.Join(t.TempDir(), "state", "resume.db")
		var out bytes.Buffer
		ro.Stdout = &out
		if _, err := Receive(ctx, ro); err != nil {
			t.Fatalf("receiver %d: %v", i+1, err)
		}
		if !bytes.Equal(out.Bytes(), input) {
			t.Fatalf("receiver %d got %d bytes, not the %d sent", i+1, out.Len(), len(input))
		}
	}
	if r := waitSend(t, res); r.err != nil || r.sum.Receivers != 2 {
		t.Fatalf("Send: %v, %+v; want 2 receivers", r.err, r.sum)
	}
}
