package engine

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/pcp-p2p/pcp/engine/wire"
)

// What one receiver can make the sender hold. Before these bounds each data
// stream allocated two chunk buffers and a zstd encoder (~4.8 MB): a
// receiver that opened 64 streams and never read them cost 343 MB.
const (
	// maxServerStreams bounds data streams serving requests across all
	// sessions; MaxStreams bounds them per session.
	maxServerStreams = 4 * MaxStreams
	// slotBudget is what the chunk slots may hold in all: a slot is a frame
	// buffer, a compression buffer (one chunk each) and an encoder (its
	// history, about a chunk), so ~3-4 chunks; 4 slots of 1 MiB chunks. A
	// stream holds a slot only while it reads, compresses and writes one
	// chunk, so a receiver that stops reading pins at most all of them,
	// and 4 slots keep DefaultStreams busy.
	slotBudget = 16 << 20
	minSlots   = 2
	maxSlots   = 16
)

// servingLimits admits data streams and lends chunk slots. Its zero value
// is ready; counts are guarded by server.mu.
type servingLimits struct {
	perSession map[[32]byte]int
	open       int
	refused    int

	slotsOnce sync.Once
	slots     chan *chunkSlot // free slots; nil = not allocated yet

	// onWait, set only by tests, is called when a stream waits for a slot.
	onWait func()
}

// chunkSlot is what serving one chunk needs.
type chunkSlot struct {
	buf  []byte // frame header room + one chunk
	zbuf []byte // the same, compressed
	enc  *zstd.Encoder
	// level is enc's. A slot keeps one encoder, of the level last asked
	// for: a stronger level's tables are larger (Better about 6 MiB against
	// Fastest's 2), and the streams of one session move levels together.
	level zstd.EncoderLevel
}

// encoder returns the slot's encoder at level, made anew if the slot's is
// of another level.
func (sl *chunkSlot) encoder(cs uint32, level zstd.EncoderLevel) *zstd.Encoder {
	if sl.enc == nil || sl.level != level {
		sl.enc, sl.level = newEncoder(cs, level), level
	}
	return sl.enc
}

// admit counts a stream of session id against the limits, or refuses it.
func (s *server) admit(id [32]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := &s.serving
	if l.perSession == nil {
		l.perSession = make(map[[32]byte]int)
	}
	if l.perSession[id] >= MaxStreams || l.open >= maxServerStreams {
		l.refused++
		return fmt.Errorf("%w: the sender serves at most %d per receiver", wire.ErrBusy, MaxStreams)
	}
	l.perSession[id]++
	l.open++
	return nil
}

func (s *server) release(id [32]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := &s.serving
	l.open--
	if l.perSession[id]--; l.perSession[id] <= 0 {
		delete(l.perSession, id)
	}
}

// slotCount is how many chunk slots fit the budget for chunk size cs.
func slotCount(cs uint32) int {
	return min(max(slotBudget/(4*int(cs)), minSlots), maxSlots)
}

// getSlot borrows a chunk slot, waiting for one if all are in use; before
// it waits, w (the stream's writer) writes out the frames it holds.
func (s *server) getSlot(ctx context.Context, w io.Writer) (*chunkSlot, error) {
	l := &s.serving
	cs := s.chunkSize()
	l.slotsOnce.Do(func() {
		l.slots = make(chan *chunkSlot, slotCount(cs))
		for range cap(l.slots) {
			l.slots <- nil
		}
	})
	var sl *chunkSlot
	select {
	case sl = <-l.slots:
	default:
		if err := flushHeld(w); err != nil {
			return nil, err
		}
		if l.onWait != nil {
			l.onWait()
		}
		select {
		case sl = <-l.slots:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if sl == nil {
		sl = &chunkSlot{
			buf:  make([]byte, chunkFrameHead+int(cs)),
			zbuf: make([]byte, 0, chunkFrameHead+int(cs)+int(cs)/64+1024),
		}
	}
	return sl, nil
}

func (s *server) putSlot(sl *chunkSlot) { s.serving.slots <- sl }

// skipReason says why the walk left a path out, for SkippedEvent.
