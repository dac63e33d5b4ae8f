package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pcp-p2p/pcp/engine"
)

// TestStatusNamesAndPeer: pcp status shows a transfer's top-level names
// and its sender (short), and --json carries both in full.
func TestStatusNamesAndPeer(t *testing.T) {
	src := sampleTree(t)
	note := filepath.Join(t.TempDir(), "note.txt")
	writeFile(t, note, []byte("n"))
	s, words, addr := sender(t, src, note)
	peerID, _ := s.eventsNamed("listening")[0]["peer_id"].(string)
	state := t.TempDir()
	if r := runPCP(t, state, "", "receive", "--yes", "--direct", addr, "-o", t.TempDir(), words); r.code != exitOK {
		t.Fatalf("receive exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	s.wait()

	st := runPCP(t, state, "", "status")
	if st.code != exitOK || !strings.Contains(st.stdout, "note.txt, tree") || !strings.Contains(st.stdout, shortPeer(peerID)) {
		t.Errorf("status lacks the names or the peer %s:\n%s", shortPeer(peerID), st.stdout)
	}
	js := runPCP(t, state, "", "status", "--json")
	var ev struct {
		Names     []string `json:"names"`
		NameCount int      `json:"name_count"`
		Peer      string   `json:"peer"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(js.stdout)), &ev); err != nil {
		t.Fatalf("status --json: %v\n%s", err, js.stdout)
	}
	if strings.Join(ev.Names, ",") != "note.txt,tree" || ev.NameCount != 2 || ev.Peer != peerID {
		t.Errorf("status --json = %+v, want names [note.txt tree], 2, peer %s", ev, peerID)
	}
}

// TestStatusNamesOlderLog: a transfer recorded without names or peer (an
// older pcp) shows "-"; many names end with "and N more".
func TestStatusNamesOlderLog(t *testing.T) {
	if got := orDash(statusNames(engine.TransferInfo{})); got != "-" {
		t.Errorf("no names: %q, want -", got)
	}
	if got := orDash(escape(shortPeer(""))); got != "-" {
		t.Errorf("no peer: %q, want -", got)
	}
	ti := engine.TransferInfo{Names: []string{"a", "b\x1b", "c", "d"}, NameCount: 40}
	if got := statusNames(ti); got != `a, b\x1b, c and 37 more` {
		t.Errorf("many names: %q", got)
	}
}
