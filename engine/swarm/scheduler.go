package swarm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"

	"github.com/pcp-p2p/pcp/manifest"
)

// Source is one authenticated peer that offers the manifest.
type Source interface {
	// Fetch asks the source for chunks (global indexes, in increasing
	// order) and calls got once for each chunk it receives, in any order,
	// before Fetch returns; data is only valid during the call. Fetch
	// returns nil once every chunk was passed to got, or an error when the
	// source failed: then the chunks not passed to got go to other sources
	// and the source is dropped. Fetch may be called again before an
	// earlier call returned (the scheduler pipelines), and must return soon
	// after ctx is done. A source that stalls must fail on its own (a read
	// deadline): the scheduler keeps no clock.
	Fetch(ctx context.Context, chunks []uint32, got func(chunk uint32, data []byte)) error
}

// Verify checks one chunk, and writes it if it is good. ok is false when
// the chunk fails verification: the scheduler fetches it from another
// source. An error ends Run with that error (a write failed). It is called
// from Fetch's goroutines, concurrently for different chunks, never twice
// at once for the same chunk, and returns true at most once per chunk.
type Verify func(chunk uint32, data []byte) (ok bool, err error)

// Want is what the receiver fetches.
type Want struct {
	// Root names the offer: a source offering another root is refused.
	Root manifest.Hash
	// Total is the manifest's chunk count: global indexes are [0, Total).
	Total uint32
	// ChunkSize is the manifest's chunk size.
	ChunkSize uint32
	// Need is the chunks to fetch; nil means all Total. Run does not
	// change it.
	Need *Set
	// Cost is what chunk i weighs in the in-flight windows: its length,
	// or more (the receiver charges small chunks their buffer). nil means
	// every chunk costs ChunkSize.
	Cost func(i uint32) int64
	// MaxCost is the most Cost returns; 0 means ChunkSize. Windows are
	// never less than two of it.
	MaxCost int64
}

// Options tunes a Scheduler. The zero value works.
type Options struct {
	// Window bounds the bytes requested and not yet verified, over all
	// sources together. 0 means DefaultWindow; it is never less than two
	// chunks (two of Want.MaxCost).
	Window int64
	// SourceWindow is a new source's window; at least (and by default) two
	// chunks, at most Window. In a lab of five receivers behind one 20 Mbit
	// sender, four chunks each at the start were most of what its uplink
	// sent twice.
	SourceWindow int64
	// MaxBatch is the most chunks in one Fetch call. 0 means 256; at most
	// wire.MaxRefs.
	MaxBatch int
	// MaxBad is how many chunks from one source may fail verification
	// before it is dropped. 0 means 3.
	MaxBad int
	// Log receives debug messages; nil means none.
	Log *slog.Logger
}

// DefaultWindow is the global in-flight window when Options.Window is 0.
const DefaultWindow = 32 << 20

// Errors.
var (
	// ErrOtherRoot: the source offers another manifest under the same
	// words. It is a different offer and is never mixed with this one.
	ErrOtherRoot = errors.New("the source offers a different transfer (another manifest root)")
	// ErrNoSource: chunks are missing and no source left holds them. Run
	// returns it as a *NoSourceError.
	ErrNoSource = errors.New("no source holds the missing chunks")
	// ErrTooManyBad is why a source whose chunks kept failing verification
	// was dropped.
	ErrTooManyBad = errors.New("too many chunks from the source failed verification")
)

// NoSourceError is Run's error when no source left holds a missing chunk.
type NoSourceError struct{ Missing int }

func (e *NoSourceError) Error() string {
	return fmt.Sprintf("%v: %d chunks missing", ErrNoSource, e.Missing)
}

func (e *NoSourceError) Is(target error) bool { return target == ErrNoSource }

// Scheduler hands out a manifest's chunks to the sources that hold them.
type Scheduler struct {
	want   Want
	verify Verify
	log    *slog.Logger
	window int64 // global
	unit   int64 // the most a chunk costs
	srcWin int64 // a new source's window
	minWin int64 // two units
	batch  int
	maxBad int

	mu      sync.Mutex
	wake    chan struct{} // capacity 1: something changed
	peers   []*Peer       // every source ever added, in order
	pending *Set          // needed, not done, in flight nowhere
	waiting int           // pending.Count()
	lo      int           // no word of pending below lo has a bit set
	done    *Set
	left    int // needed and not yet verified
	flights map[uint32]*flight
	exclude map[uint32][]*Peer // sources a chunk failed verification from
	out     int64              // bytes in flight, all sources
	maxOut  int64
	dups    int // chunks verified that another source also delivered or held
	runCtx  context.Context
	stopped bool
	err     error // from Verify: ends Run
	wg      sync.WaitGroup
	turn    int // rotates which source is served first
	holds   int // Hold calls not yet released
}

