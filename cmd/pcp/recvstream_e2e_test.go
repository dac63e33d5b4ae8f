package main

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestStreamReceiveKilledThenResumed: a stream received into a file, the
// receiver killed with SIGKILL mid-way, then run again: the file
// completes with the sender's bytes, and the second run fetched less than
// the whole (what the first verified was kept).
func TestStreamReceiveKilledThenResumed(t *testing.T) {
	const size = 24 << 20
	src, in := seededFile(t, size)
	s, words, addr, _ := streamSender(t, in, "--name", "dump.bin")
	dest, state := t.TempDir(), t.TempDir()
	args := []string{"receive", "--json", "--yes", "--direct", addr, "-o", dest}
	r := start(t, state, nil, append(args, "--limit-rate", "4M", words)...)
	offer := r.waitEvent("stream_offer", nil)
	if offer["name"] != "dump.bin" || offer["spooled"] != true {
		t.Fatalf("stream_offer %v", offer)
	}
	r.waitEvent("progress", func(ev map[string]any) bool { return num(ev, "bytes") >= 8<<20 })
	if err := r.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	r.wait()

	r2 := start(t, state, nil, append(args, words)...)
	resumed := r2.waitEvent("stream_offer", nil)
	done := r2.waitEvent("done", nil)
	if code := r2.wait(); code != exitOK {
		t.Fatalf("second receive exit %d\n%s", code, r2.errText())
	}
	if sha256File(t, filepath.Join(dest, "dump.bin")) != sha256File(t, src) {
		t.Fatal("the resumed file differs from the input")
	}
	fetched, skipped := num(done, "fetched_bytes"), num(done, "skipped_bytes")
	if num(resumed, "resume_bytes") == 0 || skipped == 0 || fetched >= size || fetched+skipped != size {
		t.Fatalf("second run: resume_bytes %d, fetched %d, skipped %d of %d: want a resume that fetched less",
			num(resumed, "resume_bytes"), fetched, skipped, size)
	}
	if code := s.wait(); code != exitOK {
		t.Fatalf("send - exit %d\n%s", code, s.errText())
	}
	if !strings.Contains(r2.stdout(), `"root"`) {
		t.Fatalf("no root in the done event:\n%s", r2.stdout())
	}
}
