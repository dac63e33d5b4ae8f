package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/pcp-p2p/pcp/engine"
)

// outMode is how progress and results are shown.
type outMode int

const (
	modePlain outMode = iota // not a terminal: occasional plain lines
	modeTTY                  // a terminal: one live progress bar
	modeJSON                 // --json: one JSON event per line on stdout
)

// Throttles. The engine emits progress about 10 times a second.
const (
	plainEvery = 2 * time.Second
	jsonEvery  = 250 * time.Millisecond
)

// isTTY reports whether w is a terminal.
func isTTY(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// ui renders engine events and messages in one of the three modes. It is
// safe for concurrent use: engine callbacks arrive from several goroutines.
type ui struct {
	mode outMode
	out  io.Writer // human messages, or JSON lines
	errw io.Writer // prompts, the bar, errors
	now  func() time.Time
	role string // "send" or "receive": words for progress lines

	mu         sync.Mutex
	hashBar    *progressbar.ProgressBar
	bar        *progressbar.ProgressBar
	barMax     int64
	lastPlain  time.Time
	lastJSON   time.Time
	lastHash   time.Time
	skipped    int64 // bytes already present/verified before this run
	start      time.Time
	rateT      time.Time
	rateB      int64
	rate       float64
	listenHint func(addrs []string) // sender: print how to reach it (may be nil)
	closed     map[*progressbar.ProgressBar]bool
	changed    map[string]bool // SourceChangedEvent paths already shown
	searchOpen bool            // a terminal search line is drawn (search.go)
	lastSearch time.Time
	hints      []string // advice, printed after the error line by fail
	rateLimit  int64    // --limit-rate, bytes per second; 0 = none
	hashStart  time.Time
	// The transfer's own clock (xfer.go): from the last progress before
	// data moved, so a wait for the receiver or its prompt is not counted.
	xferStart  time.Time
	xferBytes0 int64 // the bytes of the first progress event
	xferMoved  bool
	lastProg   engine.ProgressEvent
	maxStreams int
	// text: the offer is a message (send --text, or a TextEvent on the
	// receiver): said as such, not as files (text.go).
	text bool
	// rx: the sender's receivers, one progress line each while more than
	// one is served (receivers.go).
	rx *receiverView
	// sources: the receiver's other sources (sources.go).
	sources sourceView
}

// setRateLimit shows --limit-rate in the progress line.
func (u *ui) setRateLimit(bps int64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.rateLimit = bps
}

// limitText is " · limit 10 MiB/s" with --limit-rate, else "".
func (u *ui) limitText(sep string) string {
	if u.rateLimit <= 0 {
		return ""
	}
	return sep + "limit " + humanRate(float64(u.rateLimit))
}

func newUI(mode outMode, out, errw io.Writer, role string) *ui {
	return &ui{mode: mode, out: out, errw: errw, now: time.Now, role: role}
}

// pickMode chooses the output mode for the given streams.
func pickMode(jsonFlag bool, stdout, stderr io.Writer) outMode {
	switch {
	case jsonFlag:
		return modeJSON
	case isTTY(stderr) && isTTY(stdout):
		return modeTTY
	}
	return modePlain
}

// say prints a human message (nothing in JSON mode).
func (u *ui) say(format string, args ...any) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.sayLocked(format, args...)
}

func (u *ui) sayLocked(format string, args ...any) {
	if u.mode == modeJSON {
		return
	}
	u.clearBars()
	fmt.Fprintf(u.out, format+"\n", args...)
}

// clearBars erases a live bar so a message can be printed cleanly; the bar
// redraws on its next update.
func (u *ui) clearBars() {
	u.endSearchLine(false)
	u.clearReceiverLines()
	if u.bar != nil && !u.bar.IsFinished() {
		_ = u.bar.Clear()
	}
	if u.hashBar != nil && !u.hashBar.IsFinished() {
		_ = u.hashBar.Clear()
	}
}

// json writes one event line: {"event":name, fields... (sorted)}.
func (u *ui) json(name string, fields map[string]any) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.jsonLocked(name, fields)
}

