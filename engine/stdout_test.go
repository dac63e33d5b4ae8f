package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pcp-p2p/pcp/manifest"
)

// fileSHA256 is the SHA-256 of the file at path.
func fileSHA256(t testing.TB, path string) [32]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return [32]byte(h.Sum(nil))
}

// stdoutDirs lists the private directories of receives to Stdout in state.
func stdoutDirs(t testing.TB, state string) []string {
	t.Helper()
	ents, _ := os.ReadDir(state)
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "stdout-") {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestStdoutReceive: an offer of one file written to a writer: the bytes
// written are the file's, nothing is written at the destination and the
// private directory is gone afterwards.
func TestStdoutReceive(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "big.bin")
	writeRandom(t, src, 40<<20)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pass := testPass(t)
	addrs, res := startSender(t, ctx, SendOptions{Paths: []string{src}, Passphrase: pass})
	state := filepath.Join(dir, "state")
	ro := recvOpts(pass, "", addrs)
	ro.ResumeLogPath = filepath.Join(state, ResumeLogFile)
	h := sha256.New()
	ro.Stdout = h
	sum, err := Receive(ctx, ro)
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	if sr := <-res; sr.err != nil {
		t.Fatalf("sender: %v", sr.err)
	}
	if got, want := [32]byte(h.Sum(nil)), fileSHA256(t, src); got != want {
		t.Fatalf("the bytes written hash to %x, the file to %x", got, want)
	}
	if sum.ManifestBytes != 40<<20 {
		t.Errorf("summary: %d bytes, want %d", sum.ManifestBytes, 40<<20)
	}
	if left := stdoutDirs(t, state); len(left) != 0 {
		t.Errorf("left in the state directory: %v", left)
	}
	if list, err := ListTransfers(ro.ResumeLogPath); err != nil || len(list) != 0 {
		t.Errorf("resume log lists %d transfers (err %v), want none", len(list), err)
	}
	if _, err := os.Stat("big.bin"); err == nil {
		t.Error("big.bin written to the working directory")
	}
}

// TestStdoutRefusesFiles: an offer of several files is declined before
// anything moves; the sender keeps offering and serves the next receiver.
func TestStdoutRefusesFiles(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	o := startOffering(t, ctx, dir)
	state := filepath.Join(dir, "state")
	ro := recvOpts(o.pass, "", o.addrs)
	ro.ResumeLogPath = filepath.Join(state, ResumeLogFile)
	var out bytes.Buffer
	ro.Stdout = &out
	ro.Confirm = func(Offer) bool { t.Error("a refused offer asked Confirm"); return true }
	_, err := Receive(ctx, ro)
	var nf *NotOneFileError
	if !errors.As(err, &nf) || !errors.Is(err, ErrDeclined) || nf.Files != 2 {
		t.Fatalf("Receive: %v, want a NotOneFileError for 2 files that is ErrDeclined", err)
	}
	if out.Len() != 0 {
		t.Errorf("%d bytes written for a refused offer", out.Len())
	}
	if left := stdoutDirs(t, state); len(left) != 0 {
		t.Errorf("left in the state directory: %v", left)
	}
	o.stillOffers(t, ctx, dir)
}

// cancelWriter hashes what it is given and cancels after limit bytes.
type cancelWriter struct {
	h      io.Writer
	n      int64
	limit  int64
	cancel context.CancelFunc
}

func (w *cancelWriter) Write(b []byte) (int, error) {
	w.h.Write(b)
	if w.n += int64(len(b)); w.limit > 0 && w.n >= w.limit {
		w.cancel()
	}
	return len(b), nil
}

// TestStdoutResume: a receive to a writer stopped part way, run again: the
// second run writes the whole file from byte 0, reading what the first
// verified from the state directory and fetching only the rest.
func TestStdoutResume(t *testing.T) {
	dir := t.TempDir()
	size := int64(40 << 20)
	src := filepath.Join(dir, "big.bin")
	writeRandom(t, src, size)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pass := testPass(t)
	// Paced, so that the first run stops with part of the file fetched.
	addrs, res := startSender(t, ctx, SendOptions{Paths: []string{src}, Passphrase: pass, RateLimit: 40 << 20})
	state := filepath.Join(dir, "state")
	ro := recvOpts(pass, "", addrs)
	ro.ResumeLogPath = filepath.Join(state, ResumeLogFile)

	ctx1, cancel1 := context.WithCancel(ctx)
	defer cancel1()
	first := &cancelWriter{h: io.Discard, limit: 8 << 20, cancel: cancel1}
	ro.Stdout = first
	if _, err := Receive(ctx1, ro); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("first Receive: %v, want ErrInterrupted", err)
	}
	if first.n < 8<<20 || first.n >= size {
		t.Fatalf("first run wrote %d bytes", first.n)
	}
	if left := stdoutDirs(t, state); len(left) != 1 {
		t.Fatalf("after the interrupted run the state directory holds %v, want one stdout- directory", left)
	}

	h := sha256.New()
	ro.Stdout = &cancelWriter{h: h}
	sum, err := Receive(ctx, ro)
	if err != nil {
		t.Fatalf("second Receive: %v", err)
	}
	if sr := <-res; sr.err != nil {
		t.Fatalf("sender: %v", sr.err)
	}
	if got, want := [32]byte(h.Sum(nil)), fileSHA256(t, src); got != want {
		t.Fatal("the second run's output differs from the file")
	}
	total := manifest.ChunkCount(size, manifest.DefaultChunkSize)
	if sum.ChunksFetched >= total || sum.SkippedBytes == 0 {
		t.Fatalf("second run fetched %d of %d chunks (skipped %d bytes): want only the missing ones", sum.ChunksFetched, total, sum.SkippedBytes)
	}
	if left := stdoutDirs(t, state); len(left) != 0 {
		t.Errorf("left in the state directory: %v", left)
	}
}
