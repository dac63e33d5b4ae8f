package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/pcp-p2p/pcp/engine"
	"github.com/pcp-p2p/pcp/engine/p2p"
	"github.com/pcp-p2p/pcp/engine/wire"
)

// TestSendToTwoReceiversJSON: `pcp send --receivers 2` serves two receivers
// at once; its progress, per-receiver done and final done events name them.
func TestSendToTwoReceiversJSON(t *testing.T) {
	src := sampleTree(t)
	s, words, addr := sender(t, "--receivers", "2", src)
	var rps []*proc
	var dests []string
	for range 2 {
		dest := t.TempDir()
		dests = append(dests, dest)
		rps = append(rps, start(t, t.TempDir(), nil, "receive", "--json", "--yes", "--direct", addr, "-o", dest, words))
	}
	for i, rp := range rps {
		if code := rp.wait(); code != exitOK {
			t.Fatalf("receiver %d: exit %d\n%s\n%s", i, code, rp.stdout(), rp.errText())
		}
		sameTree(t, src, filepath.Join(dests[i], "tree"))
	}
	if code := s.wait(); code != exitOK {
		t.Fatalf("send exit %d\n%s", code, s.errText())
	}
	ids := func(name string) map[string]bool {
		m := map[string]bool{}
		for _, e := range s.eventsNamed(name) {
			id, _ := e["receiver"].(string)
			m[id] = true
		}
		return m
	}
	want := "map[r1:true r2:true]"
	for _, name := range []string{"authenticated", "progress", "receiver_done"} {
		if got := fmt.Sprint(ids(name)); got != want {
			t.Errorf("sender's %q events name receivers %s, want %s\n%s", name, got, want, s.stdout())
		}
	}
	done := s.eventsNamed("done")
	if len(done) != 1 || num(done[0], "receivers") != 2 || !strings.HasPrefix(fmt.Sprint(done[0]["receiver"]), "r") {
		t.Errorf("sender's done events: %v, want one with receivers 2 and a receiver", done)
	}
}

// TestSendJSONOneReceiverHasID: with one receiver (the default), the
// sender's progress and done events carry its ID too.
func TestSendJSONOneReceiverHasID(t *testing.T) {
	src := sampleTree(t)
	s, words, addr := sender(t, src)
	rp := start(t, t.TempDir(), nil, "receive", "--json", "--yes", "--direct", addr, "-o", t.TempDir(), words)
	if code := rp.wait(); code != exitOK {
		t.Fatalf("receive exit %d\n%s", code, rp.errText())
	}
	if code := s.wait(); code != exitOK {
		t.Fatalf("send exit %d\n%s", code, s.errText())
	}
	prog := s.eventsNamed("progress")
	if len(prog) == 0 {
		t.Fatalf("no sender progress:\n%s", s.stdout())
	}
	for _, p := range prog {
		if p["receiver"] != "r1" {
			t.Fatalf("sender progress without receiver r1: %v", p)
		}
	}
	if d := s.eventsNamed("done"); len(d) != 1 || d[0]["receiver"] != "r1" || num(d[0], "receivers") != 1 {
		t.Fatalf("sender's done: %v", d)
	}
}

// TestReceiversFlags: --keep-serving and --receivers exclude each other,
// and a count must be at least 1; both are usage errors before any words.
func TestReceiversFlags(t *testing.T) {
	state := t.TempDir()
	for _, args := range [][]string{
		{"send", "--keep-serving", "--receivers", "2", "."},
		{"send", "--receivers", "0", "."},
	} {
		r := runPCP(t, state, "", args...)
		if r.code != exitUsage || strings.Contains(r.stdout, "Passphrase") {
			t.Errorf("pcp %v: exit %d, want %d before the words\n%s%s", args, r.code, exitUsage, r.stdout, r.stderr)
		}
	}
	if r := runPCP(t, state, "", "send", "--keep-serving", "--receivers", "2", "."); !strings.Contains(r.stderr, "exclude each other") {
		t.Errorf("no clear message: %s", r.stderr)
	}
	if r := runPCP(t, state, "", "send", "--help"); !strings.Contains(r.stdout, "--keep-serving") || !strings.Contains(r.stdout, "--receivers") {
		t.Errorf("send --help does not explain the flags:\n%s", r.stdout)
	}
}

// TestReceiveFromOldSender: a sender of an older pcp (a real host that
// registers only the old protocol ID: the versions part at the protocol
// negotiation, before any pcp byte) makes `pcp receive` say so and exit
// with its own code.
func TestReceiveFromOldSender(t *testing.T) {
	old, err := p2p.NewHost(p2p.HostOptions{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	old.SetStreamHandler(wire.OldProtocolID, func(s network.Stream) { _ = s.Reset() })
	addr := fmt.Sprintf("%s/p2p/%s", old.Addrs()[0], old.ID())
	r := runPCP(t, t.TempDir(), "", "receive", "--yes", "--direct", addr, "lemon-orbit-tiger-salad")
	if r.code != exitOldPeer || !strings.Contains(r.stderr, "older pcp (protocol 2.0.0)") ||
		!strings.Contains(r.stderr, "install the same pcp version") {
		t.Fatalf("exit %d, want %d, and a clear message:\n%s", r.code, exitOldPeer, r.stderr)
	}
	if exitKind(exitCode(engine.ErrOldPeer, false)) != "old_peer" {
		t.Fatal("ErrOldPeer has no kind of its own")
	}
}
