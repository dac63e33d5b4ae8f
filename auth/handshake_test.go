package auth

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// Peer IDs shaped like libp2p identity multihashes of ed25519 keys
// (0x00 0x24 0x08 0x01 0x12 0x20 | 32-byte key).
func testPeerID(seed byte) []byte {
	id := []byte{0x00, 0x24, 0x08, 0x01, 0x12, 0x20}
	for i := range 32 {
		id = append(id, seed+byte(i))
	}
	return id
}

var (
	senderID   = testPeerID(0x10)
	receiverID = testPeerID(0x50)
	malloryID  = testPeerID(0x90)
)

func mustParse(tb testing.TB, s string) Passphrase {
	tb.Helper()
	p, err := Parse(s)
	if err != nil {
		tb.Fatalf("Parse(%q): %v", s, err)
	}
	return p
}

func senderCfg(p Passphrase) Config {
	return Config{Role: RoleSender, Passphrase: p, LocalID: senderID, RemoteID: receiverID}
}

func receiverCfg(p Passphrase) Config {
	return Config{Role: RoleReceiver, Passphrase: p, LocalID: receiverID, RemoteID: senderID}
}

// pipe returns the two ends of a net.Pipe, closed when the test ends.
func pipe(tb testing.TB) (net.Conn, net.Conn) {
	tb.Helper()
	a, b := net.Pipe()
	tb.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

type result struct {
	s   *Session
	err error
}

// runPair runs both handshakes concurrently and returns both results. Each
// side closes its connection when its handshake returns, as the engine
// does on error, so a side that waits for a message that never comes sees
// EOF rather than hanging the test.
func runPair(tb testing.TB, ctx context.Context, sc, rc Config, sconn, rconn net.Conn) (sender, receiver result) {
	tb.Helper()
	var wg sync.WaitGroup
	wg.Go(func() {
		sender.s, sender.err = Handshake(ctx, sconn, sc)
		if sender.err != nil {
			sconn.Close()
		}
	})
	wg.Go(func() {
		receiver.s, receiver.err = Handshake(ctx, rconn, rc)
		if receiver.err != nil {
			rconn.Close()
		}
	})
	wg.Wait()
	return sender, receiver
}

func testCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

func TestHandshakeRoundTrip(t *testing.T) {
	p := mustParse(t, "orbit-mango-fiscal-tiger")
	var prev *Session
	for i := range 2 {
		a, b := pipe(t)
		s, r := runPair(t, testCtx(t), senderCfg(p), receiverCfg(p), a, b)
		if s.err != nil || r.err != nil {
			t.Fatalf("run %d: sender err %v, receiver err %v", i, s.err, r.err)
		}
		if s.s.Key != r.s.Key || s.s.ID != r.s.ID {
			t.Fatalf("run %d: sides disagree: %x/%x vs %x/%x", i, s.s.Key, s.s.ID, r.s.Key, r.s.ID)
		}
		if s.s.Key == [32]byte{} || s.s.Key == s.s.ID {
			t.Fatalf("run %d: degenerate session %x %x", i, s.s.Key, s.s.ID)
		}
		if prev != nil && (prev.Key == s.s.Key || prev.ID == s.s.ID) {
			t.Fatalf("two handshakes produced the same session")
		}
		prev = s.s
		// The connection is usable afterwards: nothing is left unread.
		go a.Write([]byte("manifest"))
		buf := make([]byte, 8)
		if _, err := io.ReadFull(b, buf); err != nil || string(buf) != "manifest" {
			t.Fatalf("after handshake: %q, %v", buf, err)
		}
	}
}

func TestHandshakeRoundTripSeparators(t *testing.T) {
	// The two sides typed the same passphrase differently.
	a, b := pipe(t)
	s, r := runPair(t, testCtx(t),
		senderCfg(mustParse(t, "orbit-mango-fiscal-tiger")),
		receiverCfg(mustParse(t, "  Orbit mango_FISCAL\ttiger ")), a, b)
	if s.err != nil || r.err != nil || s.s.Key != r.s.Key {
		t.Fatalf("sender %v, receiver %v", s.err, r.err)
	}
}

func TestHandshakeWrongPassphrase(t *testing.T) {
	cases := []struct{ sender, receiver string }{
		{"orbit-mango-fiscal-tiger", "orbit-mango-fiscal-tilt"},  // last secret word differs
		{"orbit-mango-fiscal-tiger", "orbit-fiscal-mango-tiger"}, // order differs
		{"orbit-mango-fiscal-tiger", "ocean-mango-fiscal-tiger"}, // channel differs (bound by the transcript)
		{"orbit-mango-fiscal-tiger", "orbit-mango-fiscal"},       // fewer words
	}
	for _, c := range cases {
		t.Run(c.receiver, func(t *testing.T) {
			a, b := pipe(t)
			ctx := testCtx(t)
			start := time.Now()
			s, r := runPair(t, ctx, senderCfg(mustParse(t, c.sender)), receiverCfg(mustParse(t, c.receiver)), a, b)
			for side, res := range map[string]result{"sender": s, "receiver": r} {
				if !errors.Is(res.err, ErrWrongPassphrase) || res.s != nil {
					t.Errorf("%s: got %v, %v; want ErrWrongPassphrase", side, res.s, res.err)
				}
				if errors.Is(res.err, ErrHandshake) || errors.Is(res.err, context.DeadlineExceeded) {
					t.Errorf("%s: %v also matches another condition", side, res.err)
				}
			}
			if ctx.Err() != nil {
				t.Fatalf("a side waited for the context (%v after %v)", ctx.Err(), time.Since(start))
			}
		})
	}
}

// relay forwards frames between two connections (a man in the middle that
// does not know the passphrase). If tamper is set, it is applied to each
// frame before forwarding; index counts frames in both directions in the
// order they were read. The relay knows the real frame lengths, so it
// forwards exactly one frame per read even when tamper changes the header.
type relay struct {
	mu     sync.Mutex
	n      int
	tamper func(index int, frame []byte)
}

func (rl *relay) run(src, dst net.Conn) {
	defer dst.Close()
	defer src.Close()
	for {
		var hdr [headerLen]byte
		if _, err := io.ReadFull(src, hdr[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(hdr[1:]))
		frame := make([]byte, headerLen+n)
		copy(frame, hdr[:])
		if _, err := io.ReadFull(src, frame[headerLen:]); err != nil {
			return
		}
		rl.mu.Lock()
		i := rl.n
		rl.n++
		rl.mu.Unlock()
		if rl.tamper != nil {
			rl.tamper(i, frame)
		}
		if _, err := dst.Write(frame); err != nil {
			return
		}
	}
}

// middle connects a sender and a receiver through rl and returns the
// sender's and the receiver's connection.
func middle(tb testing.TB, rl *relay) (net.Conn, net.Conn) {
	sconn, ms := pipe(tb)
	mr, rconn := pipe(tb)
	go rl.run(ms, mr)
	go rl.run(mr, ms)
	return sconn, rconn
}

func TestHandshakeManInTheMiddle(t *testing.T) {
	p := mustParse(t, "orbit-mango-fiscal-tiger")
	t.Run("relaying peer", func(t *testing.T) {
		// Mallory knows the passphrase's channel word but not the secret; the
		// sender and the receiver each see Mallory's peer ID on the transport.
		sconn, rconn := middle(t, &relay{})
		sc, rc := senderCfg(p), receiverCfg(p)
		sc.RemoteID, rc.RemoteID = malloryID, malloryID
		s, r := runPair(t, testCtx(t), sc, rc, sconn, rconn)
		if !errors.Is(s.err, ErrWrongPassphrase) || !errors.Is(r.err, ErrWrongPassphrase) {
			t.Fatalf("sender %v, receiver %v; want ErrWrongPassphrase on both", s.err, r.err)
		}
	})
	swaps := map[string]func(sc, rc *Config){
		"receiver sees another sender": func(sc, rc *Config) { rc.RemoteID = malloryID },
		"sender sees another receiver": func(sc, rc *Config) { sc.RemoteID = malloryID },
		"receiver swaps the IDs":       func(sc, rc *Config) { rc.LocalID, rc.RemoteID = rc.RemoteID, rc.LocalID },
	}
	for name, swap := range swaps {
		t.Run(name, func(t *testing.T) {
			a, b := pipe(t)
			sc, rc := senderCfg(p), receiverCfg(p)
			swap(&sc, &rc)
			s, r := runPair(t, testCtx(t), sc, rc, a, b)
			if !errors.Is(s.err, ErrWrongPassphrase) || !errors.Is(r.err, ErrWrongPassphrase) {
				t.Fatalf("sender %v, receiver %v; want ErrWrongPassphrase on both", s.err, r.err)
			}
		})
	}
}

// TestHandshakeFlippedByte flips one bit in every byte of every handshake
// message, header included, and checks that no tampering goes unnoticed,
// that neither side hangs, and that every error is one of the sentinels.
func TestHandshakeFlippedByte(t *testing.T) {
	p := mustParse(t, "orbit-mango-fiscal-tiger")
	msgs := []struct {
		name string
		t    msgType
	}{{"M1 sender-hello", msgSenderHello}, {"M2 receiver-reply", msgReceiverReply}, {"M3 sender-confirm", msgSenderConfirm}}
	for mi, m := range msgs {
		n, _ := bodyLen(m.t)
		for off := range headerLen + n {
			for _, bit := range []byte{0x01, 0x80} {
				name := fmt.Sprintf("%s/byte%d^%02x", m.name, off, bit)
				rl := &relay{tamper: func(i int, frame []byte) {
					if i == mi {
						frame[off] ^= bit
					}
				}}
				sconn, rconn := middle(t, rl)
				ctx := testCtx(t)
				s, r := runPair(t, ctx, senderCfg(p), receiverCfg(p), sconn, rconn)
				if ctx.Err() != nil {
					t.Fatalf("%s: a side hung until the context expired", name)
				}
				if r.err == nil {
					t.Fatalf("%s: receiver accepted a tampered handshake", name)
				}
				if mi < 2 && s.err == nil {
					t.Fatalf("%s: sender accepted a tampered handshake", name)
				}
				for side, err := range map[string]error{"sender": s.err, "receiver": r.err} {
					if err != nil && !errors.Is(err, ErrWrongPassphrase) && !errors.Is(err, ErrHandshake) {
						t.Fatalf("%s: %s returned %v, not a sentinel", name, side, err)
					}
				}
				// A flipped key-confirmation byte is a failed confirmation,
				// reported on both sides as a wrong passphrase.
				if m.t == msgReceiverReply && off >= headerLen+pointLen {
					if !errors.Is(s.err, ErrWrongPassphrase) || !errors.Is(r.err, ErrWrongPassphrase) {
						t.Fatalf("%s: sender %v, receiver %v; want ErrWrongPassphrase", name, s.err, r.err)
					}
				}
			}
		}
	}
}

// scriptedPeer plays fixed frames and, concurrently, records what it reads.
func scriptedPeer(conn net.Conn, frames ...[]byte) <-chan []byte {
	got := make(chan []byte, 1)
	go func() {
		for _, f := range frames {
			if _, err := conn.Write(f); err != nil {
				break
			}
		}
	}()
	go func() {
		var in bytes.Buffer
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		io.Copy(&in, conn)
		got <- in.Bytes()
	}()
	return got
}

func TestHandshakeGarbage(t *testing.T) {
	p := mustParse(t, "orbit-mango-fiscal-tiger")
	validPoint := make([]byte, pointLen)
	{
		// A valid M1 point taken from a real sender.
		a, b := pipe(t)
		go Handshake(testCtx(t), a, senderCfg(p))
		var buf [maxFrameBody]byte
		_, body, err := readFrame(b, &buf)
		if err != nil {
			t.Fatal(err)
		}
		copy(validPoint, body[1:])
		a.Close()
	}
	offCurve := bytes.Clone(validPoint)
	offCurve[40] ^= 1
	hello := func(version byte, pt []byte) []byte {
		return appendFrame(nil, msgSenderHello, append([]byte{version}, pt...))
	}
	cases := []struct {
		name      string
		frame     []byte
		wantAbort abortReason
		wantText  string
	}{
		{"oversized length", []byte{byte(msgSenderHello), 0xff, 0xff}, abortProtocol, "exceeds the bound"},
		{"unknown type", appendFrame(nil, 0x42, []byte{1}), abortProtocol, "unknown message"},
		{"wrong length for type", appendFrame(nil, msgSenderHello, make([]byte, 10)), abortProtocol, "want 66"},
		{"unexpected message", appendFrame(nil, msgSenderConfirm, make([]byte, confirmLen)), abortProtocol, "want sender-hello"},
		{"future version", hello(2, validPoint), abortVersion, "version 2"},
		{"point off the curve", hello(1, offCurve), abortProtocol, "invalid P-256 point"},
		{"point at infinity", hello(1, make([]byte, pointLen)), abortProtocol, "invalid P-256 point"},
		{"compressed point", hello(1, append([]byte{2}, validPoint[1:]...)), abortProtocol, "invalid P-256 point"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, b := pipe(t)
			got := scriptedPeer(a, c.frame)
			_, err := Handshake(testCtx(t), b, receiverCfg(p))
			if !errors.Is(err, ErrHandshake) || errors.Is(err, ErrWrongPassphrase) {
				t.Fatalf("got %v, want ErrHandshake", err)
			}
			if !strings.Contains(err.Error(), c.wantText) {
				t.Errorf("error %q does not mention %q", err, c.wantText)
			}
			b.Close()
			want := appendFrame(nil, msgAbort, []byte{byte(c.wantAbort)})
			if in := <-got; !bytes.Equal(in, want) {
				t.Fatalf("peer received %x, want abort %x", in, want)
			}
		})
	}
	t.Run("sender gets a version abort", func(t *testing.T) {
		a, b := pipe(t)
		go func() {
			var buf [maxFrameBody]byte
			readFrame(a, &buf)
			writeFrame(a, msgAbort, []byte{byte(abortVersion)})
		}()
		_, err := Handshake(testCtx(t), b, senderCfg(p))
		if !errors.Is(err, ErrHandshake) || !strings.Contains(err.Error(), "version") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("peer closes early", func(t *testing.T) {
		a, b := pipe(t)
		go func() {
			var buf [maxFrameBody]byte
			readFrame(a, &buf)
			a.Close()
		}()
		_, err := Handshake(testCtx(t), b, senderCfg(p))
		if !errors.Is(err, ErrHandshake) || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("got %v, want ErrHandshake wrapping io.ErrUnexpectedEOF", err)
		}
	})
}

func TestHandshakeConfig(t *testing.T) {
	p := mustParse(t, "orbit-mango-fiscal-tiger")
	bad := map[string]Config{
		"zero role":     {Passphrase: p, LocalID: senderID, RemoteID: receiverID},
		"unknown role":  {Role: 7, Passphrase: p, LocalID: senderID, RemoteID: receiverID},
		"no passphrase": {Role: RoleSender, LocalID: senderID, RemoteID: receiverID},
		"no local ID":   {Role: RoleSender, Passphrase: p, RemoteID: receiverID},
		"no remote ID":  {Role: RoleSender, Passphrase: p, LocalID: senderID},
		"equal IDs":     {Role: RoleSender, Passphrase: p, LocalID: senderID, RemoteID: bytes.Clone(senderID)},
		"huge ID":       {Role: RoleSender, Passphrase: p, LocalID: make([]byte, maxPeerIDLen+1), RemoteID: receiverID},
	}
	for name, cfg := range bad {
		t.Run(name, func(t *testing.T) {
			a, _ := pipe(t)
			if _, err := Handshake(testCtx(t), a, cfg); !errors.Is(err, ErrConfig) {
				t.Fatalf("got %v, want ErrConfig", err)
			}
		})
	}
}

// bare hides SetDeadline, to exercise the goroutine path.
type bare struct {
	io.Reader
	io.Writer
}

func TestHandshakeCancel(t *testing.T) {
	p := mustParse(t, "orbit-mango-fiscal-tiger")
	t.Run("cancel with deadlines", func(t *testing.T) {
		_, b := pipe(t) // the peer never reads or writes
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { _, err := Handshake(ctx, b, receiverCfg(p)); done <- err }()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) || errors.Is(err, ErrHandshake) {
			t.Fatalf("got %v, want context.Canceled only", err)
		}
	})
	t.Run("context deadline", func(t *testing.T) {
		_, b := pipe(t)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if _, err := Handshake(ctx, b, senderCfg(p)); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want context.DeadlineExceeded", err)
		}
	})
	t.Run("cancel without deadlines", func(t *testing.T) {
		pr, pw := io.Pipe()
		defer pr.Close()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { _, err := Handshake(ctx, bare{pr, io.Discard}, receiverCfg(p)); done <- err }()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
		pw.Close() // unblocks the handshake goroutine, as documented
	})
	t.Run("already cancelled", func(t *testing.T) {
		a, _ := pipe(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := Handshake(ctx, a, senderCfg(p)); !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("round trip without deadlines", func(t *testing.T) {
		a, b := pipe(t)
		var wg sync.WaitGroup
		var rs *Session
		var rerr error
		wg.Go(func() { rs, rerr = Handshake(testCtx(t), bare{b, b}, receiverCfg(p)) })
		ss, serr := Handshake(testCtx(t), bare{a, a}, senderCfg(p))
		wg.Wait()
		if serr != nil || rerr != nil || ss.Key != rs.Key {
			t.Fatalf("sender %v, receiver %v", serr, rerr)
		}
	})
}

// deadlineRecorder records SetDeadline calls.
type deadlineRecorder struct {
	net.Conn
	mu    sync.Mutex
	calls []time.Time
}

func (d *deadlineRecorder) SetDeadline(t time.Time) error {
	d.mu.Lock()
	d.calls = append(d.calls, t)
	d.mu.Unlock()
	return d.Conn.SetDeadline(t)
}

func TestHandshakeDeadlineLifecycle(t *testing.T) {
	p := mustParse(t, "orbit-mango-fiscal-tiger")
	a, b := pipe(t)
	rec := &deadlineRecorder{Conn: a}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	dl, _ := ctx.Deadline()
	var wg sync.WaitGroup
	wg.Go(func() {
		if _, err := Handshake(testCtx(t), b, receiverCfg(p)); err != nil {
			t.Error(err)
		}
	})
	if _, err := Handshake(ctx, rec, senderCfg(p)); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	// Cancelling after the handshake must not touch the connection.
	cancel()
	go a.Write([]byte{1})
	if _, err := b.Read(make([]byte, 1)); err != nil {
		t.Fatalf("connection unusable after cancel: %v", err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.calls) != 2 || !rec.calls[0].Equal(dl) || !rec.calls[1].IsZero() {
		t.Fatalf("SetDeadline calls %v, want [ctx deadline, zero]", rec.calls)
	}
}

// TestSenderGuard plays a sender serving a series of receivers, counting
// wrong passphrases in a Guard as the engine does.
func TestSenderGuard(t *testing.T) {
	right := mustParse(t, "orbit-mango-fiscal-tiger")
	wrong := mustParse(t, "orbit-mango-fiscal-tilt")
	g := &Guard{} // Max 0 = 3
	attempts := []Passphrase{wrong, right, wrong, right, wrong}
	var served, stoppedAt int
	for i, rp := range attempts {
		a, b := pipe(t)
		s, r := runPair(t, testCtx(t), senderCfg(right), receiverCfg(rp), a, b)
		if rp.String() == right.String() {
			if s.err != nil || r.err != nil {
				t.Fatalf("attempt %d: rightful receiver refused: %v / %v", i, s.err, r.err)
			}
			served++
			continue
		}
		if !errors.Is(s.err, ErrWrongPassphrase) || !errors.Is(r.err, ErrWrongPassphrase) {
			t.Fatalf("attempt %d: %v / %v", i, s.err, r.err)
		}
		n, err := g.Fail()
		if err != nil {
			if !errors.Is(err, ErrTooManyFailures) || n != 3 {
				t.Fatalf("attempt %d: Fail = %d, %v", i, n, err)
			}
			stoppedAt = i
			break
		}
	}
	if served != 2 || stoppedAt != 4 || g.Failures() != 3 || !g.Exhausted() {
		t.Fatalf("served %d, stopped at %d, failures %d", served, stoppedAt, g.Failures())
	}
}

func TestSessionDoesNotPrintKey(t *testing.T) {
	s := &Session{}
	for i := range s.Key {
		s.Key[i] = 0xab
		s.ID[i] = 0xcd
	}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "session", s)
	key := hex.EncodeToString(s.Key[:4])
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v", *s, s, s), logged.String()} {
		if strings.Contains(out, key) || strings.Contains(out, "171") || !strings.Contains(out, "cdcdcdcd") {
			t.Errorf("output %q leaks the key or lacks the ID", out)
		}
	}
}

func BenchmarkHandshake(b *testing.B) {
	p := mustParse(b, "orbit-mango-fiscal-tiger")
	ctx := context.Background()
	for b.Loop() {
		x, y := net.Pipe()
		s, r := runPair(b, ctx, senderCfg(p), receiverCfg(p), x, y)
		if s.err != nil || r.err != nil {
			b.Fatal(s.err, r.err)
		}
		x.Close()
		y.Close()
	}
}
