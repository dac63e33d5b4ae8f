package main

import (
	"strings"
	"testing"
)

// TestSearchCountdownTTY: on a terminal the search is one line that
// updates in place ("0:01 of 0:03"), and the error comes below it.
func TestSearchCountdownTTY(t *testing.T) {
	code, screen := runOnTTY(t, t.TempDir(), "receive", "--mdns-only", "--timeout", "3s", "-o", t.TempDir(), "lemon-orbit-tiger-salad")
	if code != exitNotFound {
		t.Fatalf("exit %d, want %d; drew %q", code, exitNotFound, screen)
	}
	for _, want := range []string{"Looking for the sender", "\r\x1b[K0:01 of 0:03, trying the local network (mDNS)",
		"\r\npcp: peer not found within 3s\r\nCheck that the sender is still running"} {
		if !strings.Contains(screen, want) {
			t.Errorf("screen lacks %q:\n%q", want, screen)
		}
	}
	if n := strings.Count(screen, "of 0:03"); n < 2 {
		t.Errorf("countdown drawn %d times, want it updated: %q", n, screen)
	}
}
