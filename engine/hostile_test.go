package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/pcp-p2p/pcp/auth"
	"github.com/pcp-p2p/pcp/engine/p2p"
	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/manifest"
)

// hostileSender authenticates like a real sender, then sends m as is. patch,
// if set, alters m's canonical encoding first (for what the encoder itself
// refuses to write) and returns the file bytes to declare (0: m's); the
// declaration and the root follow the patched bytes.
func hostileSender(t *testing.T, pass auth.Passphrase, m *manifest.Manifest, patch func(enc []byte) uint64) []string {
	t.Helper()
	h, err := p2p.NewHost(p2p.HostOptions{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	h.SetStreamHandler(wire.ProtocolID, func(s network.Stream) {
		defer s.Close()
		fr := wire.NewReader(s)
		if _, err := fr.Expect(wire.TOpen); err != nil {
			return
		}
		if _, err := auth.Handshake(context.Background(), s, auth.Config{Role: auth.RoleSender, Passphrase: pass,
			LocalID: []byte(h.ID()), RemoteID: []byte(s.Conn().RemotePeer())}); err != nil {
			return
		}
		var b bytes.Buffer
		if err := manifest.Encode(&b, m); err != nil {
			t.Errorf("encoding the hostile manifest: %v", err)
			return
		}
		enc := b.Bytes()
		var size uint64
		for _, e := range m.Entries {
			size += uint64(e.Size)
		}
		if patch != nil {
			if n := patch(enc); n != 0 {
				size = n
			}
		}
		info := wire.ManifestInfo{Entries: uint64(len(m.Entries)), Encoded: uint64(len(enc)), FileBytes: size}
		root := manifest.HashChunk(enc) // the root is the BLAKE3 of the encoding
		if sendInfo(s, info) != nil || sendManifest(s, enc) != nil || wire.WriteFrame(s, wire.TManifestEnd, root[:]) != nil {
			return
		}
		_, _, _ = fr.Next()
	})
	return fullAddrs(h)
}

func TestHostileManifestsAreRejected(t *testing.T) {
	h := manifest.HashChunk([]byte("x"))
	file := func(p string) manifest.Entry {
		return manifest.Entry{Path: p, Kind: manifest.KindFile, Mode: 0o644, Size: 1, Chunks: []manifest.Hash{h}}
	}
	dir := func(p string) manifest.Entry { return manifest.Entry{Path: p, Kind: manifest.KindDir, Mode: 0o755} }
	// setSize rewrites the size of the file entry named name in an encoding
	// (u16 path length | path | mode u32 | mtime u64 | size u64), to make
	// what the encoder refuses: a size that does not match the chunk list.
	// declare says whether the sender's ManifestInfo owns up to the size.
	setSize := func(name string, size uint64, declare bool) func([]byte) uint64 {
		return func(enc []byte) uint64 {
			key := append([]byte{0, byte(len(name))}, name...)
			i := bytes.Index(enc, key)
			if i < 0 {
				t.Fatalf("entry %q not in the encoding", name)
			}
			binary.BigEndian.PutUint64(enc[i+len(key)+4+8:], size)
			if !declare {
				return 0
			}
			return size
		}
	}
	cases := map[string]struct {
		entries []manifest.Entry
		patch   func([]byte) uint64
	}{
		"dotdot":          {entries: []manifest.Entry{dir("a"), file("a/../../x")}},
		"parent escape":   {entries: []manifest.Entry{file("../x")}},
		"absolute":        {entries: []manifest.Entry{dir("/etc"), file("/etc/x")}},
		"duplicate":       {entries: []manifest.Entry{file("a"), file("a")}},
		"absurd size":     {entries: []manifest.Entry{file("big")}, patch: setSize("big", 1<<60, false)},
		"symlink escape":  {entries: []manifest.Entry{{Path: "l", Kind: manifest.KindSymlink, Target: "../../etc/passwd"}}},
		"through symlink": {entries: []manifest.Entry{{Path: "l", Kind: manifest.KindSymlink, Target: "d"}, file("l/x")}},
		"chunk count":     {entries: []manifest.Entry{file("f")}, patch: setSize("f", 3<<20, true)},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			base := t.TempDir()
			dest := filepath.Join(base, "dest")
			pass := testPass(t)
			addrs := hostileSender(t, pass, &manifest.Manifest{ChunkSize: manifest.DefaultChunkSize, Entries: c.entries}, c.patch)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			ro := recvOpts(pass, dest, addrs)
			ro.ResumeLogPath = filepath.Join(base, "resume.db")
			_, err := Receive(ctx, ro)
			// Refused by the manifest's validation, not by some other step.
			if !errors.Is(err, ErrPeerMisbehaving) || !errors.Is(err, manifest.ErrInvalid) &&
				!errors.Is(err, manifest.ErrTooLarge) && !errors.Is(err, manifest.ErrMalformed) {
				t.Fatalf("err = %v, want ErrPeerMisbehaving wrapping manifest.ErrInvalid, ErrTooLarge or ErrMalformed", err)
			}
			var des []string
			filepath.Walk(base, func(p string, _ os.FileInfo, _ error) error { des = append(des, p); return nil })
			for _, p := range des {
				if rel, _ := filepath.Rel(base, p); rel != "." && rel != "dest" && rel != "resume.db" {
					t.Errorf("hostile manifest left %s behind", rel)
				}
			}
			if t.Failed() {
				fmt.Println(des)
			}
		})
	}
}
