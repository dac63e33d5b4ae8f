package engine

import (
	"context"
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

// hostileSender authenticates like a real sender, then sends m as is.
func hostileSender(t *testing.T, pass auth.Passphrase, m *manifest.Manifest) []string {
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
		mw := wire.NewManifestWriter(s)
		_ = manifest.Encode(mw, m)
		_ = mw.Flush()
		root := m.Root()
		_ = wire.WriteFrame(s, wire.TManifestEnd, root[:])
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
	cases := map[string][]manifest.Entry{
		"dotdot":          {dir("a"), file("a/../../x")},
		"parent escape":   {file("../x")},
		"absolute":        {dir("/etc"), file("/etc/x")},
		"duplicate":       {file("a"), file("a")},
		"absurd size":     {{Path: "big", Kind: manifest.KindFile, Mode: 0o644, Size: 1 << 60, Chunks: []manifest.Hash{h}}},
		"symlink escape":  {{Path: "l", Kind: manifest.KindSymlink, Target: "../../etc/passwd"}},
		"through symlink": {{Path: "l", Kind: manifest.KindSymlink, Target: "d"}, file("l/x")},
		"chunk count":     {{Path: "f", Kind: manifest.KindFile, Mode: 0o644, Size: 3 << 20, Chunks: []manifest.Hash{h}}},
	}
	for name, entries := range cases {
		t.Run(name, func(t *testing.T) {
			base := t.TempDir()
			dest := filepath.Join(base, "dest")
			pass := testPass(t)
			addrs := hostileSender(t, pass, &manifest.Manifest{ChunkSize: manifest.DefaultChunkSize, Entries: entries})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			ro := recvOpts(pass, dest, addrs)
			ro.ResumeLogPath = filepath.Join(base, "resume.db")
			_, err := Receive(ctx, ro)
			if !errors.Is(err, ErrPeerMisbehaving) {
				t.Fatalf("err = %v, want ErrPeerMisbehaving", err)
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
