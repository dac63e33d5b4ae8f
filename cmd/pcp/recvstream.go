package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/pcp-p2p/pcp/engine"
)

// Receiving a stream (pcp send - on the other side): one file of a size
// known only at its end. The offer says what it is; progress counts the
// bytes so far (the total grows with the announcements); the done line
// gives the stream's root, which the sender shows too.

const streamHelp = `

A stream (the sender ran 'pcp send -', e.g. 'tar c dir | pcp send -') has no
size until it ends: progress shows the bytes so far. Without --stdout it is
written to a file of the stream's name in -o DIR (never replacing a file there
without --overwrite), and --max-size bounds it: the receive stops before the
file grows past it. If the sender spools the stream, an interrupted receive into
a file resumes where it stopped when run again; a receive to --stdout always
starts again at byte 0.`

// recvStreamFlags are the receive flags for a stream offer.
type recvStreamFlags struct{ maxSize string }

func (f *recvStreamFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.maxSize, "max-size", "", "stop a stream offer (send -) written to a file before it grows past this, e.g. 10G (K, M, G, T are 1024-based)")
}

// bytes parses --max-size; 0 means no bound.
func (f *recvStreamFlags) bytes() (int64, error) {
	if strings.TrimSpace(f.maxSize) == "" {
		return 0, nil
	}
	n, err := parseSize(f.maxSize)
	if err != nil {
		return 0, usageError{fmt.Errorf("--max-size %q: %w", f.maxSize, err)}
	}
	return n, nil
}

// parseSize reads a byte count as --limit-rate does, without the "/s".
func parseSize(s string) (int64, error) {
	if strings.HasSuffix(strings.TrimSpace(s), "/s") {
		return 0, errors.New("want a size, e.g. 500M or 10G")
	}
	n, err := parseRate(s)
	if err != nil {
		return 0, errors.New("want a positive size, e.g. 500M or 10G")
	}
	return n, nil
}

// streamView keeps what the CLI needs of a stream offer.
type streamView struct {
	offer *engine.StreamOffer // nil: not a stream
}

// event shows a StreamOfferEvent; false for any other event.
func (v *streamView) event(u *ui, e engine.Event) bool {
	se, ok := e.(engine.StreamOfferEvent)
	if !ok {
		return false
	}
	o := se.Offer
	v.offer = &o
	u.mu.Lock()
	u.skipped = o.ResumeBytes // the bar counts what this run fetches
	u.mu.Unlock()
	u.json("stream_offer", map[string]any{"name": o.Name, "id": o.ID, "chunk_size": o.ChunkSize,
		"spooled": o.Spooled, "resume_bytes": o.ResumeBytes, "restarted": o.Restarted, "stdout": o.Stdout})
	u.say("%s", streamOfferLine(o))
	return true
}

// streamOfferLine is the offer of a stream, in words.
func streamOfferLine(o engine.StreamOffer) string {
	to := fmt.Sprintf("into the file %s", quoteName(o.Name))
	if o.Stdout {
		to = "to standard output, from byte 0"
	}
	resume := " (the sender spools it: an interrupted receive can resume)"
	switch {
	case !o.Spooled:
		resume = " (the sender keeps no spool: if the transfer is cut off, it cannot resume)"
	case o.Stdout:
		resume = ""
	}
	s := fmt.Sprintf("Offer: a stream named %s, size unknown until it ends, %s%s.", quoteName(o.Name), to, resume)
	switch {
	case o.ResumeBytes > 0:
		s += fmt.Sprintf("\nResuming: %s of it already verified.", humanBytes(o.ResumeBytes))
	case o.Restarted:
		s += "\nA partial file of another stream of this name was found: starting over."
	}
	return s
}

// quoteName shows a stream name the peer chose, escaped for a terminal.
func quoteName(name string) string { return "\"" + escape(name) + "\"" }

// done adds the stream's root to the done line.
func (v *streamView) done(u *ui, e engine.Event) {
	d, ok := e.(engine.DoneEvent)
	if !ok || v.offer == nil {
		return
	}
	u.say("Stream root %s (%s).", d.Summary.Root, humanBytes(d.Summary.ManifestBytes))
}

// failure words the failures particular to a stream; ok is false for any
// other error (or when the offer was not a stream).
func (v *streamView) failure(u *ui, err error, rerun string) (error, bool) {
	if v.offer == nil {
		return nil, false
	}
	switch {
	case errors.Is(err, engine.ErrStreamGone):
		u.advise("The sender ran without a spool (--no-spool) and no longer holds what is missing: have it send the stream again.")
		return reworded{"the stream was cut off and cannot resume (the sender keeps no spool)", err}, true
	case errors.Is(err, engine.ErrStreamTooLarge):
		u.advise("The partial file is kept in the destination's staging directory. Run again with a larger --max-size, or receive to --stdout.")
		return reworded{"the stream grew past --max-size", err}, true
	case errors.Is(err, engine.ErrExists):
		u.advise("Nothing was written, and the sender keeps offering. Run again with --overwrite to replace it,\n" +
			"or -o to receive into another directory.")
		return reworded{fmt.Sprintf("%s already exists at the destination", quoteName(v.offer.Name)), err}, true
	case errors.Is(err, engine.ErrOutputClosed):
		u.advise("The output closed before the stream ended. A receive to --stdout starts again at byte 0: run the same command again\n" +
			"while the sender still offers the stream.")
		return reworded{"standard output was closed before the stream ended", err}, true
	case errors.Is(err, engine.ErrInterrupted) && !v.offer.Stdout && v.offer.Spooled:
		u.hint(fmt.Sprintf("What was verified is kept. To resume, run again while the sender still offers the stream:\n    %s", rerun))
		return err, true
	}
	return nil, false
}
