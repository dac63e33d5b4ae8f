package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/pcp-p2p/pcp/engine"
	"github.com/pcp-p2p/pcp/engine/swarm"
)

// TestSourceRendering: the first source (the sender found) is not news,
// a second is; another root under the same words is said to be another
// offer; a source dropped for bad chunks is said so; JSON carries all.
func TestSourceRendering(t *testing.T) {
	events := []engine.Event{
		engine.SourceEvent{Peer: "12D3KooWsender", Joined: true},
		engine.SourceEvent{Peer: "12D3KooWseeder", Joined: true},
		engine.SourceEvent{Peer: "12D3KooWother", OtherRoot: strings.Repeat("ab", 32)},
		engine.SourceEvent{Peer: "12D3KooWbad", Delivered: 2, Err: fmt.Errorf("%w: 3 chunks failed", swarm.ErrTooManyBad)},
		engine.SourceEvent{Peer: "12D3KooWsender", Delivered: 40},
	}
	var out, errw bytes.Buffer
	u := newUI(modePlain, &out, &errw, "receive")
	for _, e := range events {
		u.event(e)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3 (second source, other offer, dropped source):\n%s", len(lines), out.String())
	}
	for i, want := range []string{"Also fetching from", "a different offer", "Stopped fetching from"} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d %q lacks %q", i, lines[i], want)
		}
	}

	out.Reset()
	u = newUI(modeJSON, &out, &errw, "receive")
	for _, e := range events {
		u.event(e)
	}
	var got []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(l), &ev); err != nil || ev["event"] != "source" {
			t.Fatalf("line %q: %v", l, err)
		}
		got = append(got, ev)
	}
	if len(got) != 5 || got[1]["joined"] != true || got[2]["other_root"] != strings.Repeat("ab", 32) ||
		got[3]["error"] == nil || num(got[4], "chunks") != 40 || got[4]["error"] != nil {
		t.Errorf("JSON source events: %v", got)
	}
}

func TestSeedFlagUsage(t *testing.T) {
	for _, args := range [][]string{
		{"receive", "--seed", "-1s", "a-b-c-d"},
		{"receive", "--seed", "1m", "--no-seed", "a-b-c-d"},
		{"receive", "--seed", "1m", "--stdout", "a-b-c-d"},
	} {
		var out, errw bytes.Buffer
		if code := run(args, strings.NewReader(""), &out, &errw); code != exitUsage {
			t.Errorf("run %v = %d, want %d; stderr %q", args, code, exitUsage, errw.String())
		}
		if !strings.Contains(errw.String(), "--seed") {
			t.Errorf("run %v: stderr %q does not name --seed", args, errw.String())
		}
	}
}
