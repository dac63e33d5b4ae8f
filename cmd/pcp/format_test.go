package main

import "testing"

// Counts agree with their words in the offer and summary lines.
func TestPluralAndAgree(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{1, "1 file here differs"},
		{2, "2 files here differ"},
		{0, "0 files here differ"},
	} {
		if got := plural(tc.n, "file") + " here " + agree(tc.n, "differs", "differ"); got != tc.want {
			t.Errorf("n=%d: %q, want %q", tc.n, got, tc.want)
		}
	}
	if got := plural(3, "directory"); got != "3 directories" {
		t.Errorf("plural(3, directory) = %q", got)
	}
}
