package swarm

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestOneSource(t *testing.T) {
	w := newWorld(t, 300, nil, Options{})
	f, p := w.add(t, FullSet(300))
	if err := w.run(t, f); err != nil {
		t.Fatal(err)
	}
	w.c.exactlyOnce(t, w.need)
	if st := p.Stats(); st.Delivered != 300 || st.Err != nil || st.MaxWindow <= 4*chunkLen {
		t.Fatalf("stats %+v: want 300 delivered and a window grown past 4 chunks", st)
	}
}

// Only the chunks still needed are fetched (a resumed transfer).
func TestOnlyNeeded(t *testing.T) {
	need := NewSet(100)
	for i := uint32(0); i < 100; i += 3 {
		need.Add(i)
	}
	w := newWorld(t, 100, need, Options{})
	f, _ := w.add(t, FullSet(100))
	if err := w.run(t, f); err != nil {
		t.Fatal(err)
	}
	w.c.exactlyOnce(t, need)
	for i := range f.asked {
		if !need.Has(i) {
			t.Errorf("asked for chunk %d, which is not needed", i)
		}
	}
}

// Three sources with different have-maps whose union is everything: each
// is asked only for what it holds, and every chunk arrives once.
func TestPartialHaveMaps(t *testing.T) {
	const n = 400
	evens, odds := NewSet(n), NewSet(n)
	for i := uint32(0); i < n; i++ {
		if i%2 == 0 {
			evens.Add(i)
		} else {
			odds.Add(i)
		}
	}
	w := newWorld(t, n, nil, Options{})
	fa, pa := w.add(t, evens)
	fb, pb := w.add(t, odds)
	fc, pc := w.add(t, rangeSet(n, 0, n/2))
	if err := w.run(t, fa, fb, fc); err != nil {
		t.Fatal(err)
	}
	w.c.exactlyOnce(t, w.need)
	for k, p := range []*Peer{pa, pb, pc} {
		if p.Stats().Delivered == 0 {
			t.Errorf("source %d delivered nothing", k)
		}
	}
}

// A have-map update makes chunks eligible: the second half is held by no
// one until source B announces it, during the run.
func TestHaveUpdate(t *testing.T) {
	const n = 100
	w := newWorld(t, n, nil, Options{})
	fa, _ := w.add(t, rangeSet(n, 0, n/2))
	fb, pb := w.add(t, NewSet(n))
	fa.onDeliver = func(k int) {
		if k == 1 { // A still has chunks in flight: the run goes on
			fb.mu.Lock()
			for i := uint32(n / 2); i < n; i++ {
				fb.have.Add(i)
			}
			fb.mu.Unlock()
			var upd []uint32
			for i := uint32(n / 2); i < n; i++ {
				upd = append(upd, i)
			}
			if err := pb.Have(upd...); err != nil {
				t.Error(err)
			}
		}
	}
	if err := w.run(t, fa, fb); err != nil {
		t.Fatal(err)
	}
	w.c.exactlyOnce(t, w.need)
	for i := uint32(n / 2); i < n; i++ {
		if !fb.sent[i] {
			t.Fatalf("chunk %d was not fetched from B, the only holder after the update", i)
		}
	}
	if err := pb.Have(n); err == nil {
		t.Fatal("a have-update past the manifest was accepted")
	}
}

// A source that sends corrupt chunks: each is fetched again from the other
// source, never again from the bad one, and the bad source is dropped
// after MaxBad failures.
func TestCorruptSourceDropped(t *testing.T) {
	const n = 200
	w := newWorld(t, n, nil, Options{MaxBad: 3})
	bad, pbad := w.add(t, FullSet(n))
	bad.corrupt = func(uint32) bool { return true }
	good, pgood := w.add(t, FullSet(n))
	// The good source delivers nothing until the bad one has delivered
	// three chunks, so that it cannot finish them first.
	good.gate = make(chan struct{})
	bad.onDeliver = func(k int) {
		if k == 3 {
			close(good.gate)
		}
	}
	if err := w.run(t, bad, good); err != nil {
		t.Fatal(err)
	}
	w.c.exactlyOnce(t, w.need)
	st := pbad.Stats()
	if !errors.Is(st.Err, ErrTooManyBad) || st.Bad < 3 || st.Delivered != 0 {
		t.Fatalf("bad source: %+v, want dropped with ErrTooManyBad after at least 3 failures", st)
	}
	if w.c.bad != st.Bad {
		t.Fatalf("Verify saw %d bad chunks, the bad source is charged %d", w.c.bad, st.Bad)
	}
	for i, k := range bad.asked {
		if k > 1 {
			t.Errorf("chunk %d asked of the bad source %d times", i, k)
		}
		if bad.sent[i] && !good.sent[i] {
			t.Errorf("corrupt chunk %d was not fetched from the good source", i)
		}
	}
	if pgood.Stats().Delivered != n {
		t.Fatalf("good source delivered %d, want all %d", pgood.Stats().Delivered, n)
	}
}

