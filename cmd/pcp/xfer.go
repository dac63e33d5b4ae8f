package main

import (
	"fmt"
	"time"

	"github.com/pcp-p2p/pcp/engine"
)

// trackTransfer keeps the transfer's own clock. A receiver's progress
// starts when it has accepted the offer. A sender's starts once a receiver
// is authenticated, before its user has answered the prompt: its clock
// starts at the last event before the bytes moved, so rates and times
// count the transfer only. Called with u.mu held.
func (u *ui) trackTransfer(e engine.ProgressEvent, now time.Time) {
	if u.xferStart.IsZero() {
		u.xferStart, u.xferBytes0 = now, e.Bytes
		// A receiver's progress starts once it has accepted: it waits no more.
		u.xferMoved = u.role != "send"
	}
	if !u.xferMoved {
		if e.Bytes == u.xferBytes0 && e.Bytes < e.TotalBytes {
			u.xferStart = now
		} else {
			u.xferMoved = true
		}
	}
	u.lastProg = e
	u.maxStreams = max(u.maxStreams, e.Streams)
}

// transferTime is how long data moved, or d (the engine's whole run) when
// no progress was seen.
func (u *ui) transferTime(d time.Duration, now time.Time) time.Duration {
	if u.xferStart.IsZero() {
		return d
	}
	return max(now.Sub(u.xferStart), time.Millisecond)
}

// barText is the live bar's description: files, path, streams, limit,
// the file in progress. The sender cannot see which files the receiver
// has finished, so it shows the count it offers.
func (u *ui) barText(e engine.ProgressEvent) string {
	files := fmt.Sprintf("%d/%d files", e.Files, e.FilesTotal)
	if u.role == "send" && e.Files == 0 {
		files = plural(int64(e.FilesTotal), "file")
	}
	return fmt.Sprintf("%s · %s · %s%s %s", files, pathOver(e.Path, e.Transport), plural(int64(e.Streams), "stream"),
		u.limitText(" · "), shorten(escape(e.Current), 32))
}

// lastFrame draws the bar's final frame with the totals of s before it is
// closed: every file (every selected one, of a partial receive), the bytes
// of this run, the streams used.
func (u *ui) lastFrame(s engine.Summary) {
	if u.bar == nil || u.bar.IsFinished() {
		return
	}
	e := u.lastProg
	files := s.Files
	if s.Partial {
		files = s.SelectedFiles
	}
	e.Files, e.FilesTotal, e.Current = files, files, ""
	e.Streams = max(s.Streams, u.maxStreams)
	if s.Path != "" {
		e.Path, e.Transport = s.Path, s.Transport
	}
	u.bar.Describe(u.barText(e))
	if u.role == "send" && s.FetchedBytes > 0 && s.FetchedBytes < u.barMax {
		// A receiver that resumed had the rest: the sender's bar ends at
		// what this run sent, so that its rate is that of the transfer.
		u.bar.ChangeMax64(max(s.FetchedBytes, 1))
		_ = u.bar.Set64(s.FetchedBytes)
		return
	}
	_ = u.bar.Set64(u.barMax)
}
