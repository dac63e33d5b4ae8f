package engine

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pcp-p2p/pcp/engine/wire"
)

// TestSourceChangedDuringSend overwrites a file in place after the sender
// hashed it, keeping its size and mtime, so only the bytes differ: the
// sender must notice, refuse to send the changed chunk and name the file;
// the receiver must end with ErrSourceChanged (not a misbehaviour verdict)
// and keep the chunks it verified. Before the sender checked each chunk
// against the manifest, the receiver saw corrupt chunks and blamed the
// sender as misbehaving.
func TestSourceChangedDuringSend(t *testing.T) {
	t.Run("one source", func(t *testing.T) { sourceChangedDuringSend(t, false) })
	// From several sources, a single sender whose file changed still ends
	// the transfer the same way (gather.go, cause).
	t.Run("swarm", func(t *testing.T) { sourceChangedDuringSend(t, true) })
}

func sourceChangedDuringSend(t *testing.T, swarm bool) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	file := filepath.Join(src, "f.bin")
	const chunks = 10
	writeRandom(t, file, chunks<<20)
	st, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	pass := testPass(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ready := make(chan struct{})
	changed := make(chan string, 16)
	opts := SendOptions{Paths: []string{src}, Passphrase: pass, Events: func(e Event) {
		switch e := e.(type) {
		case ManifestEvent:
			close(ready)
		case SourceChangedEvent:
			changed <- e.Path
		}
	}}
	addrs, res := startSender(t, ctx, opts)
	select {
	case <-ready:
	case <-ctx.Done():
		t.Fatal("the sender never finished hashing")
	}
	// Rewrite the last chunk in place, then put the mtime back.
	f, err := os.OpenFile(file, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, 1<<20)
	rand.Read(junk)
	if _, err := f.WriteAt(junk, (chunks-1)<<20); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(file, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}

	logPath := filepath.Join(dir, "resume.db")
	ro := recvOpts(pass, filepath.Join(dir, "out"), addrs)
	ro.ResumeLogPath = logPath
	ro.Streams = 1 // chunks in order: the first nine arrive before the changed one
	ro.swarm = swarm
	_, err = Receive(ctx, ro)
	if !errors.Is(err, wire.ErrSourceChanged) || errors.Is(err, ErrPeerMisbehaving) {
		t.Fatalf("receiver: err = %v, want ErrSourceChanged and not ErrPeerMisbehaving", err)
	}
	if p, ok := SourceChangedPath(err); !ok || p != "src/f.bin" {
		t.Fatalf("receiver: changed path = %q, %v; want src/f.bin", p, ok)
	}
	r := <-res
	if !errors.Is(r.err, ErrSourceChanged) || !strings.Contains(r.err.Error(), "src/f.bin") {
		t.Fatalf("sender: err = %v, want ErrSourceChanged naming src/f.bin", r.err)
	}
	if strings.Contains(r.err.Error(), dir) {
		t.Fatalf("sender error shows the local path: %v", r.err)
	}
	select {
	case p := <-changed:
		if p != "src/f.bin" {
			t.Fatalf("SourceChangedEvent path = %q, want src/f.bin", p)
		}
	default:
		t.Fatal("the sender emitted no SourceChangedEvent")
	}
	list, err := ListTransfers(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].DoneChunks != chunks-1 {
		t.Fatalf("resume log: %+v; want the %d unchanged chunks kept", list, chunks-1)
	}
}