// A chunk that only one source holds is asked of it again after it failed
// (a copy corrupted on the way); a source that keeps failing it is dropped
// after MaxBad, and the chunk is then missing.
func TestCorruptOnlyHolder(t *testing.T) {
	const n = 50
	w := newWorld(t, n, nil, Options{MaxBad: 3})
	f, p := w.add(t, FullSet(n))
	f.corrupt = func(i uint32) bool { return i == 7 }
	err := w.run(t, f)
	var ns *NoSourceError
	if !errors.As(err, &ns) || !errors.Is(err, ErrNoSource) || ns.Missing < 1 {
		t.Fatalf("err = %v, want ErrNoSource with chunk 7 missing", err)
	}
	if f.asked[7] != 3 || !errors.Is(p.Stats().Err, ErrTooManyBad) {
		t.Fatalf("chunk 7 asked %d times, want 3; source err %v, want ErrTooManyBad", f.asked[7], p.Stats().Err)
	}
}

// A source that leaves mid-way: what it had in flight goes to the other.
func TestLeaverRequeued(t *testing.T) {
	const n = 200
	w := newWorld(t, n, nil, Options{})
	leaver, pl := w.add(t, FullSet(n))
	leaver.leaveAfter = 1
	stayer, ps := w.add(t, FullSet(n))
	if err := w.run(t, leaver, stayer); err != nil {
		t.Fatal(err)
	}
	w.c.exactlyOnce(t, w.need)
	if !errors.Is(pl.Stats().Err, errGone) {
		t.Fatalf("leaver's error %v, want errGone", pl.Stats().Err)
	}
	lost := 0
	for i := range leaver.asked {
		if !leaver.sent[i] {
			lost++
			if !stayer.sent[i] {
				t.Errorf("chunk %d, in flight at the leaver, was not fetched from the stayer", i)
			}
		}
	}
	if lost == 0 {
		t.Fatal("the leaver had nothing in flight when it left: the test proves nothing")
	}
	if got := pl.Stats().Delivered + ps.Stats().Delivered; got != n {
		t.Fatalf("delivered %d in all, want %d", got, n)
	}
}

// A source that says it left is asked for nothing more; with nothing in
// flight, the chunks only it held are missing at once.
func TestLeave(t *testing.T) {
	const n = 100
	w := newWorld(t, n, nil, Options{})
	a, pa := w.add(t, FullSet(n))
	b, pb := w.add(t, rangeSet(n, 0, n/2))
	pa.Leave(errGone)
	pa.Leave(nil) // a second Leave changes nothing
	err := w.run(t, a, b)
	var ns *NoSourceError
	if !errors.As(err, &ns) || ns.Missing != n/2 {
		t.Fatalf("err = %v, want ErrNoSource with %d missing", err, n/2)
	}
	if len(a.asked) != 0 || !errors.Is(pa.Stats().Err, errGone) || pb.Stats().Delivered != n/2 {
		t.Fatalf("the source that left was asked for %d chunks (err %v); the other delivered %d", len(a.asked), pa.Stats().Err, pb.Stats().Delivered)
	}
}

// The only holder of the second half leaves after its first batch: Run
// fails with ErrNoSource naming exactly the chunks no one holds. That batch
// was of the second half: a is asked first for what only it holds.
func TestNoSourceWhenOnlyHolderLeaves(t *testing.T) {
	const n = 400
	w := newWorld(t, n, nil, Options{})
	a, _ := w.add(t, FullSet(n))
	a.leaveAfter = 1
	b, _ := w.add(t, rangeSet(n, 0, n/2))
	err := w.run(t, a, b)
	var ns *NoSourceError
	if !errors.As(err, &ns) || ns.Missing != n-len(w.c.ok) || ns.Missing == 0 || ns.Missing >= n/2 {
		t.Fatalf("err = %v with %d verified, want ErrNoSource with the %d unverified missing", err, len(w.c.ok), n-len(w.c.ok))
	}
	for i := range uint32(n / 2) {
		if w.c.ok[i] == 0 {
			t.Fatalf("chunk %d, held by b, was not verified", i)
		}
	}
}

