package engine

import (
	"context"
	"sync"

	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/manifest"
)

// A stream offer without a spool (NoSpool) keeps its chunks in a ring of
// ringSlots in memory and nothing on disk. Chunk i lives in slot i mod
// slots until chunk i+slots needs the slot, which waits until chunk i has
// been written to a receiver once: so the reader of the input blocks while
// the ring is full, and memory stays at the ring's size whatever the
// stream's. A chunk asked for after its slot was reused is gone
// (wire.ErrGone, Error CodeGone to the receiver).

// ringBytes is a ring's size: half the receiver's default in-flight
// window. Measured on a 512 MiB stream (2-core machine, busy): a 16 MiB
// ring peaked at 70 MiB RSS (over the 64 MiB target) and took 3.4 s; 8 MiB
// peaked at 62-63 MiB and took 4.6-4.9 s. The memory target wins; a sender
// that wants the speed keeps the default spool (54 MiB).
const ringBytes = DefaultMaxInFlight / 2

// ringSlots is the number of chunks a ring holds for chunk size cs.
func ringSlots(cs uint32) int { return max(ringBytes/int(cs), 2) }

type chunkRing struct {
	mu    sync.Mutex
	slots []ringSlot
	room  chan struct{} // closed (and replaced) when a slot may be reused
	// onWait, set only by tests, is called when put waits for room.
	onWait func()
}

type ringSlot struct {
	data   []byte // allocated when first used
	hash   manifest.Hash
	i      uint64
	held   bool // holds chunk i
	served bool // chunk i was written to a receiver
}

func newChunkRing(slots int) *chunkRing {
	return &chunkRing{slots: make([]ringSlot, slots), room: make(chan struct{})}
}

func (r *chunkRing) put(ctx context.Context, i uint64, data []byte, h manifest.Hash) error {
	for {
		r.mu.Lock()
		sl := &r.slots[i%uint64(len(r.slots))]
		if !sl.held || sl.served {
			sl.data = append(sl.data[:0], data...)
			sl.hash, sl.i, sl.held, sl.served = h, i, true, false
			r.mu.Unlock()
			return nil
		}
		room := r.room
		r.mu.Unlock()
		if r.onWait != nil {
			r.onWait()
		}
		select {
		case <-room:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// slot returns the slot holding chunk i, or nil; under r.mu.
func (r *chunkRing) slot(i uint64) *ringSlot {
	sl := &r.slots[i%uint64(len(r.slots))]
	if !sl.held || sl.i != i {
		return nil
	}
	return sl
}

func (r *chunkRing) hashes(first uint64, into []manifest.Hash) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for j := range into {
		sl := r.slot(first + uint64(j))
		if sl == nil {
			return wire.ErrGone
		}
		into[j] = sl.hash
	}
	return nil
}

func (r *chunkRing) read(i uint64, buf []byte) (manifest.Hash, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sl := r.slot(i)
	if sl == nil || len(sl.data) != len(buf) {
		return manifest.Hash{}, wire.ErrGone
	}
	copy(buf, sl.data)
	return sl.hash, nil
}

func (r *chunkRing) served(i uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if sl := r.slot(i); sl != nil && !sl.served {
		sl.served = true
		close(r.room)
		r.room = make(chan struct{})
	}
}

// held is the number of chunks the ring holds.
func (r *chunkRing) held() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, sl := range r.slots {
		if sl.held {
			n++
		}
	}
	return n
}

func (r *chunkRing) close() error { return nil }
