package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/pcp-p2p/pcp/engine"
)

// The transport the data took shows in the plain progress line, the
// summary, and the JSON events.
func TestTransportShown(t *testing.T) {
	e := engine.ProgressEvent{Bytes: 1 << 20, TotalBytes: 2 << 20, Files: 0, FilesTotal: 1, Path: "direct", Transport: "tcp", Streams: 4}
	if line := plainProgress("receive", e, 1e6); !strings.Contains(line, "direct over tcp, 4 streams") {
		t.Errorf("progress line %q lacks the transport", line)
	}
	if line := plainProgress("receive", engine.ProgressEvent{Path: "relayed", Streams: 1}, 0); !strings.Contains(line, "relayed, 1 streams") {
		t.Errorf("relayed progress line %q", line)
	}
	var out, errw bytes.Buffer
	u := newUI(modePlain, &out, &errw, "receive")
	u.event(engine.DoneEvent{Summary: engine.Summary{ManifestBytes: 2 << 20, Files: 1, Path: "direct", Transport: "quic", Streams: 4}})
	if !strings.Contains(out.String(), "direct over quic, 4 streams") {
		t.Errorf("summary %q lacks the transport", out.String())
	}
	out.Reset()
	u = newUI(modeJSON, &out, &errw, "receive")
	u.event(engine.DoneEvent{Summary: engine.Summary{Files: 1, Path: "direct", Transport: "tcp", Streams: 4}})
	var done map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["event"] == "done" {
			done = m
		}
	}
	if done == nil || done["transport"] != "tcp" {
		t.Errorf("JSON done event %v, want transport tcp; output %q", done, out.String())
	}
}
