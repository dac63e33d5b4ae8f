package engine

import (
	"sync"
	"sync/atomic"

	"github.com/pcp-p2p/pcp/engine/wire"
)

// servedFiles counts, for the sender's progress, the files every chunk of
// which this run has written to a receiver's data stream. That is what the
// sender can know: it sees no acknowledgement per chunk, and a receiver
// that resumes, or already has a file, never asks for it (nor for an empty
// file). So the count is "sent in full by this run", and it can stay below
// the total; the Done summary has the total, since Done means the receiver
// holds everything.
type servedFiles struct {
	mu      sync.Mutex
	partial map[uint32][]uint64 // entry -> chunks served so far (a bitset)
	left    map[uint32]int64    // entry -> chunks not yet served
	done    atomic.Int64
}

// served records chunk r of a file of chunks chunks as written. A chunk
// served twice (asked again after a reconnect) counts once.
func (f *servedFiles) served(r wire.Ref, chunks int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.partial == nil {
		f.partial, f.left = map[uint32][]uint64{}, map[uint32]int64{}
	}
	bits, ok := f.partial[r.Entry]
	if !ok {
		if _, finished := f.left[r.Entry]; finished {
			return // complete already (left is kept at 0)
		}
		bits = make([]uint64, (chunks+63)/64)
		f.left[r.Entry] = chunks
	}
	w, b := r.Chunk/64, uint64(1)<<(r.Chunk%64)
	if int(w) >= len(bits) || bits[w]&b != 0 {
		return
	}
	bits[w] |= b
	f.partial[r.Entry] = bits
	if f.left[r.Entry]--; f.left[r.Entry] == 0 {
		delete(f.partial, r.Entry) // left stays, at 0: the file is done
		f.done.Add(1)
	}
}

// count is the number of files served in full.
func (f *servedFiles) count() int { return int(f.done.Load()) }