// A source that holds everything is asked first for the chunks no other
// source holds: a sender beside a re-seeder of the first half is asked for
// the second half, and for the first only one chunk at a time as an
// endgame copy, never in a batch. a is dispatched first (the first
// dispatch starts with the second source added) and its window holds half
// the chunks: lowest first, it would take the first half.
func TestHolderOfAllIsAskedForTheRest(t *testing.T) {
	const n = 256
	w := newWorld(t, n, nil, Options{Window: 4 * n * chunkLen, SourceWindow: n / 2 * chunkLen, MaxBatch: n})
	b, _ := w.add(t, rangeSet(n, 0, n/2))
	a, _ := w.add(t, FullSet(n))
	if err := w.run(t, a, b); err != nil {
		t.Fatal(err)
	}
	for _, c := range a.batches {
		if len(c) > 1 && slices.ContainsFunc(c, func(i uint32) bool { return i < n/2 }) {
			t.Fatalf("the full source was asked for chunks the other holds in a batch of %d: %v", len(c), c)
		}
	}
	if len(w.c.ok) != n {
		t.Fatalf("%d verified, want %d", len(w.c.ok), n)
	}
}

// A slow source (gated: one chunk per 8 of the fast one's) gets less work
// and a smaller window than the fast one, and its stalled chunks are
// finished by the fast one (the endgame) instead of holding Run.
func TestFastSourceGetsMore(t *testing.T) {
	const n = 400
	w := newWorld(t, n, nil, Options{})
	fast, pf := w.add(t, FullSet(n))
	slow, ps := w.add(t, FullSet(n))
	slow.gate = make(chan struct{}, n)
	fast.onDeliver = func(k int) {
		if k%8 == 0 {
			slow.gate <- struct{}{}
		}
	}
	if err := w.run(t, fast, slow); err != nil {
		t.Fatal(err)
	}
	w.c.exactlyOnce(t, w.need)
	sf, ss := pf.Stats(), ps.Stats()
	if ss.Delivered*8 > fast.delivered || sf.Delivered <= ss.Delivered {
		t.Fatalf("fast delivered %d (sent %d), slow %d", sf.Delivered, fast.delivered, ss.Delivered)
	}
	if sf.MaxWindow <= ss.MaxWindow {
		t.Fatalf("fast window peaked at %d, slow at %d", sf.MaxWindow, ss.MaxWindow)
	}
	if sf.Delivered+ss.Delivered != n {
		t.Fatalf("delivered %d in all, want %d", sf.Delivered+ss.Delivered, n)
	}
}

// Five sources whose windows add up to more than the global window: the
// bytes in flight reach the global window and never pass it.
func TestGlobalWindow(t *testing.T) {
	const n = 300
	win := int64(6 * chunkLen)
	w := newWorld(t, n, nil, Options{Window: win, SourceWindow: 4 * chunkLen})
	var fakes []*fake
	for k := 0; k < 5; k++ {
		f, _ := w.add(t, FullSet(n))
		fakes = append(fakes, f)
	}
	if err := w.run(t, fakes...); err != nil { // checks tr.max and MaxInFlight <= window
		t.Fatal(err)
	}
	w.c.exactlyOnce(t, w.need)
	if st := w.s.Stats(); st.MaxInFlight != win || st.Window != win {
		t.Fatalf("stats %+v: want the window %d reached", st, win)
	}
}

func TestOtherRoot(t *testing.T) {
	w := newWorld(t, 10, nil, Options{})
	other := testRoot
	other[0]++
	if _, err := w.s.Add(other, FullSet(10), newFake(10, FullSet(10), w.tr)); !errors.Is(err, ErrOtherRoot) {
		t.Fatalf("err = %v, want ErrOtherRoot", err)
	}
	if _, err := w.s.Add(testRoot, FullSet(11), newFake(10, FullSet(10), w.tr)); err == nil {
		t.Fatal("a have-map of another length was accepted")
	}
	// With no source at all, Run fails at once.
	var ns *NoSourceError
	if err := w.run(t); !errors.As(err, &ns) || ns.Missing != 10 {
		t.Fatalf("err = %v, want ErrNoSource with 10 missing", err)
	}
}

