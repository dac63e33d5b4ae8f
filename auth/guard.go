package auth

import (
	"fmt"
	"sync"
)

// DefaultMaxFailures is the Guard limit when Guard.Max is 0.
const DefaultMaxFailures = 3

// Guard counts a sender's failed handshakes. The sender keeps serving
// rightful receivers after a failure, but once Max failures were seen Fail
// returns ErrTooManyFailures and the sender must stop offering the
// transfer. Each failure is one online guess at the passphrase, so Max
// bounds an attacker's success probability at Max / 2^EntropyBits.
//
// The zero Guard is ready to use (Max 0 means DefaultMaxFailures). Set Max
// before first use. A Guard is safe for concurrent use.
type Guard struct {
	Max int // failures allowed before the sender stops; 0 = DefaultMaxFailures

	mu sync.Mutex
	n  int
}

// Limit returns the effective maximum number of failures.
func (g *Guard) Limit() int {
	if g.Max <= 0 {
		return DefaultMaxFailures
	}
	return g.Max
}

// Fail records one failed handshake and returns the number recorded so far.
// err wraps ErrTooManyFailures once the count has reached Limit; it stays
// so for every later call.
func (g *Guard) Fail() (count int, err error) {
	g.mu.Lock()
	g.n++
	count = g.n
	g.mu.Unlock()
	if limit := g.Limit(); count >= limit {
		return count, fmt.Errorf("auth: %w (%d of %d allowed)", ErrTooManyFailures, count, limit)
	}
	return count, nil
}

// Failures returns the number of failures recorded.
func (g *Guard) Failures() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n
}

// Exhausted reports whether the limit has been reached.
func (g *Guard) Exhausted() bool { return g.Failures() >= g.Limit() }
