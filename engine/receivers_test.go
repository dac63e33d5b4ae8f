package engine

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// senderLog records a sender's events about receivers.
type senderLog struct {
	mu    sync.Mutex
	auth  map[string]string // receiver ID -> peer
	done  map[string]string // receiver ID -> peer (ReceiverDoneEvent)
	prog  map[string]bool   // receiver IDs seen in ProgressEvents
	final []DoneEvent
	order []string // "r1", "r2", ... as ReceiverDoneEvents came, "end" for DoneEvent
	// progressed is signalled (without blocking) on every ProgressEvent
	// of a receiver with bytes sent.
	progressed chan string
}

func newSenderLog() *senderLog {
	return &senderLog{auth: map[string]string{}, done: map[string]string{}, prog: map[string]bool{},
		progressed: make(chan string, 1)}
}

func (l *senderLog) observe(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch e := e.(type) {
	case AuthenticatedEvent:
		l.auth[e.Receiver] = e.Peer
	case ReceiverDoneEvent:
		l.done[e.Receiver] = e.Peer
		l.order = append(l.order, e.Receiver)
	case ProgressEvent:
		l.prog[e.Receiver] = true
		if e.Bytes > 0 {
			select {
			case l.progressed <- e.Receiver:
			default:
			}
		}
	case DoneEvent:
		l.final = append(l.final, e)
		l.order = append(l.order, "end")
	}
}

func (l *senderLog) snapshot() (auth, done map[string]string, prog map[string]bool, final []DoneEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cp := func(m map[string]string) map[string]string {
		c := map[string]string{}
		for k, v := range m {
			c[k] = v
		}
		return c
	}
	p := map[string]bool{}
	for k, v := range l.prog {
		p[k] = v
	}
	return cp(l.auth), cp(l.done), p, append([]DoneEvent(nil), l.final...)
}

// TestThreeReceiversAtOnce: one Send with Receivers 3 serves three
// receivers started together; each gets the whole tree, each has its own
// receiver ID in every sender event, and Send returns once all three are
// done.
func TestThreeReceiversAtOnce(t *testing.T) {
	dir := t.TempDir()
	src := makeTree(t, dir, 40, 6<<20)
	pass := testPass(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	log := newSenderLog()
	addrs, res := startSender(t, ctx, SendOptions{Paths: []string{src}, Passphrase: pass, Receivers: 3, Events: log.observe})
	const n = 3
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := Receive(ctx, recvOpts(pass, filepath.Join(dir, fmt.Sprintf("out%d", i)), addrs))
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatalf("receiver: %v", err)
		}
	}
	r := waitSend(t, res)
	if r.err != nil {
		t.Fatalf("Send: %v", r.err)
	}
	for i := range n {
		assertSameTree(t, src, filepath.Join(dir, fmt.Sprintf("out%d", i), "tree"))
	}
	auth, done, prog, final := log.snapshot()
	if len(auth) != n || len(done) != n {
		t.Fatalf("authenticated %v, done %v: want %d distinct receivers each", auth, done, n)
	}
	peers := map[string]bool{}
	for _, id := range []string{"r1", "r2", "r3"} {
		if auth[id] == "" || done[id] != auth[id] || !prog[id] {
			t.Fatalf("receiver %s: authenticated as %q, done as %q, progress %v", id, auth[id], done[id], prog[id])
		}
		peers[auth[id]] = true
	}
	if len(peers) != n {
		t.Fatalf("receiver IDs name %d peers, want %d: %v", len(peers), n, auth)
	}
	if len(final) != 1 || final[0].Summary.Receivers != n || r.sum.Receivers != n {
		t.Fatalf("final DoneEvents %+v, summary receivers %d: want one, with %d", final, r.sum.Receivers, n)
	}
}

// TestDefaultSendEndsAfterFirstReceiver: with Receivers 0, Send returns
// once the first receiver completes, and a receiver that comes after that
// finds nobody: the host is gone.
func TestDefaultSendEndsAfterFirstReceiver(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "f")
	writeRandom(t, src, 3<<20)
	pass := testPass(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	log := newSenderLog()
	addrs, res := startSender(t, ctx, SendOptions{Paths: []string{src}, Passphrase: pass, Events: log.observe})
	if _, err := Receive(ctx, recvOpts(pass, filepath.Join(dir, "out1"), addrs)); err != nil {
		t.Fatal(err)
	}
	r := waitSend(t, res)
	if r.err != nil || r.sum.Receivers != 1 {
		t.Fatalf("Send: %v, %+v; want nil with 1 receiver", r.err, r.sum)
	}
	ro := recvOpts(pass, filepath.Join(dir, "out2"), addrs)
	ro.Network.FindTimeout = 2 * time.Second
	if _, err := Receive(ctx, ro); !errors.Is(err, ErrPeerNotFound) {
		t.Fatalf("second receiver: %v, want ErrPeerNotFound", err)
	}
	if _, done, _, _ := log.snapshot(); len(done) != 1 || done["r1"] == "" {
		t.Fatalf("receivers done: %v, want r1 only", done)
	}
}