func (u *ui) jsonLocked(name string, fields map[string]any) {
	if u.mode != modeJSON {
		return
	}
	ev, _ := json.Marshal(name)
	line := append([]byte(`{"event":`), ev...)
	if len(fields) > 0 {
		b, err := json.Marshal(fields)
		if err != nil {
			b = []byte(fmt.Sprintf(`{"marshal_error":%q}`, err.Error()))
		}
		line = append(line, ',')
		line = append(line, b[1:]...)
	} else {
		line = append(line, '}')
	}
	line = append(jsonEscapeBidi(line), '\n')
	_, _ = u.out.Write(line)
}

// fail reports the final error: a JSON "error" event, and always one line
// on stderr.
func (u *ui) fail(msg string, code int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.endSearchLine(true)
	u.finishBars(false)
	u.jsonLocked("error", map[string]any{"error": msg, "code": code, "kind": exitKind(code)})
	// The message may quote the peer (an Error frame, file names).
	fmt.Fprintf(u.errw, "pcp: %s\n", escape(msg))
	for _, h := range u.hints {
		fmt.Fprintln(u.errw, h)
	}
	u.hints = nil
}

// advise keeps advice for the failure being reported: fail prints it after
// the error line, on stderr in every mode.
func (u *ui) advise(s string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.hints = append(u.hints, s)
}

// advised reports whether advice is waiting for fail.
func (u *ui) advised() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.hints) > 0
}

func (u *ui) finishBars(done bool) {
	for _, b := range []*progressbar.ProgressBar{u.hashBar, u.bar} {
		u.closeBar(b, done)
	}
}

// closeBar ends a bar's line once. A bar that reached 100% reports
// IsFinished by itself, but its line is still open.
func (u *ui) closeBar(b *progressbar.ProgressBar, done bool) {
	if b == nil || u.closed[b] {
		return
	}
	if u.closed == nil {
		u.closed = map[*progressbar.ProgressBar]bool{}
	}
	u.closed[b] = true
	if !b.IsFinished() {
		if done {
			_ = b.Finish()
		} else {
			_ = b.Exit()
		}
	}
	fmt.Fprintln(u.errw)
}

