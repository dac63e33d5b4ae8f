package main

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/pcp-p2p/pcp/engine"
)

// receiverFlags are send's --keep-serving and --receivers: how many
// receivers one send serves (at the same time) before it exits.
type receiverFlags struct {
	keepServing bool
	count       int
	fs          *pflag.FlagSet
}

func (r *receiverFlags) register(fs *pflag.FlagSet) {
	r.fs = fs
	fs.BoolVar(&r.keepServing, "keep-serving", false, "serve any number of receivers, at the same time, until Ctrl-C\n(exit 0 if at least one received everything)")
	fs.IntVar(&r.count, "receivers", 1, "exit after this many receivers have everything; they are served at the same time,\nand one still receiving when the count is reached is let finish")
}

// check fails on both flags at once, or a count below 1.
func (r *receiverFlags) check() error {
	if r.keepServing && r.fs != nil && r.fs.Changed("receivers") {
		return usageError{fmt.Errorf("--keep-serving and --receivers exclude each other: --keep-serving serves until Ctrl-C, --receivers N exits after N receivers")}
	}
	if r.count < 1 {
		return usageError{fmt.Errorf("--receivers must be at least 1 (--keep-serving serves until Ctrl-C)")}
	}
	return nil
}

// value is engine.SendOptions.Receivers.
func (r *receiverFlags) value() int {
	if r.keepServing {
		return -1
	}
	return r.count
}

// receiverView is the sender's view of its receivers: one progress line
// each while more than one is served. Guarded by ui.mu.
type receiverView struct {
	multi     bool // the send may serve more than one receiver
	last      map[string]engine.ProgressEvent
	lastJSON  map[string]time.Time
	lastPlain map[string]time.Time
	lastDraw  time.Time
	drawn     int // terminal lines drawn below the messages
	// lines: a line per receiver is shown, and stays until no receiver is
	// left (so the last one does not jump to a bar of its own).
	lines bool
	final string // the receiver named in the DoneEvent
}

// rxView returns u's receiver view, made on first use.
func (u *ui) rxView() *receiverView {
	if u.rx == nil {
		u.rx = &receiverView{last: map[string]engine.ProgressEvent{}, lastJSON: map[string]time.Time{},
			lastPlain: map[string]time.Time{}}
	}
	return u.rx
}

// setMultiReceiver says the send may serve more than one receiver: events
// about each then name it.
func (u *ui) setMultiReceiver(multi bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.rxView().multi = multi
}

// receiverProgress renders a sender's progress event while more than one
// receiver is served, and reports whether it did; with one, the caller
// renders it as always. Called with u.mu held.
func (u *ui) receiverProgress(e engine.ProgressEvent, now time.Time) bool {
	if u.role != "send" || e.Receiver == "" {
		return false
	}
	v := u.rxView()
	v.last[e.Receiver] = e
	if e.Receivers <= 1 && len(v.last) <= 1 && !v.lines {
		return false
	}
	v.lines = true
	u.trackTransfer(e, now) // the transfer's clock, for the final line
	switch u.mode {
	case modeJSON:
		if now.Sub(v.lastJSON[e.Receiver]) < jsonEvery && e.Bytes < e.TotalBytes {
			return true
		}
		v.lastJSON[e.Receiver] = now
		u.jsonLocked("progress", map[string]any{"receiver": e.Receiver, "peer": e.Peer, "receivers": e.Receivers,
			"bytes": e.Bytes, "total_bytes": e.TotalBytes, "wire_bytes": e.WireBytes, "files": e.Files,
			"files_total": e.FilesTotal, "path": e.Path, "transport": e.Transport, "streams": e.Streams})
	case modeTTY:
		if now.Sub(v.lastDraw) < 200*time.Millisecond {
			return true
		}
		v.lastDraw = now
		u.drawReceivers()
	default:
		if now.Sub(v.lastPlain[e.Receiver]) < plainEvery {
			return true
		}
		v.lastPlain[e.Receiver] = now
		fmt.Fprintf(u.out, "%s (%s): %s\n", e.Receiver, shortPeer(e.Peer), plainProgress("send", e, 0))
	}
	return true
}

// receiverLine is one receiver's terminal line.
func receiverLine(e engine.ProgressEvent) string {
	return fmt.Sprintf("  %-4s %-14s %s of %s (%s) · %s · %s", e.Receiver, shortPeer(e.Peer), humanBytes(e.Bytes),
		humanBytes(e.TotalBytes), percent(e.Bytes, e.TotalBytes), pathOver(e.Path, e.Transport), plural(int64(e.Streams), "stream"))
}

