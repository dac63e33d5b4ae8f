package auth

import (
	"context"
	"errors"
	"sync"
	"testing"
)

func TestGuard(t *testing.T) {
	for _, c := range []struct{ max, limit int }{{0, 3}, {-1, 3}, {1, 1}, {5, 5}} {
		g := &Guard{Max: c.max}
		if g.Limit() != c.limit {
			t.Fatalf("Max %d: Limit %d, want %d", c.max, g.Limit(), c.limit)
		}
		for i := 1; i <= c.limit+1; i++ {
			n, err := g.Fail()
			// Past the limit nothing more is counted.
			if want := min(i, c.limit); n != want {
				t.Fatalf("Max %d: Fail #%d returned count %d, want %d", c.max, i, n, want)
			}
			if (i >= c.limit) != errors.Is(err, ErrTooManyFailures) {
				t.Fatalf("Max %d: Fail #%d returned %v", c.max, i, err)
			}
			if g.Exhausted() != (i >= c.limit) {
				t.Fatalf("Max %d: Exhausted after %d = %v", c.max, i, g.Exhausted())
			}
		}
	}
}

// TestGuardInFlightCounts: a handshake in flight holds a slot, so with Max
// 3 and three handshakes running a fourth cannot start, whatever their
// outcome will be.
func TestGuardInFlightCounts(t *testing.T) {
	g := &Guard{Max: 3}
	var held []*Ticket
	for range 3 {
		tk, err := g.TryReserve()
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, tk)
	}
	if _, err := g.TryReserve(); !errors.Is(err, ErrGuardBusy) {
		t.Fatalf("fourth reservation: %v, want ErrGuardBusy", err)
	}
	held[0].Release() // success or no guess: the slot comes back
	tk, err := g.TryReserve()
	if err != nil {
		t.Fatalf("after a release: %v", err)
	}
	held[0] = tk
	for i, tk := range held {
		n, err := tk.Fail()
		if n != i+1 || (i == 2) != errors.Is(err, ErrTooManyFailures) {
			t.Fatalf("Fail #%d = %d, %v", i+1, n, err)
		}
		// A second resolution is ignored.
		tk.Release()
		if n2, err := tk.Fail(); n2 != i+1 || err != nil {
			t.Fatalf("repeated Fail counted: %d, %v", n2, err)
		}
	}
	if _, err := g.TryReserve(); !errors.Is(err, ErrTooManyFailures) {
		t.Fatalf("after exhaustion: %v, want ErrTooManyFailures", err)
	}
	if g.Failures() != 3 || g.InFlight() != 0 {
		t.Fatalf("failures %d, in flight %d", g.Failures(), g.InFlight())
	}
}

// TestGuardConcurrent: many handshakes reserve at once and all guess wrong;
// exactly Max are judged, one Fail reports exhaustion, and every waiter is
// refused with ErrTooManyFailures.
func TestGuardConcurrent(t *testing.T) {
	g := &Guard{Max: 5}
	var wg sync.WaitGroup
	var mu sync.Mutex
	judged, exhausted, refused := 0, 0, 0
	for range 100 {
		wg.Go(func() {
			tk, err := g.Reserve(context.Background())
			if err != nil {
				if !errors.Is(err, ErrTooManyFailures) {
					t.Errorf("Reserve: %v", err)
				}
				mu.Lock()
				refused++
				mu.Unlock()
				return
			}
			_, err = tk.Fail()
			mu.Lock()
			defer mu.Unlock()
			judged++
			if err != nil {
				exhausted++
			}
		})
	}
	wg.Wait()
	if judged != 5 || exhausted != 1 || refused != 95 || g.Failures() != 5 || g.InFlight() != 0 {
		t.Fatalf("judged %d, exhausted %d, refused %d, failures %d, in flight %d",
			judged, exhausted, refused, g.Failures(), g.InFlight())
	}
}

// TestGuardReserveWaits: a waiting Reserve gets the slot a release frees,
// returns ErrGuardBusy when its ctx ends, and ErrGuardClosed on Close.
func TestGuardReserveWaits(t *testing.T) {
	g := &Guard{Max: 1}
	held, err := g.TryReserve()
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		tk, err := g.Reserve(context.Background())
		if err == nil {
			tk.Release()
		}
		got <- err
	}()
	held.Release()
	if err := <-got; err != nil {
		t.Fatalf("waiting Reserve after a release: %v", err)
	}

	held, _ = g.TryReserve()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _, err := g.Reserve(ctx); got <- err }()
	cancel()
	if err := <-got; !errors.Is(err, ErrGuardBusy) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Reserve with a cancelled ctx: %v", err)
	}

	go func() { _, err := g.Reserve(context.Background()); got <- err }()
	g.Close()
	if err := <-got; !errors.Is(err, ErrGuardClosed) {
		t.Fatalf("Reserve across Close: %v, want ErrGuardClosed", err)
	}
	held.Release()
	if _, err := g.TryReserve(); !errors.Is(err, ErrGuardClosed) {
		t.Fatalf("TryReserve after Close: %v", err)
	}
}