func (u *ui) newBar(max int64, desc string) *progressbar.ProgressBar {
	return progressbar.NewOptions64(max,
		progressbar.OptionSetWriter(u.errw),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionShowCount(),
		progressbar.OptionUseIECUnits(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetWidth(24),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowDescriptionAtLineEnd(),
		progressbar.OptionSetRenderBlankState(true),
	)
}

// event renders one engine event.
func (u *ui) event(e engine.Event) {
	u.mu.Lock()
	defer u.mu.Unlock()
	now := u.now()
	switch e := e.(type) {
	case engine.HashingEvent:
		u.hashing(e, now)
	case engine.ListeningEvent:
		u.jsonLocked("listening", map[string]any{"peer_id": e.PeerID, "addrs": nonNil(e.Addrs)})
		if u.listenHint != nil && u.mode != modeJSON {
			u.clearBars()
			u.listenHint(e.Addrs)
		}
	case engine.ManifestEvent:
		u.closeBar(u.hashBar, true)
		u.jsonLocked("manifest", map[string]any{"root": e.Root, "files": e.Files, "bytes": e.Bytes})
		switch {
		case u.role == "send" && u.text:
			u.sayLocked("Ready: a message of %s. Waiting for the receiver…", humanBytes(e.Bytes))
		case u.role == "send":
			u.sayLocked("Ready: %s, %s (root %s). Waiting for the receiver…", plural(int64(e.Files), "file"), humanBytes(e.Bytes), shortRoot(e.Root))
		}
	case engine.SearchingEvent:
		u.searching(e, now)
	case engine.PeerFoundEvent:
		u.jsonLocked("peer", map[string]any{"peer": e.Peer, "source": e.Source, "path": e.Path})
		u.sayLocked("Found %s via %s, authenticating…", shortPeer(e.Peer), e.Source)
	case engine.AuthFailedEvent:
		f := map[string]any{"peer": e.Peer, "failures": e.Failures, "max": e.Max}
		if e.Err != nil {
			f["error"] = message(e.Err)
		}
		u.jsonLocked("auth_failed", f)
		if u.role == "send" {
			u.sayLocked("A receiver (%s) failed to authenticate: wrong passphrase? (%d of %d failures allowed)", shortPeer(e.Peer), e.Failures, e.Max)
		} else {
			u.sayLocked("%s did not accept the passphrase.", shortPeer(e.Peer))
		}
	case engine.AuthenticatedEvent:
		f := map[string]any{"peer": e.Peer, "path": e.Path}
		if e.Receiver != "" {
			f["receiver"] = e.Receiver
		}
		u.jsonLocked("authenticated", f)
		if u.role == "send" {
			u.sayLocked("Receiver %s authenticated (%s).", u.receiverName(e.Receiver, e.Peer), orUnknown(e.Path))
		} else {
			u.sayLocked("Authenticated with %s (%s).", shortPeer(e.Peer), orUnknown(e.Path))
		}
	case engine.ResumedEvent:
		u.skipped = e.PresentBytes + e.ResumeBytes
		u.jsonLocked("resumed", map[string]any{"bytes": u.skipped, "present_bytes": e.PresentBytes,
			"resume_bytes": e.ResumeBytes, "total_bytes": e.TotalBytes})
		u.sayLocked("%s", resumeLine(e))
	case engine.ProgressEvent:
		u.progress(e, now)
	case engine.ReconnectingEvent:
		f := map[string]any{"attempt": e.Attempt}
		if e.Err != nil {
			f["error"] = message(e.Err)
		}
		u.jsonLocked("reconnecting", f)
		u.reconnecting(e, now) // reconnect.go
	case engine.AdvertisedEvent:
		u.jsonLocked("advertised", map[string]any{"via": "dht", "addrs": nonNil(e.Addrs)})
	case engine.HolePunchEvent:
		f := map[string]any{"peer": e.Peer, "direct": e.Direct}
		if e.Err != nil {
			f["error"] = message(e.Err)
		}
		u.jsonLocked("hole_punch", f)
		if e.Direct {
			u.sayLocked("Direct connection to %s (hole punched).", shortPeer(e.Peer))
		}
	case engine.DoneEvent:
		u.rxView().final = e.Receiver
		u.done(e.Summary, now)
	case engine.TextEvent:
		u.showText(e.Text)
	case engine.SourceChangedEvent:
		u.jsonLocked("source_changed", map[string]any{"path": e.Path})
		if !u.changed[e.Path] { // every stream that hits it reports it
			if u.changed == nil {
				u.changed = map[string]bool{}
			}
			u.changed[e.Path] = true
			u.sayLocked("%s changed on disk since it was hashed; it was not sent.", escape(e.Path))
		}
	case engine.SkippedEvent:
		u.jsonLocked("skipped", map[string]any{"path": e.Path, "reason": e.Reason})
		u.sayLocked("skipped %s: %s", escape(e.Path), escape(e.Reason))
	case engine.SymlinkSkippedEvent:
		u.jsonLocked("symlink_skipped", map[string]any{"path": e.Path, "target": e.Target, "reason": e.Reason})
		u.sayLocked("skipped symlink %s -> %s: %s", escape(e.Path), escape(e.Target), e.Reason)
	case engine.SourceEvent:
		u.sourceEvent(e) // sources.go
	default:
		u.receiverEvent(e) // receivers.go
	}
}

func resumeLine(e engine.ResumedEvent) string {
	have := e.PresentBytes + e.ResumeBytes
	s := fmt.Sprintf("resuming: %s of %s already verified", humanBytes(have), humanBytes(e.TotalBytes))
	if e.PresentBytes > 0 && e.ResumeBytes > 0 {
		s += fmt.Sprintf(" (%s from the resume log, %s already in place)", humanBytes(e.ResumeBytes), humanBytes(e.PresentBytes))
	} else if e.ResumeBytes == 0 {
		s += " (identical files already in place)"
	}
	return s
}

func (u *ui) hashing(e engine.HashingEvent, now time.Time) {
	if u.text && u.mode != modeJSON {
		return // a message: no files to scan, as far as the user knows
	}
	switch u.mode {
	case modeJSON:
		if now.Sub(u.lastHash) < jsonEvery && e.Bytes < e.BytesTotal {
			return
		}
		u.lastHash = now
		u.jsonLocked("hashing", map[string]any{"phase": e.Phase, "files": e.Files, "files_total": e.FilesTotal,
			"bytes": e.Bytes, "bytes_total": e.BytesTotal, "current": e.Current})
	case modeTTY:
		u.hashBarTTY(e, now)
	default:
		if now.Sub(u.lastHash) < plainEvery {
			return
		}
		u.lastHash = now
		if e.Phase == "scan" {
			fmt.Fprintf(u.out, "scanning: %s, %s so far\n", plural(e.FilesTotal, "file"), humanBytes(e.BytesTotal))
			return
		}
		fmt.Fprintf(u.out, "hashing: %s of %s (%s), %d of %d files\n", humanBytes(e.Bytes), humanBytes(e.BytesTotal),
			percent(e.Bytes, e.BytesTotal), e.Files, e.FilesTotal)
	}
}

func percent(n, total int64) string {
	if total <= 0 {
		return "100%"
	}
	return fmt.Sprintf("%d%%", n*100/total)
}

// updateRate keeps a rate over the last interval of at least 1 s.
func (u *ui) updateRate(bytes int64, now time.Time) {
	if u.start.IsZero() {
		u.start, u.rateT, u.rateB = now, now, bytes
		return
	}
	if dt := now.Sub(u.rateT); dt >= time.Second {
		u.rate = float64(bytes-u.rateB) / dt.Seconds()
		u.rateT, u.rateB = now, bytes
	}
}

func (u *ui) progress(e engine.ProgressEvent, now time.Time) {
	if u.receiverProgress(e, now) { // more than one receiver: a line each
		return
	}
	u.trackTransfer(e, now)
	u.updateRate(e.Bytes, now)
	switch u.mode {
	case modeJSON:
		if now.Sub(u.lastJSON) < jsonEvery && e.Bytes < e.TotalBytes {
			return
		}
		u.lastJSON = now
		f := map[string]any{"bytes": e.Bytes, "total_bytes": e.TotalBytes,
			"wire_bytes": e.WireBytes, "files": e.Files, "files_total": e.FilesTotal, "current": e.Current,
			"path": e.Path, "transport": e.Transport, "streams": e.Streams, "rate": int64(u.rate)}
		if u.rateLimit > 0 {
			f["rate_limit"] = u.rateLimit
		}
		if e.Receiver != "" {
			f["receiver"], f["peer"], f["receivers"] = e.Receiver, e.Peer, e.Receivers
		}
		if e.StreamOpen {
			f["stream_open"] = true // send -: total_bytes is what was read so far
		}
		u.jsonLocked("progress", f)
	case modeTTY:
		span := e.TotalBytes - u.skipped
		if span <= 0 || !u.xferMoved {
			return // no bar while waiting for the receiver's answer
		}
		if u.bar == nil || u.barMax != span {
			if u.bar == nil {
				u.bar = u.newBar(span, "")
			} else {
				u.bar.ChangeMax64(span)
			}
			u.barMax = span
		}
		if u.bar.IsFinished() {
			return
		}
		u.bar.Describe(u.barText(e))
		// The bar completes on Done (lastFrame), with the final counts: all
		// bytes verified is not yet every file in place.
		_ = u.bar.Set64(min(max(e.Bytes-u.skipped, 0), span-1))
	default:
		if now.Sub(u.lastPlain) < plainEvery {
			return
		}
		u.lastPlain = now
		fmt.Fprintln(u.out, plainProgress(u.role, e, u.rate)+u.limitText(", "))
	}
}

// plainProgress is the line printed every 2 s when not on a terminal.
func plainProgress(role string, e engine.ProgressEvent, rate float64) string {
	verb := "receiving"
	if role == "send" {
		verb = "sending"
	}
	eta := "-"
	if rate > 0 && e.TotalBytes > e.Bytes {
		eta = humanDuration(time.Duration(float64(e.TotalBytes-e.Bytes) / rate * float64(time.Second)))
	}
	files := fmt.Sprintf("files %d/%d", e.Files, e.FilesTotal)
	if role == "send" && e.Files == 0 { // the sender offers them; the receiver counts them done
		files = plural(int64(e.FilesTotal), "file")
	}
	total := humanBytes(e.TotalBytes)
	if e.StreamOpen { // send -: the input has not ended
		total, eta = total+" read so far", "-"
	}
	return fmt.Sprintf("%s: %s of %s (%s), %s, ETA %s, %s, %s, %d streams", verb,
		humanBytes(e.Bytes), total, percent(e.Bytes, e.TotalBytes), humanRate(rate), eta,
		files, pathOver(e.Path, e.Transport), e.Streams)
}

func (u *ui) done(s engine.Summary, now time.Time) {
	u.lastFrame(s)
	u.finishBars(true)
	took := u.transferTime(s.Duration, now)
	f := map[string]any{
		"root": s.Root, "files": s.Files, "manifest_bytes": s.ManifestBytes, "wire_bytes": s.WireBytes,
		"fetched_bytes": s.FetchedBytes, "skipped_bytes": s.SkippedBytes, "chunks_fetched": s.ChunksFetched,
		"chunks_refetched": s.ChunksRefetched, "reconnects": s.Reconnects,
		"duration_ms": s.Duration.Milliseconds(), "duration": s.Duration.String(), "path": s.Path, "streams": s.Streams,
		"transport": s.Transport, "transfer_ms": took.Milliseconds(),
		"partial": s.Partial, "selected_files": s.SelectedFiles, "selected_bytes": s.SelectedBytes,
		"skipped_files": s.SkippedFiles,
	}
	u.receiverDoneFields(f, s)
	u.jsonLocked("done", f)
	if u.mode == modeJSON {
		return
	}
	if u.text {
		if u.role == "send" {
			fmt.Fprintf(u.out, "Done: the receiver has the message.\n")
		}
		return // the receiver printed the message itself
	}
	rate := ""
	if took > 0 && s.FetchedBytes > 0 {
		rate = fmt.Sprintf(" (%s)", humanRate(float64(s.FetchedBytes)/took.Seconds()))
	}
	if u.role == "send" && (u.rxView().multi || s.Receivers > 1) {
		fmt.Fprintln(u.out, multiDoneLine(s, took))
		return
	}
	if u.role == "send" && s.Selected > 0 {
		// The receiver took part of the offer (--only/--skip): it has
		// what it selected, not every file.
		fmt.Fprintf(u.out, "Done: the receiver has the part it selected of %s (%s). Sent %s over the wire in %s%s.\n",
			plural(int64(s.Files), "file"), humanBytes(s.ManifestBytes), humanBytes(s.WireBytes), humanDuration(took), rate)
		return
	}
	if u.role == "send" {
		fmt.Fprintf(u.out, "Done: the receiver has %s %s (%s). Sent %s over the wire in %s%s.\n",
			agree(int64(s.Files), "the", "all"), plural(int64(s.Files), "file"), humanBytes(s.ManifestBytes),
			humanBytes(s.WireBytes), humanDuration(took), rate)
		return
	}
	var parts []string
	parts = append(parts, fmt.Sprintf("%s over the wire", humanBytes(s.WireBytes)))
	if s.SkippedBytes > 0 {
		parts = append(parts, fmt.Sprintf("%s already present", humanBytes(s.SkippedBytes)))
	}
	if s.ChunksRefetched > 0 {
		parts = append(parts, fmt.Sprintf("%s re-fetched after failed verification", plural(s.ChunksRefetched, "chunk")))
	}
	if s.Reconnects > 0 {
		parts = append(parts, plural(int64(s.Reconnects), "reconnect"))
	}
	parts = append(parts, fmt.Sprintf("%s, %d streams", pathOver(s.Path, s.Transport), s.Streams))
	what := fmt.Sprintf("%s (%s)", plural(int64(s.Files), "file"), humanBytes(s.ManifestBytes))
	if s.Partial { // select.go
		what = fmt.Sprintf("the selected %d of %s (%s of %s)", s.SelectedFiles, plural(int64(s.Files), "file"), humanBytes(s.SelectedBytes), humanBytes(s.ManifestBytes))
	}
	fmt.Fprintf(u.out, "Done: %s received and verified in %s%s; %s.\n", what, humanDuration(took), rate, strings.Join(parts, ", "))
}

// pathOver is the path with its transport when known: "direct over tcp".
func pathOver(path, transport string) string {
	if path == "" || transport == "" {
		return orUnknown(path)
	}
	return path + " over " + transport
}

func orUnknown(path string) string {
	if path == "" {
		return "path unknown"
	}
	return path
}

func shortRoot(root string) string {
	if len(root) > 12 {
		return root[:12]
	}
	return root
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
