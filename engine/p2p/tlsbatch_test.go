package p2p

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/sec"
	tls "github.com/libp2p/go-libp2p/p2p/security/tls"
)

// countingConn counts the writes that reach the socket.
type countingConn struct {
	net.Conn
	writes atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// securePair secures a real loopback TCP connection with the transports
// newT makes, and returns the client's side, its socket's write counter,
// and the server's side.
func securePair(t *testing.T, newT func(crypto.PrivKey) (sec.SecureTransport, error)) (sec.SecureConn, *countingConn, sec.SecureConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	keys := [2]crypto.PrivKey{}
	tr := [2]sec.SecureTransport{}
	for i := range keys {
		if keys[i], _, err = crypto.GenerateEd25519Key(rand.Reader); err != nil {
			t.Fatal(err)
		}
		if tr[i], err = newT(keys[i]); err != nil {
			t.Fatal(err)
		}
	}
	serverID, err := peer.IDFromPrivateKey(keys[1])
	if err != nil {
		t.Fatal(err)
	}
	type res struct {
		c   sec.SecureConn
		err error
	}
	srv := make(chan res, 1)
	go func() {
		raw, err := ln.Accept()
		if err != nil {
			srv <- res{err: err}
			return
		}
		c, err := tr[1].SecureInbound(context.Background(), raw, "")
		srv <- res{c, err}
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	cc := &countingConn{Conn: raw}
	client, err := tr[0].SecureOutbound(context.Background(), cc, serverID)
	if err != nil {
		t.Fatal(err)
	}
	s := <-srv
	if s.err != nil {
		t.Fatal(s.err)
	}
	t.Cleanup(func() { client.Close(); s.c.Close() })
	if client.RemotePeer() != serverID {
		t.Fatalf("client sees %s, want %s", client.RemotePeer(), serverID)
	}
	return client, cc, s.c
}

func batched(k crypto.PrivKey) (sec.SecureTransport, error)  { return newBatchedTLS(tls.ID, k, nil) }
func plainTLS(k crypto.PrivKey) (sec.SecureTransport, error) { return tls.New(tls.ID, k, nil) }

// roundTrip writes p on from and checks that to reads the same bytes.
func roundTrip(t *testing.T, from, to sec.SecureConn, p []byte) {
	t.Helper()
	got := make(chan []byte, 1)
	go func() {
		b := make([]byte, len(p))
		if _, err := io.ReadFull(to, b); err != nil {
			b = nil
		}
		got <- b
	}()
	if n, err := from.Write(p); err != nil || n != len(p) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if !bytes.Equal(<-got, p) {
		t.Fatal("the peer read other bytes than were written")
	}
}

// writeAndCount is roundTrip from c, counted by cc: it returns how many
// socket writes the Write took.
func writeAndCount(t *testing.T, c sec.SecureConn, cc *countingConn, s sec.SecureConn, p []byte) int64 {
	t.Helper()
	before := cc.writes.Load()
	roundTrip(t, c, s, p)
	return cc.writes.Load() - before
}

func TestBatchedTLSOneWritePerFrame(t *testing.T) {
	frame := make([]byte, 64<<10) // one yamux frame's worth
	rand.Read(frame)
	big := make([]byte, 1<<20)
	rand.Read(big)

	c, cc, s := securePair(t, plainTLS)
	if w := writeAndCount(t, c, cc, s, frame); w < 4 {
		t.Fatalf("plain TLS wrote 64 KiB in %d writes; the premise (one per 16 KiB record) no longer holds", w)
	}

	c, cc, s = securePair(t, batched)
	if w := writeAndCount(t, c, cc, s, frame); w != 1 {
		t.Fatalf("batched TLS wrote 64 KiB in %d writes, want 1", w)
	}
	if w := writeAndCount(t, c, cc, s, big); w < 4 || w > 5 {
		t.Fatalf("batched TLS wrote 1 MiB in %d writes, want 4-5 (maxBatch %d)", w, maxBatch)
	}
	// The other direction goes through the server's batcher.
	roundTrip(t, s, c, frame)
}

// Writes from several goroutines at once each arrive whole and in one
// piece, as with crypto/tls alone.
func TestBatchedTLSConcurrentWrites(t *testing.T) {
	c, _, s := securePair(t, batched)
	const writers, each = 4, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				n := 1000 + (w*each+i)*331%40000
				m := make([]byte, 8+n)
				binary.BigEndian.PutUint32(m, uint32(n))
				binary.BigEndian.PutUint32(m[4:], uint32(w))
				for j := range n {
					m[8+j] = byte(w)
				}
				if _, err := c.Write(m); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	counts := make([]int, writers)
	for range writers * each {
		var h [8]byte
		if _, err := io.ReadFull(s, h[:]); err != nil {
			t.Fatal(err)
		}
		n, w := binary.BigEndian.Uint32(h[:]), binary.BigEndian.Uint32(h[4:])
		if w >= writers || n > 41000 {
			t.Fatalf("a message header is torn: n %d writer %d", n, w)
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(s, b); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, bytes.Repeat([]byte{byte(w)}, int(n))) {
			t.Fatalf("writer %d's message is interleaved with another's", w)
		}
		counts[w]++
	}
	wg.Wait()
	for w, n := range counts {
		if n != each {
			t.Fatalf("writer %d: %d messages arrived, want %d", w, n, each)
		}
	}
}

// stuckConn is a socket whose peer stops reading: once enough bytes have
// been written, a write blocks until the connection is closed (it ignores
// deadlines, so a close_notify queued behind a blocked flush would wait
// forever, and the test below hang, if Close waited for it).
type stuckConn struct {
	net.Conn
	sent   atomic.Int64
	enough int64
	stuck  chan struct{} // closed when a write blocks
	closed chan struct{}
	once   [2]sync.Once
}

func (c *stuckConn) SetWriteDeadline(time.Time) error { return nil }
func (c *stuckConn) SetDeadline(time.Time) error      { return nil }

func (c *stuckConn) Write(p []byte) (int, error) {
	if c.sent.Add(int64(len(p))) > c.enough {
		c.once[0].Do(func() { close(c.stuck) })
		<-c.closed
		return 0, net.ErrClosed
	}
	return c.Conn.Write(p)
}

func (c *stuckConn) Close() error {
	c.once[1].Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// Close while a Write is stuck on a peer that does not read ends the
// Write with an error, and does not wait for the peer.
func TestBatchedTLSCloseEndsBlockedWrite(t *testing.T) {
	var sc *stuckConn
	c, _, _ := securePair(t, func(k crypto.PrivKey) (sec.SecureTransport, error) {
		tr, err := batched(k)
		if err != nil {
			return nil, err
		}
		return wrapInsecure{tr, func(raw net.Conn) net.Conn {
			sc = &stuckConn{Conn: raw, enough: 1 << 20, stuck: make(chan struct{}), closed: make(chan struct{})}
			return sc
		}}, nil
	})
	werr := make(chan error, 1)
	go func() {
		buf := make([]byte, 64<<10) // a yamux frame: its flush follows crypto/tls's Write
		for range 32 {              // 2 MiB: the socket takes 1
			if _, err := c.Write(buf); err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	}()
	<-sc.stuck
	closed := make(chan error, 1)
	go func() { closed <- c.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Logf("Close: %v", err)
		}
	case <-time.After(30 * time.Second): // fail, not hang, if Close waits on the peer
		t.Fatal("Close waits for a peer that stopped reading")
	}
	if err := <-werr; err == nil {
		t.Fatal("2 MiB written to a peer that stopped reading after 1, and no error")
	}
}

// wrapInsecure wraps the client's insecure connection before securing it.
type wrapInsecure struct {
	sec.SecureTransport
	wrap func(net.Conn) net.Conn
}

func (w wrapInsecure) SecureOutbound(ctx context.Context, c net.Conn, p peer.ID) (sec.SecureConn, error) {
	return w.SecureTransport.SecureOutbound(ctx, w.wrap(c), p)
}
