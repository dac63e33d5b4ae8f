package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/pcp-p2p/pcp/engine"
)

const (
	peerA = "12D3KooWAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	peerB = "12D3KooWBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
)

// feedTwo sends three rounds of progress for r1 and r2 to u, 300 ms apart.
func feedTwo(u *ui) {
	for i := range 3 {
		u.event(engine.ProgressEvent{Receiver: "r1", Peer: peerA, Receivers: 2, Bytes: int64(i+1) << 20, TotalBytes: 30 << 20, Path: "direct", Transport: "tcp", Streams: 4})
		u.event(engine.ProgressEvent{Receiver: "r2", Peer: peerB, Receivers: 2, Bytes: int64(i+2) << 20, TotalBytes: 30 << 20, Path: "relayed", Streams: 2})
	}
}

// TestTerminalLinePerReceiver: with two receivers the sender's terminal
// shows a line for each (ID, peer, bytes of total, path), erased before a
// message, and the final line counts the receivers.
func TestTerminalLinePerReceiver(t *testing.T) {
	var out, errw bytes.Buffer
	u := newUI(modeTTY, &out, &errw, "send")
	u.now = fakeClock(300 * time.Millisecond)
	u.setMultiReceiver(true)
	feedTwo(u)
	screen := errw.String()
	last := screen[strings.LastIndex(screen, "Sending to"):]
	for _, want := range []string{"Sending to 2 receivers:", "r1   12D3Koo…AAAA   3.0 MiB of 30 MiB (10%) · direct over tcp · 4 streams",
		"r2   12D3Koo…BBBB   4.0 MiB of 30 MiB (13%) · relayed · 2 streams"} {
		if !strings.Contains(last, want) {
			t.Fatalf("last frame %q lacks %q", last, want)
		}
	}
	u.event(engine.ReceiverDoneEvent{Receiver: "r1", Peer: peerA, Summary: engine.Summary{WireBytes: 30 << 20, Duration: time.Second}})
	if !strings.HasSuffix(errw.String(), "\x1b[3A\x1b[J") {
		t.Fatalf("the lines were not erased before the message: %q", errw.String()[len(screen):])
	}
	if !strings.Contains(out.String(), "Receiver r1 (12D3Koo…AAAA) has everything") {
		t.Fatalf("no per-receiver done line: %q", out.String())
	}
	u.event(engine.ReceiverDoneEvent{Receiver: "r2", Peer: peerB})
	u.event(engine.DoneEvent{Receiver: "r2", Summary: engine.Summary{Files: 3, Receivers: 2, ManifestBytes: 30 << 20, WireBytes: 60 << 20}})
	if !strings.Contains(out.String(), "Done: 2 receivers have all 3 files (30 MiB)") {
		t.Fatalf("final line: %q", out.String())
	}
}

// TestOneReceiverLooksAsBefore: a default send (one receiver) draws the one
// bar, names no receiver ID and says "the receiver".
func TestOneReceiverLooksAsBefore(t *testing.T) {
	var out, errw bytes.Buffer
	u := newUI(modeTTY, &out, &errw, "send")
	u.now = fakeClock(300 * time.Millisecond)
	u.setMultiReceiver(false)
	u.event(engine.AuthenticatedEvent{Peer: peerA, Path: "direct", Receiver: "r1"})
	for i := range 3 {
		u.event(engine.ProgressEvent{Receiver: "r1", Peer: peerA, Receivers: 1, Bytes: int64(i) << 20, TotalBytes: 30 << 20, Path: "direct", Streams: 4})
	}
	u.event(engine.DoneEvent{Receiver: "r1", Summary: engine.Summary{Files: 1, Receivers: 1, ManifestBytes: 30 << 20}})
	if strings.Contains(errw.String(), "Sending to") || strings.Contains(out.String(), "r1") {
		t.Fatalf("a single receiver is shown as many:\n%s\n%s", out.String(), errw.String())
	}
	if !strings.Contains(out.String(), "Receiver 12D3Koo…AAAA authenticated (direct).") || !strings.Contains(out.String(), "Done: the receiver has") {
		t.Fatalf("output changed for one receiver:\n%s", out.String())
	}
}

// TestPlainLinePerReceiver: not on a terminal, each receiver gets its own
// plain progress line, named.
func TestPlainLinePerReceiver(t *testing.T) {
	var out, errw bytes.Buffer
	u := newUI(modePlain, &out, &errw, "send")
	u.now = fakeClock(300 * time.Millisecond)
	u.setMultiReceiver(true)
	feedTwo(u)
	if !strings.Contains(out.String(), "r1 (12D3Koo…AAAA): sending:") || !strings.Contains(out.String(), "r2 (12D3Koo…BBBB): sending:") {
		t.Fatalf("plain lines: %q", out.String())
	}
}
