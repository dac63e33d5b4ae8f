package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/pcp-p2p/pcp/engine"
	"github.com/pcp-p2p/pcp/manifest"
)

// TestOfferShowsRefusedEntries: an offer the destination cannot hold lists
// every refused entry with its reason, names escaped, and exits as a
// declined offer.
func TestOfferShowsRefusedEntries(t *testing.T) {
	evil := "n\x1b[2Jame"
	o := engine.Offer{
		Root: "ab12", TopLevel: []string{"src"}, TopLevelCount: 1, Files: 3, TotalBytes: 10,
		Refused: []engine.Refusal{
			{Path: "src/a.txt", Reason: manifest.ReasonCaseCollision, Other: "src/A.txt"},
			{Path: "src/x:y", Reason: manifest.ReasonColon},
			{Path: "src/" + evil, Reason: manifest.ReasonCaseCollision, Other: "src/N\u202eAME"},
		},
		RefusedCount: 4,
	}
	var out, errw bytes.Buffer
	u := newUI(modePlain, &out, &errw, "receive")
	u.offer(o, "/mnt/stick")
	got := out.String()
	for _, want := range []string{
		"Offer from the sender (path unknown):",
		"refused: this destination cannot hold 4 entries (nothing is written):\n",
		"        src/a.txt: differs only in case from src/A.txt\n",
		"        src/x:y: contains ':' (an alternate data stream on NTFS)\n",
		`        src/n\x1b[2Jame: differs only in case from src/N\u202eAME` + "\n",
		"        and 1 more\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("offer lacks %q:\n%s", want, got)
		}
	}
	if hasControl(out.Bytes()) {
		t.Errorf("raw control bytes reach the terminal: %q", got)
	}

	out.Reset()
	errw.Reset()
	u = newUI(modeJSON, &out, &errw, "receive")
	u.offer(o, "/mnt/stick")
	var ev struct {
		Refused      []map[string]string `json:"refused"`
		RefusedCount int                 `json:"refused_count"`
	}
	if err := json.Unmarshal(out.Bytes(), &ev); err != nil {
		t.Fatalf("%v: %s", err, out.Bytes())
	}
	if ev.RefusedCount != 4 || len(ev.Refused) != 3 || ev.Refused[0]["path"] != "src/a.txt" ||
		ev.Refused[0]["reason"] != "case_collision" || ev.Refused[0]["other"] != "src/A.txt" ||
		ev.Refused[1]["reason"] != "colon" || ev.Refused[1]["other"] != "" {
		t.Errorf("JSON offer: %+v", ev)
	}

	if c := exitCode(&engine.RefusedError{Offer: o}, false); c != exitDeclined {
		t.Errorf("exit code %d, want %d", c, exitDeclined)
	}
}
