package main

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pcp-p2p/pcp/engine"
)

func searchEvents(u *ui, n int) {
	for i := range n {
		u.event(engine.SearchingEvent{Elapsed: time.Duration(i) * time.Second, Timeout: 2 * time.Minute,
			Methods: []string{"mdns", "dht"}})
	}
}

func TestSearchRenderingPlain(t *testing.T) {
	var out, errw bytes.Buffer
	u := newUI(modePlain, &out, &errw, "receive")
	u.now = fakeClock(time.Second)
	searchEvents(u, 25)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("25 s of searching gave %d lines, want 2 (one per 10 s):\n%s", len(lines), out.String())
	}
	if !strings.Contains(lines[0], "0:10 of 2:00") || !strings.Contains(lines[0], "the local network (mDNS) and the DHT") {
		t.Errorf("line %q", lines[0])
	}
}

func TestSearchRenderingJSON(t *testing.T) {
	var out, errw bytes.Buffer
	u := newUI(modeJSON, &out, &errw, "receive")
	u.now = fakeClock(500 * time.Millisecond) // events twice as often as allowed
	searchEvents(u, 10)
	n := strings.Count(out.String(), `{"event":"searching"`)
	if n < 4 || n > 6 {
		t.Fatalf("%d searching events for 5 s, want about one a second:\n%s", n, out.String())
	}
	if !strings.Contains(out.String(), `"methods":["mdns","dht"]`) || !strings.Contains(out.String(), `"timeout_ms":120000`) {
		t.Errorf("fields: %s", out.String())
	}
}

func TestSearchRenderingTTY(t *testing.T) {
	var out, errw bytes.Buffer
	u := newUI(modeTTY, &out, &errw, "receive")
	searchEvents(u, 3)
	if !strings.Contains(errw.String(), "\r\x1b[K0:02 of 2:00, trying the local network (mDNS) and the DHT") {
		t.Fatalf("no updating line: %q", errw.String())
	}
	if strings.Count(errw.String(), "\n") != 0 {
		t.Fatalf("the search line scrolled: %q", errw.String())
	}
	// A message erases the line; an error keeps it and comes below it.
	u.say("Found 12D3Koo… via mdns")
	if !strings.HasSuffix(errw.String(), "\r\x1b[K") {
		t.Errorf("line not erased before a message: %q", errw.String())
	}
	searchEvents(u, 2)
	errw.Reset()
	u.advise("advice line")
	u.fail("peer not found within 2m0s", exitNotFound)
	if got := errw.String(); got != "\npcp: peer not found within 2m0s\nadvice line\n" {
		t.Errorf("failure after a search drew %q", got)
	}
}

// TestSearchCountdownE2E: with no sender, the receiver reports its search
// as JSON events about once a second, then fails with advice after the
// error line.
func TestSearchCountdownE2E(t *testing.T) {
	r := runPCP(t, t.TempDir(), "", "--json", "receive", "--mdns-only", "--timeout", "3s", "-o", t.TempDir(), "lemon-orbit-tiger-salad")
	if r.code != exitNotFound {
		t.Fatalf("exit %d, want %d\n%s", r.code, exitNotFound, r.stderr)
	}
	var elapsed []int64
	for _, l := range strings.Split(r.stdout, "\n") {
		var ev map[string]any
		if json.Unmarshal([]byte(l), &ev) != nil || ev["event"] != "searching" {
			continue
		}
		if !strings.Contains(l, `"methods":["mdns"]`) || num(ev, "timeout_ms") != 3000 {
			t.Errorf("searching event %s", l)
		}
		elapsed = append(elapsed, num(ev, "elapsed_ms"))
	}
	if len(elapsed) < 2 || !slices.IsSorted(elapsed) || elapsed[len(elapsed)-1] < 1000 {
		t.Fatalf("searching events with elapsed_ms %v in 3 s, want at least 2, growing:\n%s", elapsed, r.stdout)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	i := indexOf(lines, "pcp: peer not found within 3s")
	if i < 0 || i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "Check that the sender is still running") {
		t.Fatalf("want the error line, then advice:\n%s", r.stderr)
	}
}

func indexOf(lines []string, s string) int {
	for i, l := range lines {
		if l == s {
			return i
		}
	}
	return -1
}
