package main

import (
	"fmt"
	"time"

	"github.com/pcp-p2p/pcp/engine"
)

// reconnectPlainEvery spaces the plain-mode lines while the sender is away.
const reconnectPlainEvery = 30 * time.Second

// reconnecting renders a lost sender being re-dialed: one updating line on
// a terminal (the search line's slot), the first attempt and then a line
// every 30 s in plain mode, with what the user can do. Called with u.mu held.
func (u *ui) reconnecting(e engine.ReconnectingEvent, now time.Time) {
	line := fmt.Sprintf("Sender unreachable for %s; re-dialing until %s (attempt %d).",
		clock(e.Down), clock(e.Patience), e.Attempt)
	advice := "If the sender stopped, run the same 'pcp send' there again: this receive continues. Ctrl-C stops (resumable)."
	switch u.mode {
	case modeJSON:
	case modeTTY:
		if !u.searchOpen {
			u.clearBars()
			fmt.Fprintf(u.errw, "%s\n", advice)
		}
		u.searchOpen = true
		fmt.Fprintf(u.errw, "\r\x1b[K%s", line)
	default:
		if e.Attempt != 1 && now.Sub(u.lastPlain) < reconnectPlainEvery {
			return
		}
		u.lastPlain = now
		if e.Attempt == 1 {
			fmt.Fprintf(u.out, "Connection to the sender lost. %s\n", advice)
			return
		}
		fmt.Fprintln(u.out, line)
	}
}