// Verify's error ends Run with it.
func TestVerifyError(t *testing.T) {
	const n = 50
	boom := errors.New("disk full")
	w := newWorld(t, n, nil, Options{})
	w.s.verify = func(i uint32, data []byte) (bool, error) {
		if i == 20 {
			return false, boom
		}
		return w.c.verify(i, data)
	}
	f, _ := w.add(t, FullSet(n))
	if err := w.run(t, f); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want %v", err, boom)
	}
}

// Cancelling ctx ends Run, and the blocked Fetch calls with it.
func TestCancel(t *testing.T) {
	const n = 50
	w := newWorld(t, n, nil, Options{})
	f, _ := w.add(t, FullSet(n))
	f.gate = make(chan struct{}) // never opens
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var once sync.Once
	f.onFetch = func() { once.Do(cancel) } // cancel once chunks were asked for
	if err := w.runCtx(t, ctx, f); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if len(w.c.ok) != 0 {
		t.Fatalf("%d chunks verified through a closed gate", len(w.c.ok))
	}
}

// Random swarms (seeded): random have-maps, windows, corrupt chunks and
// sources that leave. Whatever happens, every chunk verified was verified
// once, no source was asked for what it lacks, the window held, and Run
// either completed or named exactly the chunks it lacks.
func TestRandomSwarms(t *testing.T) {
	for seed := int64(1); seed <= 40; seed++ {
		rng := rand.New(rand.NewPCG(uint64(seed), 0))
		n := uint32(1 + rng.IntN(600))
		opts := Options{Window: int64(2+rng.IntN(40)) * chunkLen, MaxBatch: 1 + rng.IntN(64), MaxBad: 1 + rng.IntN(4)}
		w := newWorld(t, n, nil, opts)
		var fakes []*fake
		for k := 0; k < 1+rng.IntN(6); k++ {
			have := NewSet(n)
			p := rng.Float64()
			if k == 0 && rng.IntN(3) > 0 {
				p = 1 // usually, the original sender
			}
			for i := uint32(0); i < n; i++ {
				if rng.Float64() < p {
					have.Add(i)
				}
			}
			f, _ := w.add(t, have)
			if rng.IntN(4) == 0 {
				bad := uint64(rng.IntN(8))
				f.corrupt = func(i uint32) bool { return (uint64(i)*2654435761+bad)%8 == 0 }
			}
			if rng.IntN(4) == 0 {
				f.leaveAfter = 1 + rng.IntN(int(n))
			}
			fakes = append(fakes, f)
		}
		err := w.run(t, fakes...)
		t.Logf("seed %d: %d chunks, %d sources: %v", seed, n, len(fakes), err)
		verified := NewSet(n)
		for i := range w.c.ok {
			verified.Add(i)
		}
		w.c.exactlyOnce(t, verified)
		var ns *NoSourceError
		switch {
		case err == nil:
			if verified.Count() != int(n) {
				t.Fatalf("seed %d: Run succeeded with %d of %d chunks", seed, verified.Count(), n)
			}
		case errors.As(err, &ns):
			if ns.Missing != int(n)-verified.Count() || ns.Missing == 0 {
				t.Fatalf("seed %d: %v, but %d of %d chunks verified", seed, err, verified.Count(), n)
			}
		default:
			t.Fatalf("seed %d: %v", seed, err)
		}
		if t.Failed() {
			t.Fatalf("seed %d failed", seed)
		}
	}
}

// TestHoldWaitsForALateSource: with a Hold outstanding, a scheduler whose
// only source left does not give up; a source added later finishes the
// work, and without the Hold the same start ends in ErrNoSource.
func TestHoldWaitsForALateSource(t *testing.T) {
	for _, hold := range []bool{true, false} {
		s := New(Want{Total: 4, ChunkSize: 1 << 16}, func(uint32, []byte) (bool, error) { return true, nil }, Options{})
		if _, err := s.Add([32]byte{}, NewSet(4), failingSource{}); err != nil {
			t.Fatal(err)
		}
		release := func() {}
		if hold {
			release = s.Hold()
		}
		done := make(chan error, 1)
		go func() { done <- s.Run(t.Context()) }()
		if hold {
			if _, err := s.Add([32]byte{}, FullSet(4), servingSource{}); err != nil {
				t.Fatal(err)
			}
			release()
		}
		err := <-done
		if hold && err != nil {
			t.Errorf("with a hold: %v, want the late source to finish", err)
		}
		if !hold && !errors.Is(err, ErrNoSource) {
			t.Errorf("without a hold: %v, want ErrNoSource", err)
		}
	}
}

