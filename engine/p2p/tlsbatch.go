package p2p

import (
	"context"
	"net"
	"sync"
	"sync/atomic"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/core/sec"
	tptu "github.com/libp2p/go-libp2p/p2p/net/upgrader"
	tls "github.com/libp2p/go-libp2p/p2p/security/tls"
)

// batchedTLS is libp2p's TLS security transport whose connections write
// each Write's records with one write(2).
//
// crypto/tls seals at most 16 KiB per record and writes every record to the
// socket as it is sealed. yamux hands the secured connection one frame per
// Write (up to 64 KiB of data), so bulk data cost four write(2) per frame,
// each its own TCP segment: on loopback 17% of a sender's CPU went to
// socket writes. The records of one Write are gathered in a pooled buffer
// and written together. The bytes on the wire are the same, record for
// record; only the system calls change.
type batchedTLS struct{ *tls.Transport }

var _ sec.SecureTransport = (*batchedTLS)(nil)

// newBatchedTLS has tls.New's signature, for libp2p.Security.
func newBatchedTLS(id protocol.ID, key crypto.PrivKey, muxers []tptu.StreamMuxer) (*batchedTLS, error) {
	t, err := tls.New(id, key, muxers)
	if err != nil {
		return nil, err
	}
	return &batchedTLS{t}, nil
}

func (t *batchedTLS) SecureInbound(ctx context.Context, insecure net.Conn, p peer.ID) (sec.SecureConn, error) {
	b := &recordBatcher{Conn: insecure}
	return b.secured(t.Transport.SecureInbound(ctx, b, p))
}

func (t *batchedTLS) SecureOutbound(ctx context.Context, insecure net.Conn, p peer.ID) (sec.SecureConn, error) {
	b := &recordBatcher{Conn: insecure}
	return b.secured(t.Transport.SecureOutbound(ctx, b, p))
}

// secured wraps c, secured over b, so that its Writes hold their records.
func (b *recordBatcher) secured(c sec.SecureConn, err error) (sec.SecureConn, error) {
	if err != nil {
		return nil, err
	}
	return &batchedConn{SecureConn: c, b: b}, nil
}

// batchedConn is a secured connection whose Write holds the records it
// seals and writes them out at once.
type batchedConn struct {
	sec.SecureConn
	b *recordBatcher
}

func (c *batchedConn) Write(p []byte) (int, error) {
	c.b.hold()
	n, err := c.SecureConn.Write(p)
	if ferr := c.b.release(); ferr != nil && err == nil {
		return 0, ferr
	}
	return n, err
}

// Close during a Write closes the socket, so that a Write blocked on a
// peer that stopped reading ends at once, as crypto/tls's Close does for
// its own Write. Without it, the records a batcher is flushing are
// outside crypto/tls's Write, and its Close would queue its close_notify
// behind them for up to its 5 s write deadline.
func (c *batchedConn) Close() error {
	if c.b.holders.Load() != 0 {
		return c.b.Conn.Close()
	}
	return c.SecureConn.Close()
}

// maxBatch bounds what a batcher holds: a larger Write goes out in
// pieces of about this size.
const maxBatch = 256 << 10

var batchPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10+1<<10); return &b }}

// recordBatcher sits under crypto/tls. While a Write of the secured
// connection is in progress (holders > 0), what TLS writes (its records,
// and anything another goroutine's TLS writes meanwhile) is appended to a
// buffer, in order; release writes the buffer out. Otherwise (the
// handshake, an alert from a read) writes go straight through.
type recordBatcher struct {
	net.Conn
	// holders counts the Writes in progress, each until its flush is
	// done (batchedConn.Close reads it without the lock a flush holds).
	holders atomic.Int32
	mu      sync.Mutex
	buf     *[]byte // from batchPool while it holds bytes
}

func (b *recordBatcher) hold() { b.holders.Add(1) }

// release writes out what is held, then ends one hold.
func (b *recordBatcher) release() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	defer b.holders.Add(-1)
	return b.flushLocked()
}

func (b *recordBatcher) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.holders.Load() == 0 {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
		return b.Conn.Write(p)
	}
	if b.buf == nil {
		b.buf = batchPool.Get().(*[]byte)
	}
	*b.buf = append(*b.buf, p...)
	if len(*b.buf) >= maxBatch {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// flushLocked writes out the held bytes and returns the buffer to the
// pool.
func (b *recordBatcher) flushLocked() error {
	if b.buf == nil {
		return nil
	}
	buf := b.buf
	b.buf = nil
	var err error
	if len(*buf) > 0 {
		_, err = b.Conn.Write(*buf)
	}
	if cap(*buf) <= maxBatch+64<<10 {
		*buf = (*buf)[:0]
		batchPool.Put(buf)
	}
	return err
}
