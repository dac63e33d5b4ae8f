package engine

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/pcp-p2p/pcp/auth"
	"github.com/pcp-p2p/pcp/engine/p2p"
	"github.com/pcp-p2p/pcp/engine/wire"
)

// watchdog bounds a wait that should end at once; it only detects a
// failure, nothing waits for it to pass.
const watchdog = 20 * time.Second

// authEvents records a sender's authentication events.
type authEvents struct {
	mu            sync.Mutex
	wrong         int // AuthFailedEvents for a judged wrong guess
	maxFailures   int // highest Failures reported
	authenticated int
}

func (a *authEvents) observe(e Event) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch e := e.(type) {
	case AuthFailedEvent:
		if errors.Is(e.Err, ErrWrongPassphrase) {
			a.wrong++
		}
		a.maxFailures = max(a.maxFailures, e.Failures)
	case AuthenticatedEvent:
		a.authenticated++
	}
}

func (a *authEvents) counts() (wrong, maxFailures, authenticated int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.wrong, a.maxFailures, a.authenticated
}

// attacker is a libp2p host connected to the sender at addrs; it speaks the
// protocol by hand.
func attacker(t *testing.T, ctx context.Context, addrs []string) (host.Host, peer.ID) {
	t.Helper()
	h, err := p2p.NewHost(p2p.HostOptions{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	infos, err := p2p.ParseAddrInfos(addrs)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Connect(ctx, infos[0]); err != nil {
		t.Fatal(err)
	}
	return h, infos[0].ID
}

// guess opens a control stream and runs the receiver's handshake with pass.
func guess(ctx context.Context, h host.Host, id peer.ID, pass auth.Passphrase) (network.Stream, error) {
	s, err := openStream(ctx, h, id, wire.Open{Kind: wire.KindControl})
	if err != nil {
		return nil, err
	}
	_, err = auth.Handshake(ctx, s, auth.Config{Role: auth.RoleReceiver, Passphrase: pass,
		LocalID: []byte(h.ID()), RemoteID: []byte(id)})
	if err != nil {
		s.Reset()
		return nil, err
	}
	return s, nil
}

// openFrame is the Open frame of a control stream.
func openFrame() []byte {
	var b bytes.Buffer
	_ = wire.WriteFrame(&b, wire.TOpen, wire.Open{Kind: wire.KindControl}.Append(nil))
	return b.Bytes()
}

// silentStream opens a stream and sends the first byte of an Open frame
// (so the sender's handler runs and waits for the rest), then nothing.
func silentStream(t *testing.T, ctx context.Context, h host.Host, id peer.ID) network.Stream {
	t.Helper()
	s, err := h.NewStream(ctx, id, wire.ProtocolID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(openFrame()[:1]); err != nil {
		t.Fatal(err)
	}
	return s
}

// stalledHandshake opens a control stream, reads the sender's first PAKE
// message (so the sender is inside the handshake) and never answers.
func stalledHandshake(t *testing.T, ctx context.Context, h host.Host, id peer.ID) network.Stream {
	t.Helper()
	s, err := openStream(ctx, h, id, wire.Open{Kind: wire.KindControl})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.SetReadDeadline(time.Now().Add(watchdog))
	if _, err := io.ReadFull(s, make([]byte, 3+66)); err != nil { // sender-hello
		t.Fatalf("no sender-hello: %v", err)
	}
	_ = s.SetReadDeadline(time.Time{})
	return s
}

// assertEndedBySender fails unless the sender ends s (reset or close)
// before the watchdog.
func assertEndedBySender(t *testing.T, what string, s network.Stream) {
	t.Helper()
	_ = s.SetReadDeadline(time.Now().Add(watchdog))
	_, err := io.Copy(io.Discard, s)
	// yamux reports its deadline as a net.Error, not os.ErrDeadlineExceeded.
	var ne net.Error
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("%s: the sender kept the stream open (%v)", what, err)
	}
}

func waitSend(t *testing.T, res <-chan sendResult) sendResult {
	t.Helper()
	select {
	case r := <-res:
		return r
	case <-time.After(watchdog):
		t.Fatal("Send did not return")
	}
	return sendResult{}
}

func oneFile(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "f")
	writeFile(t, p, []byte("the offer"))
	return p
}

// TestConcurrentWrongGuessesAreBounded: 20 wrong handshakes at once against
// MaxAuthFailures 3. Handshakes in flight hold a slot, so exactly 3 guesses
// are judged, the rest are refused unread, and Send stops.
func TestConcurrentWrongGuessesAreBounded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var ev authEvents
	addrs, res := startSender(t, ctx, SendOptions{Paths: []string{oneFile(t)}, Passphrase: testPass(t),
		MaxAuthFailures: 3, Events: ev.observe})
	h, id := attacker(t, ctx, addrs)
	const n = 20
	wrong := make([]auth.Passphrase, n)
	for i := range wrong {
		wrong[i] = testPass(t)
	}
	start := make(chan struct{})
	results := make(chan error, n)
	for i := range n {
		go func() {
			<-start
			s, err := guess(ctx, h, id, wrong[i])
			if s != nil {
				s.Reset()
			}
			results <- err
		}()
	}
	close(start)
	attackerJudged := 0
	for range n {
		err := <-results
		if err == nil {
			t.Error("a wrong passphrase was accepted")
		}
		if errors.Is(err, ErrWrongPassphrase) {
			attackerJudged++
		}
	}
	r := waitSend(t, res)
	if !errors.Is(r.err, ErrTooManyFailures) {
		t.Fatalf("Send: %v, want ErrTooManyFailures", r.err)
	}
	judged, maxFailures, _ := ev.counts()
	if judged != 3 || maxFailures != 3 || attackerJudged != 3 {
		t.Fatalf("sender judged %d wrong guesses (reported up to %d failures), attacker saw %d judged; want 3",
			judged, maxFailures, attackerJudged)
	}
}