type failingSource struct{}

func (failingSource) Fetch(context.Context, []uint32, func(uint32, []byte)) error {
	return errors.New("never")
}

type servingSource struct{}

func (servingSource) Fetch(_ context.Context, chunks []uint32, got func(uint32, []byte)) error {
	for _, c := range chunks {
		got(c, nil)
	}
	return nil
}

// A copy corrupted once on the way, from the only source: asked again, and
// the transfer completes.
func TestCorruptOnceOnlySource(t *testing.T) {
	const n = 20
	w := newWorld(t, n, nil, Options{MaxBad: 3})
	f, p := w.add(t, FullSet(n))
	var mu sync.Mutex
	failed := false
	f.corrupt = func(i uint32) bool {
		mu.Lock()
		defer mu.Unlock()
		if i == 5 && !failed {
			failed = true
			return true
		}
		return false
	}
	if err := w.run(t, f); err != nil {
		t.Fatalf("err = %v, want the chunk fetched again", err)
	}
	if f.asked[5] != 2 || p.Stats().Bad != 1 || p.Stats().Err != nil {
		t.Fatalf("chunk 5 asked %d times (want 2), bad %d, err %v", f.asked[5], p.Stats().Bad, p.Stats().Err)
	}
}

// A call whose chunks all came from a faster source is cut: its source is
// not made to send copies nobody wants, and is not dropped for it. A and D
// are slow (gated); A alone holds 0 and 1 and is asked for them (one call
// each: a call is half a window), D for 2 and 3. B joins holding 1 and,
// idle, is asked for it (the endgame). Once B delivered it, A's call for
// chunk 1 is cancelled before A sends a byte of it, and A stays a source.
func TestCallCutWhenItsChunksCameElsewhere(t *testing.T) {
	const n = 4
	w := newWorld(t, n, nil, Options{SourceWindow: 2 * chunkLen})
	a, pa := w.add(t, FullSet(n))
	d, pd := w.add(t, rangeSet(n, 2, 4))
	a.gate, d.gate = make(chan struct{}, n), make(chan struct{}, n)
	started := func() (func(), chan struct{}) { // closes its channel at the first call
		ch := make(chan struct{})
		var once sync.Once
		return func() { once.Do(func() { close(ch) }) }, ch
	}
	var aStarted, dStarted chan struct{}
	a.onFetch, aStarted = started()
	d.onFetch, dStarted = started()
	aReturned := make(chan error, 4)
	a.onReturn = func(err error) { aReturned <- err }
	b := newFake(n, rangeSet(n, 1, 2), w.tr)
	bDelivered := make(chan struct{}, 1)
	b.onDeliver = func(int) { bDelivered <- struct{}{} }

	done := make(chan error, 1)
	go func() { done <- w.run(t, a, b, d) }()
	<-aStarted
	<-dStarted
	pb, err := w.s.Add(testRoot, b.have, b)
	if err != nil {
		t.Fatal(err)
	}
	<-bDelivered // chunk 1 came from B (and was verified) while A holds it in flight
	// The cut happened before B's delivery returned; A's call ends at once.
	// The timer only keeps a broken scheduler from hanging the suite.
	select {
	case err := <-aReturned:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("A's call returned %v, want it cut (context.Canceled); A asked %v, B %v", err, a.batches, b.batches)
		}
	case <-time.After(time.Minute):
		t.Errorf("A's call for chunk 1 still runs after B delivered it; A asked %v", a.batches)
		a.gate <- struct{}{}
	}
	a.gate <- struct{}{}
	d.gate <- struct{}{}
	d.gate <- struct{}{}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	w.c.exactlyOnce(t, w.need)
	if a.sent[1] {
		t.Error("A sent chunk 1 after B had delivered it")
	}
	if st := pa.Stats(); st.Err != nil || st.Delivered != 1 {
		t.Errorf("A: %+v, want 1 chunk delivered and not dropped", st)
	}
	if st := pb.Stats(); st.Delivered != 1 || b.asked[1] != 1 {
		t.Errorf("B: %+v, asked %v; want chunk 1 from it", st, b.asked)
	}
	if st := pd.Stats(); st.Delivered != 2 {
		t.Errorf("D delivered %d, want 2", st.Delivered)
	}
}
