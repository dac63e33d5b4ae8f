package engine

import (
	"testing"

	"github.com/pcp-p2p/pcp/manifest"
)

func TestRefusedErrorText(t *testing.T) {
	e := &RefusedError{Offer: Offer{RefusedCount: 7, Refused: []Refusal{
		{Path: "d/a.txt", Reason: manifest.ReasonCaseCollision, Other: "d/A.txt"},
		{Path: "CON", Reason: manifest.ReasonReserved},
	}}}
	want := `the destination cannot hold some entries: "d/a.txt: differs only in case from d/A.txt", "CON: a reserved device name on Windows" and 5 more`
	if e.Error() != want {
		t.Errorf("Error() = %q\nwant %q", e.Error(), want)
	}
}