// TestNoHandshakeAfterExhaustion: a stream opened before the guard is
// exhausted, and one opened after, get no manifest even with the right
// words.
func TestNoHandshakeAfterExhaustion(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pass := testPass(t)
	var ev authEvents
	addrs, res := startSender(t, ctx, SendOptions{Paths: []string{oneFile(t)}, Passphrase: pass,
		MaxAuthFailures: 3, Events: ev.observe})
	h, id := attacker(t, ctx, addrs)
	early := silentStream(t, ctx, h, id)
	for i := range 3 {
		// The last one too: the sender stops, but lets the peer read its abort.
		if _, err := guess(ctx, h, id, testPass(t)); !errors.Is(err, ErrWrongPassphrase) {
			t.Fatalf("guess %d: %v, want ErrWrongPassphrase", i, err)
		}
	}
	// The early stream finishes its Open and plays the right words.
	if _, err := early.Write(openFrame()[1:]); err == nil {
		_, err = auth.Handshake(ctx, early, auth.Config{Role: auth.RoleReceiver, Passphrase: pass,
			LocalID: []byte(h.ID()), RemoteID: []byte(id)})
		if err == nil {
			_, _, err = wire.NewReader(early).Next()
			t.Fatalf("handshake after exhaustion succeeded (then read: %v)", err)
		}
	}
	if s, err := guess(ctx, h, id, pass); err == nil {
		_, _, err = wire.NewReader(s).Next()
		t.Fatalf("new stream after exhaustion authenticated (then read: %v)", err)
	}
	r := waitSend(t, res)
	if !errors.Is(r.err, ErrTooManyFailures) {
		t.Fatalf("Send: %v, want ErrTooManyFailures", r.err)
	}
	if judged, _, authed := ev.counts(); judged != 3 || authed != 0 {
		t.Fatalf("sender judged %d wrong guesses and authenticated %d peers; want 3 and 0", judged, authed)
	}
}

// TestSilentStreamsDoNotHoldSender: a stream that never completes its Open
// and one stalled inside PAKE are open when the transfer finishes; Send
// returns at once all the same and ends both streams.
func TestSilentStreamsDoNotHoldSender(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pass := testPass(t)
	src := oneFile(t)
	addrs, res := startSender(t, ctx, SendOptions{Paths: []string{src}, Passphrase: pass})
	h, id := attacker(t, ctx, addrs)
	silent := silentStream(t, ctx, h, id)
	stalled := stalledHandshake(t, ctx, h, id)

	dest := filepath.Join(t.TempDir(), "out")
	if _, err := Receive(ctx, recvOpts(pass, dest, addrs)); err != nil {
		t.Fatalf("Receive: %v", err)
	}
	if r := waitSend(t, res); r.err != nil {
		t.Fatalf("Send: %v", r.err)
	}
	assertEndedBySender(t, "silent stream", silent)
	assertEndedBySender(t, "stalled handshake", stalled)
	if !sameBytes(t, src, filepath.Join(dest, "f")) {
		t.Fatal("file differs")
	}
}

// TestUnauthenticatedStreamsHaveDeadlines: while the sender keeps running,
// it ends a stream that never sends Open, a handshake that stalls, and an
// authenticated receiver that never decides, each at its deadline. The
// stalled handshake held the only slot (MaxAuthFailures 1) and gives it
// back without counting a guess: the right words are served after it, and
// only the one wrong guess at the end stops the sender.
func TestUnauthenticatedStreamsHaveDeadlines(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pass := testPass(t)
	var ev authEvents
	addrs, res := startSender(t, ctx, SendOptions{Paths: []string{oneFile(t)}, Passphrase: pass, MaxAuthFailures: 1,
		Events:   ev.observe,
		timeouts: serverTimeouts{open: time.Second, handshake: 2 * time.Second, decision: time.Second}})
	h, id := attacker(t, ctx, addrs)

	silent := silentStream(t, ctx, h, id)
	stalled := stalledHandshake(t, ctx, h, id)
	assertEndedBySender(t, "silent stream", silent)
	assertEndedBySender(t, "stalled handshake", stalled)
	undecided, err := guess(ctx, h, id, pass)
	if err != nil {
		t.Fatalf("right words after a stalled handshake: %v", err)
	}
	assertEndedBySender(t, "undecided receiver", undecided)
	select {
	case r := <-res:
		t.Fatalf("Send returned early: %v", r.err)
	default:
	}
	if judged, _, authed := ev.counts(); judged != 0 || authed != 1 {
		t.Fatalf("%d wrong guesses judged and %d receivers authenticated; want 0 and 1", judged, authed)
	}

	if _, err := guess(ctx, h, id, testPass(t)); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong words: %v, want ErrWrongPassphrase", err)
	}
	if r := waitSend(t, res); !errors.Is(r.err, ErrTooManyFailures) {
		t.Fatalf("Send: %v, want ErrTooManyFailures", r.err)
	}
	if judged, maxFailures, _ := ev.counts(); judged != 1 || maxFailures != 1 {
		t.Fatalf("%d wrong guesses judged, up to %d failures reported; want 1", judged, maxFailures)
	}
}
