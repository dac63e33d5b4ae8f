package store

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// The crash test re-executes the test binary as a child that marks batches
// in a loop, and kills it with SIGKILL at a random point.
const (
	envCrashDB    = "PCP_STORE_CRASH_DB"
	envCrashStart = "PCP_STORE_CRASH_START"

	crashFiles     = 100
	crashChunks    = 1000 // per file
	crashBatch     = 256
	crashBatches   = crashFiles * crashChunks / crashBatch
	crashRounds    = 4
	crashMaxReport = 40
)

// crashRef maps a global chunk index to its ref: file g/crashChunks (entry
// +1 for the directory), chunk g%crashChunks. Global order is key order.
func crashRef(g int) ChunkRef {
	return ChunkRef{Entry: uint32(g/crashChunks + 1), Chunk: uint32(g % crashChunks)}
}

// TestResumeLogCrashChild is the child; it does nothing unless run by
// TestResumeLogCrashConsistency.
func TestResumeLogCrashChild(t *testing.T) {
	path := os.Getenv(envCrashDB)
	if path == "" {
		t.Skip("child of TestResumeLogCrashConsistency")
	}
	start, err := strconv.Atoi(os.Getenv(envCrashStart))
	if err != nil {
		t.Fatal(err)
	}
	m := testManifest(t, crashFiles, crashChunks, testChunk)
	l, err := OpenResumeLog(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Begin(m, "/crash"); err != nil {
		t.Fatal(err)
	}
	fmt.Println("ready")
	refs := make([]ChunkRef, crashBatch)
	for b := start; b < crashBatches; b++ {
		for i := range refs {
			refs[i] = crashRef(b*crashBatch + i)
		}
		if err := l.MarkDone(m.Root(), refs); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("done %d\n", b) // reported only after the commit returned
	}
}

func TestResumeLogCrashConsistency(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	path := logPath(t)
	m := testManifest(t, crashFiles, crashChunks, testChunk)
	root := m.Root()
	rng := rand.New(rand.NewPCG(7, 11))
	start := 0
	for round := range crashRounds {
		killAfter := 1 + rng.IntN(crashMaxReport)
		lastReported := runCrashChild(t, path, start, killAfter)

		l, err := OpenResumeLog(path)
		if err != nil {
			t.Fatalf("round %d: reopen after SIGKILL: %v", round, err)
		}
		got := doneSet(t, l, root)
		info, err := l.Info(root)
		if err != nil {
			t.Fatal(err)
		}
		l.Close()
		n := len(got)
		if n%crashBatch != 0 {
			t.Fatalf("round %d: %d chunks done: a partial batch survived", round, n)
		}
		for g, r := range got {
			if r != crashRef(g) {
				t.Fatalf("round %d: done set is not a prefix: position %d is %v, want %v", round, g, r, crashRef(g))
			}
		}
		if n < (lastReported+1)*crashBatch {
			t.Fatalf("round %d: batch %d was reported committed but only %d chunks are done", round, lastReported, n)
		}
		if n > (lastReported+2)*crashBatch {
			t.Fatalf("round %d: %d chunks done, more than one batch past the last report %d", round, n, lastReported)
		}
		if info.DoneChunks != int64(n) || info.DoneBytes != int64(n)*testChunk {
			t.Fatalf("round %d: counters %d chunks %d bytes, done set has %d", round, info.DoneChunks, info.DoneBytes, n)
		}
		t.Logf("round %d: killed after report %d; %d whole batches durable", round, lastReported, n/crashBatch)
		start = n / crashBatch
	}
}

// runCrashChild starts the child at batch start, waits until it has
// reported killAfter committed batches, kills it with SIGKILL and returns
// the last batch it reported.
func runCrashChild(t *testing.T, path string, start, killAfter int) int {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestResumeLogCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envCrashDB+"="+path, envCrashStart+"="+strconv.Itoa(start))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	last, reports := start-1, 0
	sc := bufio.NewScanner(out)
	for reports < killAfter && sc.Scan() {
		line := sc.Text()
		if b, ok := strings.CutPrefix(line, "done "); ok {
			if last, err = strconv.Atoi(b); err != nil {
				t.Fatalf("child said %q", line)
			}
			reports++
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Reports that were already written count as committed too.
	for sc.Scan() {
		if b, ok := strings.CutPrefix(sc.Text(), "done "); ok {
			last, _ = strconv.Atoi(b)
		}
	}
	err = cmd.Wait()
	if reports < killAfter {
		t.Fatalf("child ended after %d reports, before it could be killed: %v", reports, err)
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child was not killed by SIGKILL: %v", err)
	}
	return last
}

// The Begin crash test kills a child in the middle of Begin, once some
// batches of manifest parts are committed.
const envBeginCrashDB = "PCP_STORE_BEGIN_CRASH_DB"

// beginCrashManifest is the manifest of the Begin crash test; its reader
// stalls after stallAt bytes if stall is set.
func beginCrashManifest(t *testing.T) *synthManifest {
	s := newSynthManifest(t, 1500, 100) // ~10.5 MB
	s.stallAt = 2*partsPerTx*maxPart + 1000
	return s
}

// TestBeginCrashChild is the child; it does nothing unless run by
// TestBeginCrashKilled.
func TestBeginCrashChild(t *testing.T) {
	path := os.Getenv(envBeginCrashDB)
	if path == "" {
		t.Skip("child of TestBeginCrashKilled")
	}
	s := beginCrashManifest(t)
	s.stall = func() error {
		fmt.Println("stalled") // after two batches were committed
		select {}
	}
	l, err := OpenResumeLog(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Fatal(l.Begin(s, "/crash"))
}

func TestBeginCrashKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process")
	}
	path := logPath(t)
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestBeginCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envBeginCrashDB+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() && sc.Text() != "stalled" {
		t.Logf("child: %s", sc.Text())
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child was not killed by SIGKILL: %v", cmd.ProcessState)
	}

	s := beginCrashManifest(t)
	l := openLog(t, path, ResumeLogOptions{})
	rt := raw(t, l, s.Root())
	if rt.info == nil || !rt.info.pending || len(rt.batches) < 2 {
		t.Fatalf("after SIGKILL: info %+v, batches %v; want a pending transfer with 2 batches", rt.info, rt.batches)
	}
	checkInvisible(t, l, s.Root())
	begin(t, l, s, "/crash")
	if back := readBack(t, l, s.Root()); len(back.Entries) != s.Len() {
		t.Fatalf("%d entries read back, want %d", len(back.Entries), s.Len())
	}
	if info, err := l.Info(s.Root()); err != nil || info.Files != s.Files() {
		t.Fatalf("Info = %+v, %v", info, err)
	}
}