// flight is a chunk in flight: the Fetch calls that asked a source for it
// (one per source; two in the endgame) and whether a copy is being
// verified.
type flight struct {
	calls     []*call
	verifying bool
}

// at returns the index in f.calls of p's call, or -1.
func (f *flight) at(p *Peer) int {
	return slices.IndexFunc(f.calls, func(c *call) bool { return c.p == p })
}

// call is one Fetch call in flight. A call whose every chunk was verified
// (some from faster sources) is cut: cancelled, so that its source stops
// sending copies nobody wants, and not counted against the source.
type call struct {
	p      *Peer
	chunks []uint32
	// delivered[k]: the source delivered chunks[k] in this call. A chunk
	// that failed verification may be asked of p again (in another call)
	// before this one returns, and that flight is not this call's to
	// account for. Guarded by the scheduler's mutex.
	delivered []bool
	cancel    context.CancelFunc
	cut       bool
}

// New returns a scheduler for w. verify is called for every chunk a source
// delivers.
func New(w Want, verify Verify, opts Options) *Scheduler {
	cs := max(w.MaxCost, int64(w.ChunkSize), 1)
	win := opts.Window
	if win == 0 {
		win = DefaultWindow
	}
	win = max(win, 2*cs)
	need := w.Need
	if need == nil {
		need = FullSet(w.Total)
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Scheduler{
		want:    w,
		verify:  verify,
		log:     log,
		window:  win,
		unit:    cs,
		minWin:  2 * cs,
		srcWin:  min(max(opts.SourceWindow, 2*cs), win),
		batch:   opts.MaxBatch,
		maxBad:  opts.MaxBad,
		wake:    make(chan struct{}, 1),
		pending: need.Clone(),
		done:    NewSet(w.Total),
		flights: make(map[uint32]*flight),
		exclude: make(map[uint32][]*Peer),
	}
	if s.batch <= 0 {
		s.batch = 256
	}
	if s.maxBad <= 0 {
		s.maxBad = 3
	}
	s.left = s.pending.Count()
	s.waiting = s.left
	return s
}

func (s *Scheduler) cost(i uint32) int64 {
	if s.want.Cost == nil {
		return int64(s.want.ChunkSize)
	}
	return s.want.Cost(i)
}

// signal wakes Run. s.mu need not be held.
func (s *Scheduler) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Add offers a source to the scheduler, before or during Run. root is the
// root the source authenticated with, have the chunks it holds (copied).
// A source offering another root is refused with ErrOtherRoot.
func (s *Scheduler) Add(root manifest.Hash, have *Set, src Source) (*Peer, error) {
	if root != s.want.Root {
		return nil, fmt.Errorf("%w: %s, want %s", ErrOtherRoot, root, s.want.Root)
	}
	if src == nil {
		return nil, errors.New("swarm: a nil source")
	}
	if have == nil || have.Len() != s.want.Total {
		return nil, fmt.Errorf("swarm: a have-map over %d chunks, want %d", lenOf(have), s.want.Total)
	}
	p := &Peer{s: s, src: src, have: have.Clone(), window: s.srcWin, maxWindow: s.srcWin}
	s.mu.Lock()
	p.id = len(s.peers)
	s.peers = append(s.peers, p)
	if s.runCtx != nil {
		p.ctx, p.cancel = context.WithCancel(s.runCtx)
	}
	s.mu.Unlock()
	s.signal()
	return p, nil
}

func lenOf(s *Set) uint32 {
	if s == nil {
		return 0
	}
	return s.Len()
}

// Stats is the scheduler's account of a run.
type Stats struct {
	// MaxInFlight is the most bytes that were requested and not yet
	// verified at once: never more than the global window.
	MaxInFlight int64
	// Window is the global window.
	Window int64
	// Duplicates counts chunk copies discarded because another source's
	// copy was verified first (the endgame).
	Duplicates int
}

// Stats returns the scheduler's counters.
func (s *Scheduler) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{MaxInFlight: s.maxOut, Window: s.window, Duplicates: s.dups}
}

// Hold keeps Run from giving up for want of a source (ErrNoSource) until
// release is called: while a search may still add sources, or a source's
// have-map may still grow. release may be called more than once.
func (s *Scheduler) Hold() (release func()) {
	s.mu.Lock()
	s.holds++
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			s.holds--
			s.mu.Unlock()
			s.signal()
		})
	}
}