// drawReceivers redraws one line per receiver on the terminal, in ID order.
func (u *ui) drawReceivers() {
	v := u.rxView()
	if u.bar != nil {
		// The lines replace the one bar: erase it, without its final frame.
		_ = u.bar.Clear()
		u.bar, u.barMax = nil, 0
	}
	u.clearReceiverLines()
	ids := make([]string, 0, len(v.last))
	for id := range v.last {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		if len(ids[i]) != len(ids[j]) {
			return len(ids[i]) < len(ids[j]) // r2 before r10
		}
		return ids[i] < ids[j]
	})
	var b strings.Builder
	fmt.Fprintf(&b, "Sending to %s:\n", plural(int64(len(ids)), "receiver"))
	for _, id := range ids {
		b.WriteString(receiverLine(v.last[id]) + "\n")
	}
	fmt.Fprint(u.errw, b.String())
	v.drawn = len(ids) + 1
}

// clearReceiverLines erases the receiver lines, so a message can be
// printed; they are drawn again on the next progress. Called with u.mu held.
func (u *ui) clearReceiverLines() {
	if u.rx == nil || u.rx.drawn == 0 {
		return
	}
	fmt.Fprintf(u.errw, "\x1b[%dA\x1b[J", u.rx.drawn)
	u.rx.drawn = 0
}

// dropReceiver forgets a receiver's line: its session ended.
func (u *ui) dropReceiver(id string) {
	v := u.rxView()
	delete(v.last, id)
	delete(v.lastJSON, id)
	delete(v.lastPlain, id)
	if len(v.last) == 0 {
		v.lines = false
		u.clearReceiverLines()
	}
}

// receiverName is "r2 (12D3…abcd)" in a multi-receiver send, else the
// short peer as always.
func (u *ui) receiverName(id, peer string) string {
	if id == "" || !u.rxView().multi {
		return shortPeer(peer)
	}
	return fmt.Sprintf("%s (%s)", id, shortPeer(peer))
}

// receiverEvent renders the sender's events about single receivers.
// Called with u.mu held.
func (u *ui) receiverEvent(e engine.Event) {
	switch e := e.(type) {
	case engine.ReceiverDoneEvent:
		u.dropReceiver(e.Receiver)
		s := e.Summary
		u.jsonLocked("receiver_done", map[string]any{"receiver": e.Receiver, "peer": e.Peer, "wire_bytes": s.WireBytes,
			"fetched_bytes": s.FetchedBytes, "chunks_fetched": s.ChunksFetched, "duration_ms": s.Duration.Milliseconds(),
			"path": s.Path, "transport": s.Transport})
		if u.rxView().multi {
			// The next receiver alone gets a bar of its own.
			u.closeBar(u.bar, true)
			u.bar, u.barMax = nil, 0
			u.sayLocked("Receiver %s has everything: sent %s over the wire in %s (%s).", u.receiverName(e.Receiver, e.Peer),
				humanBytes(s.WireBytes), humanDuration(s.Duration), pathOver(s.Path, s.Transport))
		}
	case engine.ReceiverFailedEvent:
		u.dropReceiver(e.Receiver)
		f := map[string]any{"receiver": e.Receiver, "peer": e.Peer}
		if e.Err != nil {
			f["error"] = message(e.Err)
		}
		u.jsonLocked("receiver_failed", f)
		why := ""
		if e.Err != nil {
			why = " (" + escape(message(e.Err)) + ")"
		}
		u.sayLocked("Receiver %s stopped before it had everything.%s", u.receiverName(e.Receiver, e.Peer), why)
	case engine.OldPeerEvent:
		u.jsonLocked("old_peer", map[string]any{"peer": e.Peer, "protocol": "2.0.0"})
		u.sayLocked("A receiver with an older pcp (protocol 2.0.0) tried to connect (%s); it needs the same pcp version as this one.", shortPeer(e.Peer))
	}
}

// receiverDoneFields adds the sender's receiver fields to the "done" JSON
// event.
func (u *ui) receiverDoneFields(f map[string]any, s engine.Summary) {
	if u.role != "send" {
		return
	}
	f["receiver"] = u.rxView().final
	f["receivers"] = s.Receivers
	f["selected"] = s.Selected // of them, took a selection (receive --only/--skip)
}

// multiDoneLine is the sender's final line when it served, or could have
// served, more than one receiver.
func multiDoneLine(s engine.Summary, took time.Duration) string {
	who := "1 receiver has"
	if s.Receivers != 1 {
		who = fmt.Sprintf("%d receivers have", s.Receivers)
	}
	sel := ""
	if s.Selected > 0 {
		sel = fmt.Sprintf(" (%d of them took a selection)", s.Selected)
	}
	return fmt.Sprintf("Done: %s %s %s (%s)%s. Sent %s over the wire in %s.", who, agree(int64(s.Files), "the", "all"),
		plural(int64(s.Files), "file"), humanBytes(s.ManifestBytes), sel, humanBytes(s.WireBytes), humanDuration(took))
}

// declined renders a receiver that declined: the offer stands.
func (u *ui) declined(d engine.DeclinedEvent) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.dropReceiver(d.Receiver)
	f := map[string]any{"peer": d.Peer}
	if d.Receiver != "" {
		f["receiver"] = d.Receiver
	}
	u.jsonLocked("declined", f)
	u.sayLocked("A receiver (%s) declined the offer; still offering to others. Ctrl-C stops.", escape(u.receiverName(d.Receiver, d.Peer)))
}
