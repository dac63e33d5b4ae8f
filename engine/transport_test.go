package engine

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Both peers listen on TCP and QUIC, and the receiver is given both of
// the sender's addresses, QUIC first: the data goes over TCP, and the
// summaries and progress of both sides say so.
func TestDefaultPathUsesTCP(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src", "f.bin")
	writeRandom(t, src, 8<<20)
	both := NetworkOptions{ListenAddrs: []string{"/ip4/127.0.0.1/udp/0/quic-v1", "/ip4/127.0.0.1/tcp/0"}, NoDiscovery: true}
	pass := testPass(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	addrs, res := startSender(t, ctx, SendOptions{Paths: []string{src}, Passphrase: pass, Network: both})
	var quicFirst []string
	for _, a := range addrs {
		if strings.Contains(a, "/quic-v1/") {
			quicFirst = append([]string{a}, quicFirst...)
		} else {
			quicFirst = append(quicFirst, a)
		}
	}
	if len(quicFirst) < 2 || !strings.Contains(quicFirst[0], "/quic-v1/") {
		t.Fatalf("sender addresses %v, want TCP and QUIC", addrs)
	}
	var mu sync.Mutex
	progress := map[string]int{}
	ro := ReceiveOptions{Passphrase: pass, Dest: filepath.Join(dir, "out"), Network: both,
		Events: func(e Event) {
			if p, ok := e.(ProgressEvent); ok {
				mu.Lock()
				progress[p.Transport]++
				mu.Unlock()
			}
		}}
	ro.Network.Direct = quicFirst
	sum, err := Receive(ctx, ro)
	if err != nil {
		t.Fatal(err)
	}
	r := <-res
	if r.err != nil {
		t.Fatalf("sender: %v", r.err)
	}
	if !sameBytes(t, src, filepath.Join(dir, "out", "f.bin")) {
		t.Fatal("received file differs")
	}
	if sum.Path != "direct" || sum.Transport != "tcp" {
		t.Errorf("receiver summary: path %q transport %q, want direct over tcp", sum.Path, sum.Transport)
	}
	if r.sum.Transport != "tcp" {
		t.Errorf("sender summary: transport %q, want tcp", r.sum.Transport)
	}
	mu.Lock()
	defer mu.Unlock()
	for tr, n := range progress {
		if tr != "tcp" {
			t.Errorf("%d progress events with transport %q", n, tr)
		}
	}
}
