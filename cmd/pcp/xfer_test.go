package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/pcp-p2p/pcp/engine"
)

// TestSenderNumbers: the sender's bar waits for data to move, counts the
// files it offers, ends on the totals, and its summary times the transfer,
// not the wait for the receiver's answer.
func TestSenderNumbers(t *testing.T) {
	var out, errw bytes.Buffer
	u := newUI(modeTTY, &out, &errw, "send")
	u.now = fakeClock(100 * time.Millisecond)
	const total = 10 << 20
	for range 100 { // 10 s of the receiver's prompt: nothing moves
		u.event(engine.ProgressEvent{TotalBytes: total, FilesTotal: 3, Path: "direct", Streams: 0})
	}
	if errw.Len() != 0 {
		t.Fatalf("a bar was drawn while the receiver was still deciding: %q", errw.String())
	}
	for i := range 10 { // 1 s of transfer
		u.event(engine.ProgressEvent{Bytes: int64(i+1) << 20, TotalBytes: total, FilesTotal: 3, Path: "direct", Streams: 4})
	}
	u.event(engine.DoneEvent{Summary: engine.Summary{Files: 3, ManifestBytes: total, WireBytes: total, FetchedBytes: total,
		Duration: 11 * time.Second, Path: "direct", Streams: 4}})
	bar := errw.String()
	if strings.Contains(bar, "0/3 files") || !strings.Contains(bar, "3 files · direct · 4 streams") {
		t.Errorf("sender bar: %q", bar)
	}
	if !strings.Contains(bar, "3/3 files") {
		t.Errorf("last frame does not show the total: %q", bar)
	}
	if strings.Contains(out.String(), "11.0s") || !strings.Contains(out.String(), "in 1.1s") {
		t.Errorf("summary should time the transfer (about 1.1 s), not the wait: %q", out.String())
	}
}

// TestReceiverLastFrame: the last frame shows every file even when the
// last progress event counted one less.
func TestReceiverLastFrame(t *testing.T) {
	var out, errw bytes.Buffer
	u := newUI(modeTTY, &out, &errw, "receive")
	u.event(engine.ProgressEvent{Bytes: 90, TotalBytes: 100, Files: 2, FilesTotal: 3, Path: "direct", Streams: 4})
	u.event(engine.DoneEvent{Summary: engine.Summary{Files: 3, ManifestBytes: 100, FetchedBytes: 100, Path: "direct", Streams: 4}})
	if !strings.Contains(errw.String(), "3/3 files") {
		t.Errorf("last frame: %q", errw.String())
	}
}

func TestHashRateText(t *testing.T) {
	if got := hashRateText(20<<30, 20<<30, 10*time.Millisecond); !strings.HasSuffix(got, ", cached") {
		t.Errorf("20 GiB in 10 ms: %q", got)
	}
	if got := hashRateText(400<<20, 1<<30, time.Second); got != "400 MiB/1.0 GiB, 400 MiB/s" {
		t.Errorf("400 MiB in 1 s: %q", got)
	}
	// Through the bar: a re-send from the cache reads "cached", no rate.
	var out, errw bytes.Buffer
	u := newUI(modeTTY, &out, &errw, "send")
	u.now = fakeClock(time.Millisecond)
	u.event(engine.HashingEvent{Phase: "hash", Files: 0, FilesTotal: 3029, BytesTotal: 2 << 40})
	u.event(engine.HashingEvent{Phase: "hash", Files: 3029, FilesTotal: 3029, Bytes: 2 << 40, BytesTotal: 2 << 40})
	u.event(engine.ManifestEvent{Files: 3029, Bytes: 2 << 40})
	if !strings.Contains(errw.String(), "cached") || strings.Contains(errw.String(), "TiB/s") {
		t.Errorf("hash bar: %q", errw.String())
	}
}

// TestSenderBarEndsAtWhatItSent: when the receiver resumed, the sender's
// bar ends at the bytes this run sent, not at the offer's size (a jump to
// it in the last frame would fake the rate).
func TestSenderBarEndsAtWhatItSent(t *testing.T) {
	var out, errw bytes.Buffer
	u := newUI(modeTTY, &out, &errw, "send")
	u.now = fakeClock(100 * time.Millisecond)
	const total, sent = 10 << 20, 6 << 20
	u.event(engine.ProgressEvent{TotalBytes: total, FilesTotal: 1, Path: "direct"})
	for i := range 6 {
		u.event(engine.ProgressEvent{Bytes: int64(i+1) << 20, TotalBytes: total, FilesTotal: 1, Path: "direct", Streams: 4})
	}
	u.event(engine.DoneEvent{Summary: engine.Summary{Files: 1, ManifestBytes: total, WireBytes: sent, FetchedBytes: sent,
		Duration: time.Second, Path: "direct", Transport: "tcp", Streams: 4}})
	bar := errw.String()
	if !strings.Contains(bar, "6.0/6.0 MiB") || strings.Contains(bar, "10/10 MiB") {
		t.Errorf("sender's last frame should end at the 6 MiB sent: %q", bar)
	}
	if !strings.Contains(bar, "direct over tcp") {
		t.Errorf("the bar does not name the transport: %q", bar)
	}
}
