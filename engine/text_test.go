package engine

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/manifest"
)

// TestTextOffer: a text offer arrives as a TextEvent, byte for byte, with
// no question asked and nothing left at the destination or in either
// side's state directory.
func TestTextOffer(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	msg := "hello\nsecond line \x1b[2J and ünïcode\n"
	pass := testPass(t)
	sendState := filepath.Join(dir, "sendstate")
	addrs, res := startSender(t, ctx, SendOptions{Text: msg, Passphrase: pass, HashCachePath: filepath.Join(sendState, HashCacheFile)})

	recvState := filepath.Join(dir, "recvstate")
	dest := filepath.Join(dir, "dest")
	ro := recvOpts(pass, dest, addrs)
	ro.ResumeLogPath = filepath.Join(recvState, ResumeLogFile)
	ro.Confirm = func(Offer) bool { t.Error("a text offer asked Confirm"); return false }
	ro.Resolve = func(Offer) Resolution { t.Error("a text offer asked Resolve"); return ResolveCancel }
	var got []string
	ro.Events = func(e Event) {
		if te, ok := e.(TextEvent); ok {
			got = append(got, te.Text)
		}
	}
	if _, err := Receive(ctx, ro); err != nil {
		t.Fatalf("Receive: %v", err)
	}
	if len(got) != 1 || got[0] != msg {
		t.Fatalf("TextEvents %q, want one with %q", got, msg)
	}
	if sr := <-res; sr.err != nil {
		t.Fatalf("sender: %v", sr.err)
	}
	if ents, _ := os.ReadDir(dest); len(ents) != 0 {
		t.Errorf("the destination holds %d entries after a text offer, want none", len(ents))
	}
	for _, d := range []string{sendState, recvState} {
		ents, _ := os.ReadDir(d)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), "text-") {
				t.Errorf("%s: %s left behind", d, e.Name())
			}
		}
	}
	// The receiver's resume log knows nothing of the message.
	if list, err := ListTransfers(ro.ResumeLogPath); err != nil || len(list) != 0 {
		t.Errorf("resume log lists %d transfers (err %v), want none", len(list), err)
	}
}

func TestTextTooLong(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := Send(ctx, SendOptions{Text: strings.Repeat("x", MaxTextSize+1), Passphrase: testPass(t), Network: loopback})
	if !errors.Is(err, ErrTextTooLong) {
		t.Fatalf("err = %v, want ErrTextTooLong", err)
	}
	if err := CheckText(strings.Repeat("x", MaxTextSize)); err != nil {
		t.Fatalf("CheckText at the limit: %v", err)
	}
}

// TestHostileTextOffer: an offer marked as text that is not one small
// regular file is a protocol violation, refused before any data moves and
// with nothing written at the destination.
func TestHostileTextOffer(t *testing.T) {
	small := []byte("hi")
	file := manifest.Entry{Path: "m", Kind: manifest.KindFile, Mode: 0o644, Size: int64(len(small)),
		Chunks: []manifest.Hash{manifest.HashChunk(small)}}
	dir := manifest.Entry{Path: "d", Kind: manifest.KindDir, Mode: 0o755}
	nested := []manifest.Entry{dir, file}
	nested[1].Path = "d/m"
	cases := map[string]*manifest.Manifest{
		"two files":       {ChunkSize: manifest.MinChunkSize, Entries: []manifest.Entry{file, {Path: "n", Kind: manifest.KindFile, Mode: 0o644}}},
		"a directory":     {ChunkSize: manifest.MinChunkSize, Entries: []manifest.Entry{dir}},
		"a nested file":   {ChunkSize: manifest.MinChunkSize, Entries: nested},
		"a file too long": newRSTree(t).m,
	}
	for name, m := range cases {
		t.Run(name, func(t *testing.T) {
			control := func(rs *recvSender, s network.Stream, fr *wire.Reader) {
				var b bytes.Buffer
				if manifest.Encode(&b, m) != nil {
					return
				}
				info := wire.ManifestInfo{Entries: uint64(len(m.Entries)), Encoded: uint64(b.Len()), FileBytes: uint64(m.TotalSize()), Flags: wire.FlagText}
				root := m.Root()
				if sendInfo(s, info) == nil && sendManifest(s, b.Bytes()) == nil && wire.WriteFrame(s, wire.TManifestEnd, root[:]) == nil {
					drain(s)
				}
			}
			rs := (&recvSender{t: t, tree: newRSTree(t), pass: testPass(t), control: control}).start()
			dest, err := rsReceive(t, rs, nil)
			if !errors.Is(err, ErrPeerMisbehaving) {
				t.Fatalf("err = %v, want ErrPeerMisbehaving", err)
			}
			if rs.opens.Load() != 0 {
				t.Fatalf("%d data streams opened for a false text offer", rs.opens.Load())
			}
			if ents, _ := os.ReadDir(dest); len(ents) != 0 {
				t.Fatalf("the destination holds %d entries", len(ents))
			}
		})
	}
}
