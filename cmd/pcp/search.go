package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/pcp-p2p/pcp/engine"
)

// Throttles for the search status: the engine reports about once a second.
const (
	searchPlainEvery = 10 * time.Second
	searchJSONEvery  = 900 * time.Millisecond
)

// searching renders the receiver's search for the sender: one updating
// line on a terminal, a line every 10 s in plain mode, a "searching" event
// about once a second in JSON. Called with u.mu held.
func (u *ui) searching(e engine.SearchingEvent, now time.Time) {
	switch u.mode {
	case modeJSON:
		if !u.lastSearch.IsZero() && now.Sub(u.lastSearch) < searchJSONEvery {
			return
		}
		u.lastSearch = now
		u.jsonLocked("searching", map[string]any{"elapsed_ms": e.Elapsed.Milliseconds(),
			"timeout_ms": e.Timeout.Milliseconds(), "methods": nonNil(e.Methods), "candidates": e.Candidates})
	case modeTTY:
		u.searchOpen = true
		fmt.Fprintf(u.errw, "\r\x1b[K%s", searchLine(e))
	default:
		// "Looking for the sender…" was said when the search started.
		if e.Elapsed < time.Second || (!u.lastSearch.IsZero() && now.Sub(u.lastSearch) < searchPlainEvery) {
			if u.lastSearch.IsZero() {
				u.lastSearch = now
			}
			return
		}
		u.lastSearch = now
		fmt.Fprintf(u.out, "still looking: %s\n", searchLine(e))
	}
}

// endSearchLine erases the terminal's search line (keep=false) before
// other text, or ends it with a newline (keep=true) before an error.
func (u *ui) endSearchLine(keep bool) {
	if !u.searchOpen {
		return
	}
	u.searchOpen = false
	if keep {
		fmt.Fprintln(u.errw)
		return
	}
	fmt.Fprint(u.errw, "\r\x1b[K")
}

// searchLine is "0:12 of 2:00, trying the local network (mDNS) and the DHT".
func searchLine(e engine.SearchingEvent) string {
	s := fmt.Sprintf("%s of %s", clock(e.Elapsed), clock(e.Timeout))
	if m := searchMethodsText(e.Methods); m != "" {
		s += ", trying " + m
	}
	if e.Candidates > 0 {
		s += fmt.Sprintf(" (%s tried)", plural(int64(e.Candidates), "peer"))
	}
	return s
}

func searchMethodsText(methods []string) string {
	var parts []string
	for _, m := range methods {
		switch m {
		case "mdns":
			parts = append(parts, "the local network (mDNS)")
		case "dht":
			parts = append(parts, "the DHT")
		case "direct":
			parts = append(parts, "the --direct address")
		default:
			parts = append(parts, m)
		}
	}
	return strings.Join(parts, " and ")
}

// clock formats d as m:ss, or h:mm:ss from an hour on.
func clock(d time.Duration) string {
	d = d.Truncate(time.Second)
	if d >= time.Hour {
		return fmt.Sprintf("%d:%02d:%02d", int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60)
	}
	return fmt.Sprintf("%d:%02d", int(d.Minutes()), int(d.Seconds())%60)
}

// notFoundAdvice is said after "peer not found".
const notFoundAdvice = "Check that the sender is still running and that the words match (the first word finds the sender),\n" +
	"that both computers are online (or on the same network for mDNS), or dial the sender with --direct ADDRESS."
