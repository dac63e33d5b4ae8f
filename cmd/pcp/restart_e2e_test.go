package main

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestReceiverFollowsRestartedSender: the sender is stopped with Ctrl-C in
// the middle of a transfer and started again with the same command; the
// receiver, still waiting, authenticates again with it (same peer, same
// words, kept in the sender's state directory) and finishes with exact
// bytes.
func TestReceiverFollowsRestartedSender(t *testing.T) {
	if testing.Short() {
		t.Skip("300 MiB transfer")
	}
	t.Run("unlimited", func(t *testing.T) { followRestartedSender(t, 300<<20) })
	// A paced receiver wraps its data streams: renewing must still see the
	// session each was opened for.
	t.Run("limit-rate", func(t *testing.T) { followRestartedSender(t, 60<<20, "--limit-rate", "20M") })
}

func followRestartedSender(t *testing.T, size int64, recvFlags ...string) {
	src := filepath.Join(t.TempDir(), "big")
	writeSeeded(t, filepath.Join(src, "blob.bin"), size, 9)

	sstate := t.TempDir()
	s := start(t, sstate, nil, "send", "--json", "--no-discovery", "--listen", "/ip4/127.0.0.1/tcp/0", src)
	words, _ := s.waitEvent("passphrase", nil)["passphrase"].(string)
	le := s.waitEvent("listening", nil)
	addrs, _ := le["addrs"].([]any)
	if len(addrs) == 0 || words == "" {
		t.Fatalf("sender: %v", le)
	}
	addr, _ := addrs[0].(string)
	peerID, _ := le["peer_id"].(string)
	// The restarted sender listens where the first one did: the receiver
	// re-dials the address it knows (discovery finds a moved one).
	listen := addr[:strings.Index(addr, "/p2p/")]

	dest := t.TempDir()
	rp := start(t, t.TempDir(), nil, append(append([]string{"receive", "--json", "--yes", "--streams", "1", "--direct", addr, "-o", dest}, recvFlags...), words)...)
	ev := rp.waitEvent("progress", func(ev map[string]any) bool { return num(ev, "bytes") > 0 })
	if num(ev, "bytes") >= num(ev, "total_bytes") {
		t.Fatalf("transfer finished before the sender could be stopped: %v", ev)
	}
	if err := s.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := s.wait(); code != exitInterrupted {
		t.Fatalf("stopped sender: exit %d\n%s", code, s.errText())
	}
	rp.waitEvent("reconnecting", nil)

	s2 := start(t, sstate, nil, "send", "--json", "--no-discovery", "--listen", listen, src)
	if w2, _ := s2.waitEvent("passphrase", nil)["passphrase"].(string); w2 != words {
		t.Fatalf("restarted sender has other words: %q, want %q", w2, words)
	}
	if id, _ := s2.waitEvent("listening", nil)["peer_id"].(string); peerID == "" || id != peerID {
		t.Fatalf("restarted sender is peer %q, want %q", id, peerID)
	}
	rp.waitEvent("renewed", nil)
	if code := rp.wait(); code != exitOK {
		t.Fatalf("receive: exit %d\n%s\n%s", code, rp.stdout(), rp.errText())
	}
	if code := s2.wait(); code != exitOK {
		t.Fatalf("restarted send: exit %d\n%s", code, s2.errText())
	}
	sameTree(t, src, filepath.Join(dest, "big"))
	// The offer is complete: its words are not kept for a later send.
	s3 := start(t, sstate, nil, "send", "--json", "--no-discovery", "--listen", "/ip4/127.0.0.1/tcp/0", src)
	if w3, _ := s3.waitEvent("passphrase", nil)["passphrase"].(string); w3 == words {
		t.Errorf("a completed offer's words were used again")
	}
}