// TestRunningSessionFinishesAfterCount: Receivers 1, but a second receiver
// is mid-transfer when the first completes: Send takes no new receiver and
// lets the running one finish before it returns.
func TestRunningSessionFinishesAfterCount(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "f")
	writeRandom(t, src, 4<<20)
	pass := testPass(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	log := newSenderLog()
	addrs, res := startSender(t, ctx, SendOptions{Paths: []string{src}, Passphrase: pass, Receivers: 1, Events: log.observe})
	slow := recvOpts(pass, filepath.Join(dir, "slow"), addrs)
	slow.RateLimit = 1 << 20 // about 4 s for the file
	slowErr := make(chan error, 1)
	go func() {
		_, err := Receive(ctx, slow)
		slowErr <- err
	}()
	select { // the slow receiver is moving data
	case <-log.progressed:
	case <-ctx.Done():
		t.Fatal("the slow receiver never started")
	}
	if _, err := Receive(ctx, recvOpts(pass, filepath.Join(dir, "fast"), addrs)); err != nil {
		t.Fatalf("fast receiver: %v", err)
	}
	// The count is reached: a newcomer is not taken (refused before PAKE
	// while the slow one runs, or finds nobody once Send is over).
	late := recvOpts(pass, filepath.Join(dir, "late"), addrs)
	late.Network.FindTimeout = 2 * time.Second
	if _, err := Receive(ctx, late); err == nil {
		t.Fatal("a receiver was taken after the count was reached")
	}
	if err := <-slowErr; err != nil {
		t.Fatalf("slow receiver: %v", err)
	}
	r := waitSend(t, res)
	if r.err != nil || r.sum.Receivers != 2 {
		t.Fatalf("Send: %v, %+v; want nil with 2 receivers", r.err, r.sum)
	}
	// The slow one authenticated first (r1), the fast one completed first:
	// Send ended only after r1.
	log.mu.Lock()
	order := fmt.Sprint(log.order)
	log.mu.Unlock()
	if order != "[r2 r1 end]" {
		t.Fatalf("completions %s, want [r2 r1 end]", order)
	}
	if auth, _, _, _ := log.snapshot(); len(auth) != 2 {
		t.Fatalf("authenticated %v, want r1 and r2 only", auth)
	}
	assertSameTree(t, src, filepath.Join(dir, "slow", "f"))
	assertSameTree(t, src, filepath.Join(dir, "fast", "f"))
}

// TestWrongGuessesFromTwoPeersAddUp: the guard counts wrong guesses per
// offer, not per peer: one from each of two peers exhausts MaxAuthFailures 2.
func TestWrongGuessesFromTwoPeersAddUp(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var ev authEvents
	pass := testPass(t)
	addrs, res := startSender(t, ctx, SendOptions{Paths: []string{oneFile(t)}, Passphrase: pass,
		MaxAuthFailures: 2, Events: ev.observe})
	h1, id := attacker(t, ctx, addrs)
	h2, _ := attacker(t, ctx, addrs)
	if h1.ID() == h2.ID() {
		t.Fatal("the two attackers are one peer")
	}
	if _, err := guess(ctx, h1, id, testPass(t)); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("first peer's guess: %v, want ErrWrongPassphrase", err)
	}
	select {
	case r := <-res:
		t.Fatalf("Send stopped after one wrong guess of two allowed: %v", r.err)
	default:
	}
	if _, err := guess(ctx, h2, id, testPass(t)); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("second peer's guess: %v, want ErrWrongPassphrase", err)
	}
	if r := waitSend(t, res); !errors.Is(r.err, ErrTooManyFailures) {
		t.Fatalf("Send: %v, want ErrTooManyFailures", r.err)
	}
	if wrong, maxFailures, _ := ev.counts(); wrong != 2 || maxFailures != 2 {
		t.Fatalf("sender judged %d wrong guesses, reported up to %d failures; want 2 and 2", wrong, maxFailures)
	}
	// The offer is over: even the right words find no sender.
	ro := recvOpts(pass, t.TempDir(), addrs)
	ro.Network.FindTimeout = 2 * time.Second
	if _, err := Receive(ctx, ro); err == nil {
		t.Fatal("a receiver got the offer after the guard was exhausted")
	}
}

// TestReceiverFailedBeforeDecision: a receiver that passes PAKE and then
// hangs up before its decision ends its own session with a
// ReceiverFailedEvent naming its ID; the offer stands, and the next
// receiver gets the next ID and everything.
func TestReceiverFailedBeforeDecision(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pass := testPass(t)
	src := oneFile(t)
	failed := make(chan ReceiverFailedEvent, 1)
	log := newSenderLog()
	addrs, res := startSender(t, ctx, SendOptions{Paths: []string{src}, Passphrase: pass, Events: func(e Event) {
		log.observe(e)
		if f, ok := e.(ReceiverFailedEvent); ok {
			failed <- f
		}
	}})
	h, id := attacker(t, ctx, addrs)
	s, err := guess(ctx, h, id, pass)
	if err != nil {
		t.Fatalf("right words refused: %v", err)
	}
	_ = s.Reset()
	select {
	case f := <-failed:
		if f.Receiver != "r1" || f.Peer != h.ID().String() || f.Err == nil {
			t.Fatalf("ReceiverFailedEvent %+v, want r1 from %s with an error", f, h.ID())
		}
	case <-time.After(watchdog):
		t.Fatal("no ReceiverFailedEvent")
	}
	dest := t.TempDir()
	if _, err := Receive(ctx, recvOpts(pass, dest, addrs)); err != nil {
		t.Fatalf("the next receiver: %v", err)
	}
	r := waitSend(t, res)
	if r.err != nil || r.sum.Receivers != 1 {
		t.Fatalf("Send: %v, %+v; want nil with 1 receiver", r.err, r.sum)
	}
	if _, done, _, _ := log.snapshot(); done["r2"] == "" || len(done) != 1 {
		t.Fatalf("receivers done %v, want r2 only", done)
	}
}
