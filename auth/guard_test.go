package auth

import (
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
			if n != i {
				t.Fatalf("Max %d: Fail #%d returned count %d", c.max, i, n)
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

func TestGuardConcurrent(t *testing.T) {
	g := &Guard{Max: 50}
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := make(map[int]bool)
	tooMany := 0
	for range 100 {
		wg.Go(func() {
			n, err := g.Fail()
			mu.Lock()
			defer mu.Unlock()
			seen[n] = true
			if err != nil {
				tooMany++
			}
		})
	}
	wg.Wait()
	// Every count from 1 to 100 handed out once; counts 50..100 are over the limit.
	if g.Failures() != 100 || len(seen) != 100 || tooMany != 51 {
		t.Fatalf("failures %d, distinct counts %d, over limit %d", g.Failures(), len(seen), tooMany)
	}
}
