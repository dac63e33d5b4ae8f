//go:build linux

package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// peakRSS samples a running process's peak RSS (VmHWM, /proc/PID/status)
// each time another 8 MiB of its stdout arrives. VmHWM is the high-water
// mark of the process's own memory since its exec, so the last sample is
// its peak up to then. (ProcessState.SysUsage's Maxrss is not: Go starts
// children with vfork, and exec records the parent's high-water mark in
// the child's maxrss, so it reports the test process's peak.)
type peakRSS struct {
	pid         int
	n, next     int64
	peak, reads int64
}

func (p *peakRSS) Write(b []byte) (int, error) {
	if p.n += int64(len(b)); p.n >= p.next {
		p.next += 8 << 20
		if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid)); err == nil {
			for _, line := range bytes.Split(st, []byte("\n")) {
				if f := bytes.Fields(line); len(f) == 3 && string(f[0]) == "VmHWM:" {
					kb, _ := strconv.ParseInt(string(f[1]), 10, 64)
					p.peak, p.reads = max(p.peak, kb<<10), p.reads+1
				}
			}
		}
	}
	return len(b), nil
}

// TestReceiveStdoutMemory: 256 MiB through receive --stdout, checked by
// hash, with the receiver's peak RSS under 64 MiB: nothing is buffered
// in memory beyond a chunk.
func TestReceiveStdoutMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("256 MiB")
	}
	const size = 256 << 20
	src := filepath.Join(t.TempDir(), "big.bin")
	writeSeeded(t, src, size, 9)
	s, words, addr := sender(t, src)
	rss := &peakRSS{}
	watch := func(pid int) io.Writer { rss.pid = pid; return rss }
	r := receiveStdoutWatch(t, t.TempDir(), 0, watch, "receive", "--stdout", "--yes", "--direct", addr, words)
	if r.code != exitOK {
		t.Fatalf("receive --stdout exit %d\n%s", r.code, r.stderr)
	}
	if r.n != size || r.sum != sha256File(t, src) {
		t.Fatalf("stdout: %d bytes of %d, or the hash differs", r.n, size)
	}
	t.Logf("receiver peak RSS %d MiB (%d samples)", rss.peak>>20, rss.reads)
	if rss.reads < 16 {
		t.Fatalf("only %d samples of the receiver's RSS", rss.reads)
	}
	if rss.peak >= 64<<20 {
		t.Fatalf("receiver peak RSS %d MiB, want under 64 MiB", rss.peak>>20)
	}
	if code := s.wait(); code != exitOK {
		t.Fatalf("send exit %d\n%s", code, s.errText())
	}
}
