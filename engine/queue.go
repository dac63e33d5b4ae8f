package engine

import (
	"context"
	"sync"

	"github.com/pcp-p2p/pcp/engine/wire"
)

// queue hands out chunk refs to stream workers: refs that came back first,
// then the feeder's, in manifest order.
type queue struct {
	mu          sync.Mutex
	feed        <-chan wire.Ref
	fed         bool       // feed is closed and drained
	retry       []wire.Ref // requeued, and a fed ref that did not fit a batch
	outstanding int        // taken and not yet done
	changed     chan struct{}
}

func newQueue(feed <-chan wire.Ref) *queue {
	return &queue{feed: feed, changed: make(chan struct{})}
}

func (q *queue) signal() {
	close(q.changed)
	q.changed = make(chan struct{})
}

// next returns the next ref without waiting: a retry, else one from the
// feed. q.mu must be held.
func (q *queue) next() (wire.Ref, bool) {
	if len(q.retry) > 0 {
		ref := q.retry[0]
		q.retry = q.retry[1:]
		return ref, true
	}
	if q.fed {
		return wire.Ref{}, false
	}
	select {
	case ref, ok := <-q.feed:
		if !ok {
			q.fed = true
			q.signal()
			return wire.Ref{}, false
		}
		return ref, true
	default:
		return wire.Ref{}, false
	}
}

// take returns up to maxRefs refs of at most maxBytes in all (at least one),
// and their byte total. It waits while the feeder is working or other
// streams hold refs that may come back; it returns nil once every ref is
// done, or when ctx ends.
func (q *queue) take(ctx context.Context, maxRefs int, maxBytes int64, size func(wire.Ref) int64) ([]wire.Ref, int64) {
	for {
		q.mu.Lock()
		var out []wire.Ref
		var bytes int64
		for len(out) < maxRefs {
			ref, ok := q.next()
			if !ok {
				break
			}
			n := size(ref)
			if len(out) > 0 && bytes+n > maxBytes {
				q.retry = append([]wire.Ref{ref}, q.retry...)
				break
			}
			out = append(out, ref)
			bytes += n
		}
		if len(out) > 0 {
			q.outstanding += len(out)
			q.mu.Unlock()
			return out, bytes
		}
		if q.fed && q.outstanding == 0 {
			q.mu.Unlock()
			return nil, 0
		}
		ch, feed := q.changed, q.feed
		if q.fed {
			feed = nil
		}
		q.mu.Unlock()
		select {
		case <-ch:
		case ref, ok := <-feed:
			q.mu.Lock()
			if ok {
				q.retry = append(q.retry, ref)
			} else {
				q.fed = true
				q.signal()
			}
			q.mu.Unlock()
		case <-ctx.Done():
			return nil, 0
		}
	}
}

func (q *queue) requeue(refs []wire.Ref) {
	q.mu.Lock()
	q.retry = append(append([]wire.Ref(nil), refs...), q.retry...)
	q.outstanding -= len(refs)
	q.signal()
	q.mu.Unlock()
}

func (q *queue) done(n int) {
	q.mu.Lock()
	q.outstanding -= n
	if q.outstanding == 0 {
		q.signal()
	}
	q.mu.Unlock()
}

// finished reports whether every ref has been fed and done. A feed that is
// closed but not yet seen closed reads as not finished; the next take
// notices.
func (q *queue) finished() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.fed && q.outstanding == 0 && len(q.retry) == 0
}

// fileTable tracks the files being fetched: registered by the feeder before
// their first chunk is handed out, dropped once renamed into place. It
