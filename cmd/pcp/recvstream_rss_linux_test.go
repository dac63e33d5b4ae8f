//go:build linux

package main

import (
	"crypto/sha256"
	"io"
	"math/rand"
	"os"
	"testing"
)

// TestStreamPipeMemory: 1 GiB from a pipe through `pcp send -` to
// `pcp receive --stdout`, checked by hash, with both peers' peak RSS
// under 64 MiB: neither holds the stream in memory, whatever its size.
func TestStreamPipeMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("1 GiB")
	}
	const size = 1 << 30
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	want := make(chan [32]byte, 1)
	go func() { // the producer: seeded bytes, hashed as they go in
		defer pw.Close()
		h := sha256.New()
		src := io.LimitReader(rand.New(rand.NewSource(15)), size)
		_, _ = io.Copy(io.MultiWriter(pw, h), src)
		want <- [32]byte(h.Sum(nil))
	}()
	s, words, addr, _ := streamSender(t, pr)
	pr.Close() // the sender has its copy
	recv, send := &peakRSS{}, &peakRSS{pid: s.cmd.Process.Pid}
	watch := func(pid int) io.Writer { recv.pid = pid; return io.MultiWriter(recv, send) }
	r := receiveStdoutWatch(t, t.TempDir(), 0, watch, "receive", "--stdout", "--yes", "--direct", addr, words)
	if r.code != exitOK {
		t.Fatalf("receive --stdout exit %d\n%s", r.code, r.stderr)
	}
	if r.n != size || r.sum != <-want {
		t.Fatalf("stdout: %d bytes of %d, or the hash differs", r.n, size)
	}
	if code := s.wait(); code != exitOK {
		t.Fatalf("send - exit %d\n%s", code, s.errText())
	}
	t.Logf("peak RSS: receiver %d MiB, sender %d MiB (%d, %d samples)", recv.peak>>20, send.peak>>20, recv.reads, send.reads)
	if recv.reads < 64 || send.reads < 64 {
		t.Fatalf("only %d and %d samples of the peers' RSS", recv.reads, send.reads)
	}
	if recv.peak >= 64<<20 || send.peak >= 64<<20 {
		t.Fatalf("peak RSS: receiver %d MiB, sender %d MiB; want both under 64 MiB", recv.peak>>20, send.peak>>20)
	}
}
