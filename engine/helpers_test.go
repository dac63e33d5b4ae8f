package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pcp-p2p/pcp/auth"
	"github.com/pcp-p2p/pcp/manifest"
)

// loopback keeps every test host on 127.0.0.1 with a kernel-chosen port and
// no discovery: tests must never multicast from the root namespace.
var loopback = NetworkOptions{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, NoDiscovery: true}

func testPass(t testing.TB) auth.Passphrase {
	t.Helper()
	p, err := auth.Generate(4)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// sendResult is what a background Send returned.
type sendResult struct {
	sum *Summary
	err error
}

// startSender runs Send in the background and returns its addresses once it
// listens, and a channel with its result.
func startSender(t testing.TB, ctx context.Context, opts SendOptions) ([]string, <-chan sendResult) {
	t.Helper()
	if opts.Network.ListenAddrs == nil {
		opts.Network = loopback
	}
	addrs := make(chan []string, 1)
	user := opts.Events
	opts.Events = func(e Event) {
		if l, ok := e.(ListeningEvent); ok {
			addrs <- l.Addrs
		}
		if user != nil {
			user(e)
		}
	}
	res := make(chan sendResult, 1)
	go func() {
		s, err := Send(ctx, opts)
		res <- sendResult{s, err}
		close(addrs)
	}()
	select {
	case a, ok := <-addrs:
		if !ok {
			r := <-res
			t.Fatalf("sender failed to start: %v", r.err)
		}
		return a, res
	case <-time.After(30 * time.Second):
		t.Fatal("sender did not start listening")
	}
	return nil, nil
}

func recvOpts(pass auth.Passphrase, dest string, addrs []string) ReceiveOptions {
	n := loopback
	n.Direct = addrs
	return ReceiveOptions{Passphrase: pass, Dest: dest, Network: n}
}

// writeRandom writes n random bytes to path.
func writeRandom(t testing.TB, path string, n int64) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.CopyN(f, rand.Reader, n); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// rootOf walks dir's entries exactly as a sender would and returns the root:
// equal roots mean equal paths, kinds, modes, mtimes, targets and bytes.
func rootOf(t testing.TB, paths ...string) manifest.Hash {
	t.Helper()
	src, err := manifest.Walk(context.Background(), paths, manifest.WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	return src.Table.Root()
}

// assertSameTree fails unless every entry under want exists in got with the
// same kind, mode, mtime, symlink target and bytes.
func assertSameTree(t testing.TB, want, got string) {
	t.Helper()
	err := filepath.WalkDir(want, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(want, p)
		q := filepath.Join(got, rel)
		a, err := os.Lstat(p)
		if err != nil {
			return err
		}
		b, err := os.Lstat(q)
		if err != nil {
			return err
		}
		if a.Mode() != b.Mode() {
			return errors.New(rel + ": mode " + a.Mode().String() + " != " + b.Mode().String())
		}
		switch {
		case a.Mode().IsRegular():
			if !a.ModTime().Equal(b.ModTime()) {
				return errors.New(rel + ": mtime differs")
			}
			if !sameBytes(t, p, q) {
				return errors.New(rel + ": bytes differ")
			}
		case a.Mode()&fs.ModeSymlink != 0:
			x, _ := os.Readlink(p)
			y, _ := os.Readlink(q)
			if x != y {
				return errors.New(rel + ": link target differs")
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func sameBytes(t testing.TB, a, b string) bool {
	fa, err := os.Open(a)
	if err != nil {
		t.Fatal(err)
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	ba, bb := make([]byte, 1<<20), make([]byte, 1<<20)
	for {
		na, ea := io.ReadFull(fa, ba)
		nb, eb := io.ReadFull(fb, bb)
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			return false
		}
		if ea != nil || eb != nil {
			return (ea == io.EOF || ea == io.ErrUnexpectedEOF) && (eb == io.EOF || eb == io.ErrUnexpectedEOF)
		}
	}
}

// cutProxy is a TCP proxy on loopback whose connections a test can cut, to
// drop a libp2p connection mid-stream as a network failure would.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newCutProxy(t testing.TB, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.cut(); p.wg.Wait() })
	return p
}

func (p *cutProxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

func (p *cutProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, u)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); io.Copy(u, c); u.Close() }()
		go func() { defer p.wg.Done(); io.Copy(c, u); c.Close() }()
	}
}

// cut closes every proxied connection; new ones are still accepted.
func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}
