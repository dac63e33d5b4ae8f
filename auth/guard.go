package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// DefaultMaxFailures is the Guard limit when Guard.Max is 0.
const DefaultMaxFailures = 3

var (
	// ErrGuardBusy: every handshake slot the Guard can still grant is held
	// by a handshake in flight. No guess was tested; the peer may try again.
	ErrGuardBusy = errors.New("auth: all handshake slots are in use")
	// ErrGuardClosed: the offer has ended; no handshake starts any more.
	ErrGuardClosed = errors.New("auth: the offer has ended")
)

// Guard bounds the wrong guesses a sender judges for one offer. A sender
// judges a guess when it verifies a receiver's key confirmation (M2): the
// guess is then either right (a session) or wrong (ErrWrongPassphrase).
//
// A handshake must hold a slot from Reserve before it reads its first
// message, and resolve it exactly once: Ticket.Fail for a wrong guess,
// Ticket.Release for anything else (success, or a peer that vanished, timed
// out or spoke garbage, which tested no passphrase). Failures plus slots
// held never exceed Limit, so however many handshakes run at once, at most
// Limit wrong guesses are ever judged. Once Limit failures are recorded the
// Guard is exhausted: Reserve refuses with ErrTooManyFailures, and the
// sender must stop offering the transfer. Each wrong guess is one online
// guess at the passphrase, so Limit bounds an attacker's success
// probability at Limit / 2^EntropyBits.
//
// The zero Guard is ready to use (Max 0 means DefaultMaxFailures). Set Max
// before first use. A Guard is safe for concurrent use.
type Guard struct {
	Max int // failures allowed before the sender stops; 0 = DefaultMaxFailures

	mu       sync.Mutex
	failures int
	inFlight int
	closed   bool
	changed  chan struct{} // closed (and replaced) when a slot frees or Reserve's answer changes
}

// Ticket is one reserved handshake slot. Resolve it exactly once, with Fail
// or Release; later calls do nothing.
type Ticket struct {
	g        *Guard
	resolved bool // guarded by g.mu
}

// Limit returns the effective maximum number of failures.
func (g *Guard) Limit() int {
	if g.Max <= 0 {
		return DefaultMaxFailures
	}
	return g.Max
}

// TryReserve takes a slot for one handshake without waiting. It fails with
// ErrTooManyFailures once the Guard is exhausted, ErrGuardClosed after
// Close, and ErrGuardBusy while the handshakes in flight hold every slot
// that is left.
func (g *Guard) TryReserve() (*Ticket, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	t, _, err := g.reserveLocked()
	return t, err
}

// Reserve takes a slot for one handshake, waiting while the handshakes in
// flight hold every slot that is left. It returns at once with
// ErrTooManyFailures once the Guard is exhausted and ErrGuardClosed after
// Close; if ctx ends first, the error wraps ErrGuardBusy and ctx's error.
func (g *Guard) Reserve(ctx context.Context) (*Ticket, error) {
	for {
		g.mu.Lock()
		t, wait, err := g.reserveLocked()
		g.mu.Unlock()
		if !errors.Is(err, ErrGuardBusy) {
			return t, err
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %w", ErrGuardBusy, ctx.Err())
		}
	}
}

// reserveLocked decides one Reserve; when busy it also returns the channel
// that is closed on the next change.
func (g *Guard) reserveLocked() (*Ticket, <-chan struct{}, error) {
	limit := g.Limit()
	switch {
	case g.failures >= limit:
		return nil, nil, g.tooMany()
	case g.closed:
		return nil, nil, ErrGuardClosed
	case g.failures+g.inFlight >= limit:
		if g.changed == nil {
			g.changed = make(chan struct{})
		}
		return nil, g.changed, ErrGuardBusy
	}
	g.inFlight++
	return &Ticket{g: g}, nil, nil
}

func (g *Guard) tooMany() error {
	return fmt.Errorf("auth: %w (%d of %d allowed)", ErrTooManyFailures, g.failures, g.Limit())
}

// wakeLocked tells waiting Reserve calls to look again.
func (g *Guard) wakeLocked() {
	if g.changed != nil {
		close(g.changed)
		g.changed = nil
	}
}

// Fail records the ticket's handshake as one wrong guess and returns the
// number of failures so far. err wraps ErrTooManyFailures when this failure
// exhausted the Guard; exactly one Fail of a Guard reports it.
func (t *Ticket) Fail() (count int, err error) {
	g := t.g
	g.mu.Lock()
	defer g.mu.Unlock()
	if t.resolved {
		return g.failures, nil
	}
	t.resolved = true
	g.inFlight--
	g.failures++
	g.wakeLocked()
	if g.failures >= g.Limit() {
		return g.failures, g.tooMany()
	}
	return g.failures, nil
}

// Release frees the ticket's slot without counting a guess.
func (t *Ticket) Release() {
	g := t.g
	g.mu.Lock()
	defer g.mu.Unlock()
	if t.resolved {
		return
	}
	t.resolved = true
	g.inFlight--
	g.wakeLocked()
}

// Fail records one wrong guess judged without a prior reservation, for a
// caller that judges one handshake at a time: it is TryReserve and
// Ticket.Fail in one step. Once no slot is left it records nothing and
// returns TryReserve's error.
func (g *Guard) Fail() (count int, err error) {
	t, err := g.TryReserve()
	if err != nil {
		return g.Failures(), err
	}
	return t.Fail()
}

// Close ends the offer: every later Reserve fails with ErrGuardClosed (or
// ErrTooManyFailures if exhausted), and waiting ones return. Tickets
// already granted may still be resolved.
func (g *Guard) Close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	g.wakeLocked()
}

// Failures returns the number of failures recorded.
func (g *Guard) Failures() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.failures
}

// InFlight returns the number of slots held by unresolved tickets.
func (g *Guard) InFlight() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.inFlight
}

// Exhausted reports whether the limit has been reached.
func (g *Guard) Exhausted() bool { return g.Failures() >= g.Limit() }
