package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/manifest"
)

// TestManifestCannotNameStaging: a manifest whose top-level name is in
// the receiver's reserved staging name space is rejected before anything
// is written.
func TestManifestCannotNameStaging(t *testing.T) {
	h := manifest.HashChunk([]byte("x"))
	for _, top := range []string{".pcp-partial-0123456789abcdef", ".pcp-x"} {
		t.Run(top, func(t *testing.T) {
			base := t.TempDir()
			dest := filepath.Join(base, "dest")
			pass := testPass(t)
			addrs := hostileSender(t, pass, &manifest.Manifest{ChunkSize: manifest.DefaultChunkSize, Entries: []manifest.Entry{
				{Path: top, Kind: manifest.KindDir, Mode: 0o755},
				{Path: top + "/5", Kind: manifest.KindFile, Mode: 0o644, Size: 1, Chunks: []manifest.Hash{h}},
			}}, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			ro := recvOpts(pass, dest, addrs)
			ro.ResumeLogPath = filepath.Join(base, "resume.db")
			_, err := Receive(ctx, ro)
			if !errors.Is(err, ErrPeerMisbehaving) || !errors.Is(err, manifest.ErrReserved) {
				t.Fatalf("err = %v, want ErrPeerMisbehaving wrapping manifest.ErrReserved", err)
			}
			if des, _ := os.ReadDir(dest); len(des) != 0 {
				t.Fatalf("rejected manifest left %v in the destination", des)
			}
		})
	}
}

// interruptedReceive receives src into dest with a resume log and stops
// once 2 MiB are written: the sender stalls from chunk 4 of every file and
// on every chunk of entry stallEntry, so bigger files are left resumable
// in staging and stallEntry is not in place. The window holds more chunks
// than ever stall, so stalled chunks cannot starve the first ones of it.
func interruptedReceive(t *testing.T, src, dest, logPath string, stallEntry uint32) {
	t.Helper()
	pass := testPass(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stall := make(chan struct{})
	so := SendOptions{Paths: []string{src}, Passphrase: pass}
	so.tamper = func(r wire.Ref, _ []byte) {
		if r.Chunk >= 4 || r.Entry == stallEntry {
			<-stall
		}
	}
	sctx, stopSender := context.WithCancel(ctx)
	defer stopSender()
	defer close(stall)
	addrs, _ := startSender(t, sctx, so)
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	ro := recvOpts(pass, dest, addrs)
	ro.ResumeLogPath = logPath
	ro.MaxInFlight = 64 << 20
	ro.Events = func(e Event) {
		if p, ok := e.(ProgressEvent); ok && p.Bytes >= 2<<20 {
			stop()
		}
	}
	if _, err := Receive(rctx, ro); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("first run: %v, want ErrInterrupted", err)
	}
}

// TestPlantedStagingIsNotTrusted: whatever sits in the staging directory
// (or in its place) that the resume log does not vouch for is never used:
// a genuine transfer of an empty file, a one-chunk file and a resumed file
// puts exactly the right bytes and types in place, writes through no
// planted symlink, and does not fail.
func TestPlantedStagingIsNotTrusted(t *testing.T) {
	for _, tc := range []string{"planted files", "planted file of a resumed entry", "staging dir is a symlink"} {
		t.Run(tc, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "src")
			// Entries: 0 src, 1 src/big.bin, 2 src/empty.txt, 3 src/one.txt.
			writeRandom(t, filepath.Join(src, "big.bin"), 24<<20)
			writeFile(t, filepath.Join(src, "empty.txt"), nil)
			writeFile(t, filepath.Join(src, "one.txt"), []byte("one chunk of text\n"))
			dest, logPath := filepath.Join(dir, "out"), filepath.Join(dir, "resume.db")
			interruptedReceive(t, src, dest, logPath, 3)
			// The empty file went into place at once: remove it, so that
			// the next run creates it again.
			_ = os.Remove(filepath.Join(dest, "src", "empty.txt"))
			stage := filepath.Join(dest, ".pcp-partial-"+rootOf(t, src).String()[:16])
			if st, err := os.Lstat(filepath.Join(stage, "1")); err != nil || !st.Mode().IsRegular() {
				t.Fatalf("test setup: big.bin not left in staging: %v", err)
			}
			victim := filepath.Join(dest, "victim.txt")
			writeFile(t, victim, []byte("victim"))
			outside := filepath.Join(dir, "outside")
			writeFile(t, filepath.Join(outside, "keep"), []byte("keep"))
			resumes := true
			switch tc {
			case "planted files":
				writeFile(t, filepath.Join(stage, "2"), []byte("FOREIGN CONTENT"))
				mustSymlink(t, "../victim.txt", filepath.Join(stage, "3"))
				mustSymlink(t, "nowhere", filepath.Join(stage, "junk"))
			case "planted file of a resumed entry":
				// The resumed file's own name is a symlink now: its logged
				// chunks are not in it.
				if err := os.Remove(filepath.Join(stage, "1")); err != nil {
					t.Fatal(err)
				}
				mustSymlink(t, "../victim.txt", filepath.Join(stage, "1"))
				resumes = false
			case "staging dir is a symlink":
				writeFile(t, filepath.Join(outside, "2"), []byte("FOREIGN CONTENT"))
				mustSymlink(t, "keep", filepath.Join(outside, "3"))
				if err := os.RemoveAll(stage); err != nil {
					t.Fatal(err)
				}
				mustSymlink(t, outside, stage)
				resumes = false
			}
			sum, err := transferOnce(t, src, dest, logPath, false)
			if err != nil {
				t.Fatalf("genuine transfer after planting: %v", err)
			}
			assertSameTree(t, src, filepath.Join(dest, "src"))
			if b, _ := os.ReadFile(victim); string(b) != "victim" {
				t.Fatalf("written through a planted symlink: victim.txt = %q", b)
			}
			if b, _ := os.ReadFile(filepath.Join(outside, "keep")); string(b) != "keep" {
				t.Fatalf("written outside the destination: %q", b)
			}
			if resumes && sum.SkippedBytes < 2<<20 {
				t.Fatalf("the genuine staging file was not resumed: skipped %d bytes", sum.SkippedBytes)
			}
			if sum.FetchedBytes+sum.SkippedBytes != sum.ManifestBytes {
				t.Fatalf("fetched %d + skipped %d != %d", sum.FetchedBytes, sum.SkippedBytes, sum.ManifestBytes)
			}
			if _, err := os.Lstat(stage); !os.IsNotExist(err) {
				t.Fatalf("staging left behind: %v", err)
			}
		})
	}
}

func mustSymlink(t *testing.T, target, name string) {
	t.Helper()
	if err := os.Symlink(target, name); err != nil {
		t.Fatal(err)
	}
}
