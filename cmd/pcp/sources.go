package main

import (
	"errors"

	"github.com/pcp-p2p/pcp/engine"
	"github.com/pcp-p2p/pcp/engine/swarm"
)

// The receiver's sources: besides the sender it authenticated with, every
// peer that passes PAKE on the same words and offers the same files
// (other receivers that seed). The first source is the one the receive
// was found with: only the others are news.

// sourceView counts the sources a receiver has seen join.
type sourceView struct {
	joined int
}

// sourceEvent renders an engine.SourceEvent. Called with u.mu held.
func (u *ui) sourceEvent(e engine.SourceEvent) {
	f := map[string]any{"peer": e.Peer}
	switch {
	case e.OtherRoot != "":
		f["other_root"] = e.OtherRoot
		u.jsonLocked("source", f)
		u.sayLocked("%s offers other files under the same words (root %s): a different offer, not mixed with this one.",
			shortPeer(e.Peer), shortRoot(e.OtherRoot))
	case e.Joined:
		u.sources.joined++
		f["joined"] = true
		u.jsonLocked("source", f)
		if u.sources.joined > 1 {
			u.sayLocked("Also fetching from %s, another holder of the same files.", shortPeer(e.Peer))
		}
	default: // it left, or the transfer ended
		f["chunks"] = e.Delivered
		if e.Err != nil {
			f["error"] = message(e.Err)
		}
		u.jsonLocked("source", f)
		if e.Err != nil && errors.Is(e.Err, swarm.ErrTooManyBad) {
			u.sayLocked("Stopped fetching from %s: %s", shortPeer(e.Peer), escape(message(e.Err)))
		}
	}
}
