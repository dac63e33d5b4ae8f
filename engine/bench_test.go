package engine

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/manifest"
)

// benchTransfer times one full send/receive of src (hashing included) into a
// fresh destination with a resume log, b.N times.
func benchTransfer(b *testing.B, src string, bytes int64) {
	b.SetBytes(bytes)
	for i := 0; i < b.N; i++ {
		dest := filepath.Join(b.TempDir(), "out")
		pass := testPass(b)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		addrs, res := startSender(b, ctx, SendOptions{Paths: []string{src}, Passphrase: pass})
		ro := recvOpts(pass, dest, addrs)
		ro.ResumeLogPath = filepath.Join(b.TempDir(), "resume.db")
		if _, err := Receive(ctx, ro); err != nil {
			b.Fatal(err)
		}
		if r := <-res; r.err != nil {
			b.Fatal(r.err)
		}
		cancel()
	}
}

func BenchmarkSmallFiles(b *testing.B) {
	dir := b.TempDir()
	data := make([]byte, 4096)
	for i := 0; i < 10_000; i++ {
		p := filepath.Join(dir, "src", fmt.Sprintf("d%02d", i%100), fmt.Sprintf("f%05d", i))
		data[0], data[1] = byte(i), byte(i>>8)
		if i < 100 {
			os.MkdirAll(filepath.Dir(p), 0o755)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	benchTransfer(b, filepath.Join(dir, "src"), 10_000*4096)
}

func BenchmarkRandom256M(b *testing.B) {
	dir := b.TempDir()
	writeRandom(b, filepath.Join(dir, "src", "r.bin"), 256<<20)
	b.ResetTimer()
	benchTransfer(b, filepath.Join(dir, "src"), 256<<20)
}

// BenchmarkServeChunk serves the chunks of a 16 MiB random file, one after
// another, to io.Discard: the sender's hot path (read, BLAKE3 check, the
// compressor's probe, frame) without the network. allocs/op is per chunk.
func BenchmarkServeChunk(b *testing.B) {
	const chunks = 16
	dir := b.TempDir()
	writeRandom(b, filepath.Join(dir, "r.bin"), chunks<<20)
	ctx := context.Background()
	src, err := manifest.Walk(ctx, []string{filepath.Join(dir, "r.bin")}, manifest.WalkOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	s := newServer(testPass(b), "", 3, nil, discard(nil))
	s.setSource(src)
	cs := newChunkServer(s)
	defer cs.close()
	b.SetBytes(1 << 20)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := cs.serve(ctx, io.Discard, wire.Ref{Entry: 0, Chunk: uint32(i % chunks)}); err != nil {
			b.Fatal(err)
		}
	}
}
