package swarm

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pcp-p2p/pcp/manifest"
)

// The test manifest: total chunks of chunkLen bytes, the last one shorter.
const chunkLen = 1024

var testRoot = manifest.Hash{1, 2, 3}

const lastLen = 100

// content is chunk i's true bytes.
func content(total, i uint32) []byte {
	n := chunkLen
	if i == total-1 {
		n = lastLen
	}
	b := make([]byte, n)
	for j := range b {
		b[j] = byte(uint32(j)*7 + i*13 + 1)
	}
	return b
}

func costOf(total uint32) func(uint32) int64 {
	return func(i uint32) int64 { return int64(len(content(total, i))) }
}

// checker is the Verify hook: it compares with content and counts.
type checker struct {
	total uint32
	mu    sync.Mutex
	ok    map[uint32]int
	bad   int
	busy  map[uint32]bool // a Verify of the chunk is running
	twice int             // Verify ran twice at once for one chunk
}

func newChecker(total uint32) *checker {
	return &checker{total: total, ok: make(map[uint32]int), busy: make(map[uint32]bool)}
}

func (c *checker) verify(i uint32, data []byte) (bool, error) {
	c.mu.Lock()
	if c.busy[i] {
		c.twice++
	}
	c.busy[i] = true
	c.mu.Unlock()
	good := bytes.Equal(data, content(c.total, i))
	c.mu.Lock()
	defer c.mu.Unlock()
	c.busy[i] = false
	if !good {
		c.bad++
		return false, nil
	}
	c.ok[i]++
	return true, nil
}

// exactlyOnce fails t unless every chunk in need was verified exactly once
// and no other chunk was.
func (c *checker) exactlyOnce(t testing.TB, need *Set) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.twice > 0 {
		t.Errorf("Verify ran concurrently for one chunk %d times", c.twice)
	}
	for i := uint32(0); i < c.total; i++ {
		want := 0
		if need.Has(i) {
			want = 1
		}
		if c.ok[i] != want {
			t.Errorf("chunk %d verified %d times, want %d", i, c.ok[i], want)
		}
	}
}

// tracker measures the bytes requested of all fake sources and not yet
// delivered, as the sources see them.
type tracker struct {
	mu       sync.Mutex
	cur, max int64
	calls    atomic.Int64 // Fetch calls running
}

func (tr *tracker) add(n int64) {
	tr.mu.Lock()
	tr.cur += n
	tr.max = max(tr.max, tr.cur)
	tr.mu.Unlock()
}

var errGone = errors.New("source gone")

// fake is an in-memory source with controllable behaviour.
type fake struct {
	total uint32
	have  *Set
	tr    *tracker
	// gate, when set, is waited on before each chunk (a slow source).
	gate chan struct{}
	// corrupt, when set, says which chunks are sent damaged.
	corrupt func(i uint32) bool
	// leaveAfter > 0: after that many deliveries every Fetch fails.
	leaveAfter int
	// onDeliver runs after each delivery, with the fake's delivery count.
	onDeliver func(n int)
	// onFetch runs at the start of each Fetch call.
	onFetch func()
	// onReturn runs when a Fetch call returns, with what it returns.
	onReturn func(error)

	mu        sync.Mutex
	asked     map[uint32]int
	batches   [][]uint32 // every Fetch call's chunks, as asked
	sent      map[uint32]bool
	delivered int
	notHeld   []uint32 // asked for chunks the have-map lacks
}

func newFake(total uint32, have *Set, tr *tracker) *fake {
	return &fake{total: total, have: have.Clone(), tr: tr, asked: make(map[uint32]int), sent: make(map[uint32]bool)}
}

func (f *fake) Fetch(ctx context.Context, chunks []uint32, got func(uint32, []byte)) (err error) {
	if f.onReturn != nil {
		defer func() { f.onReturn(err) }()
	}
	f.tr.calls.Add(1)
	defer f.tr.calls.Add(-1)
	if f.onFetch != nil {
		f.onFetch()
	}
	var bytes int64
	f.mu.Lock()
	f.batches = append(f.batches, slices.Clone(chunks))
	for _, i := range chunks {
		f.asked[i]++
		if !f.have.Has(i) {
			f.notHeld = append(f.notHeld, i)
		}
		bytes += int64(len(content(f.total, i)))
	}
	f.mu.Unlock()
	f.tr.add(bytes)
	defer func() { f.tr.add(-bytes) }() // what was not delivered
	for _, i := range chunks {
		if f.gate != nil {
			select {
			case <-f.gate:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		f.mu.Lock()
		if f.leaveAfter > 0 && f.delivered >= f.leaveAfter {
			f.mu.Unlock()
			return errGone
		}
		f.mu.Unlock()
		d := content(f.total, i)
		if f.corrupt != nil && f.corrupt(i) {
			d[0] ^= 0xff
		}
		n := int64(len(d))
		f.tr.add(-n)
		bytes -= n
		got(i, d)
		f.mu.Lock()
		f.delivered++
		f.sent[i] = true
		k := f.delivered
		f.mu.Unlock()
		if f.onDeliver != nil {
			f.onDeliver(k)
		}
	}
	return nil
}

// world is one scheduler over a test manifest of total chunks.
type world struct {
	total uint32
	tr    *tracker
	c     *checker
	s     *Scheduler
	need  *Set
}

func newWorld(t testing.TB, total uint32, need *Set, opts Options) *world {
	t.Helper()
	if need == nil {
		need = FullSet(total)
	}
	w := &world{total: total, tr: &tracker{}, c: newChecker(total), need: need}
	w.s = New(Want{Root: testRoot, Total: total, ChunkSize: chunkLen, Need: need, Cost: costOf(total)}, w.c.verify, opts)
	return w
}

// add adds a fake source holding have.
func (w *world) add(t testing.TB, have *Set) (*fake, *Peer) {
	t.Helper()
	f := newFake(w.total, have, w.tr)
	p, err := w.s.Add(testRoot, have, f)
	if err != nil {
		t.Fatal(err)
	}
	return f, p
}

func (w *world) run(t testing.TB, fakes ...*fake) error {
	t.Helper()
	return w.runCtx(t, t.Context(), fakes...)
}

// runCtx runs the scheduler and checks what holds whatever the outcome: no
// Fetch call outlives Run, no source was asked for a chunk it lacks, and
// the bytes in flight stayed within the window.
func (w *world) runCtx(t testing.TB, ctx context.Context, fakes ...*fake) error {
	t.Helper()
	err := w.s.Run(ctx)
	if n := w.tr.calls.Load(); n != 0 {
		t.Errorf("%d Fetch calls still running after Run returned", n)
	}
	for k, f := range fakes {
		if len(f.notHeld) > 0 {
			t.Errorf("source %d asked for chunks it does not hold: %v", k, f.notHeld)
		}
	}
	st := w.s.Stats()
	if w.tr.max > st.Window || st.MaxInFlight > st.Window {
		t.Errorf("in flight: sources saw %d, scheduler %d bytes; window %d", w.tr.max, st.MaxInFlight, st.Window)
	}
	return err
}

// rangeSet is the set of [lo, hi) over total chunks.
func rangeSet(total, lo, hi uint32) *Set {
	s := NewSet(total)
	for i := lo; i < hi; i++ {
		s.Add(i)
	}
	return s
}
