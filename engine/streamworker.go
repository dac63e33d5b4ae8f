package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pcp-p2p/pcp/engine/wire"
)

// streamWorker keeps one data stream busy until the queue is drained. A
// stream that breaks the protocol ends the session at once (violation); a
// stream that failed for a transient reason (reset, EOF, a stall, a lost
// connection) is re-opened after a backoff that grows while streams keep
// failing without delivering a chunk, until Patience passes without data.
func (r *receiver) streamWorker(ctx context.Context, op streamOpener, batchBytes int64) error {
	var again reopening
	for first := true; ; {
		if r.q.finished() {
			return nil
		}
		if !first {
			r.reconnects.Add(1)
		}
		first = false
		s, err := op.openData(ctx)
		if err != nil {
			return err
		}
		s = r.opts.limit.reader(ctx, s)
		got, err := r.runStream(ctx, s, batchBytes, op)
		r.log.Debug("data stream ended", "chunks", got, "err", err)
		s.Close()
		if err == nil {
			return nil
		}
		if errors.Is(err, errMigrate) {
			r.migrations.Add(1)
			first = true // not a reconnect
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if rn, ok := op.(renewer); ok && errors.Is(err, wire.ErrUnknownSession) {
			// The sender restarted: authenticate again, then go on.
			if err := rn.renew(ctx, s); err != nil {
				return err
			}
			continue
		}
		r.log.Debug("data stream failed", "err", err)
		if err := again.wait(ctx, err, got > 0, time.Unix(0, r.lastChunk.Load()), r.opts.Patience); err != nil {
			return err
		}
	}
}

// reopening paces the data streams one worker opens again after transient
// failures: a backoff that doubles from streamBackoffMin to
// streamBackoffMax, and starts over once a stream delivered. The file
// receiver's workers, the stream receiver's and a swarm source's share it.
type reopening struct{ backoff time.Duration }

// wait decides after a data stream failed with err: a protocol violation
// ends the transfer, and so does nothing delivered since last for longer
// than patience (streams that open but carry nothing must not be re-opened
// for ever). Otherwise it waits the backoff (progressed: the stream
// delivered before it failed, a fresh failure) and returns nil.
func (b *reopening) wait(ctx context.Context, err error, progressed bool, last time.Time, patience time.Duration) error {
	if verr := violation(err); verr != nil {
		return verr
	}
	if quiet := time.Since(last); quiet > patience {
		return fmt.Errorf("%w: no data from the sender for %v (last error: %v)", ErrInterrupted, quiet.Round(time.Second), err)
	}
	if progressed {
		b.backoff = 0
	}
	b.backoff = min(max(2*b.backoff, streamBackoffMin), streamBackoffMax)
	select {
	case <-time.After(b.backoff):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// renewer is an opener that can authenticate again with a sender that
// forgot the session (it restarted); see renew.go.
type renewer interface {
	renew(ctx context.Context, s io.ReadWriteCloser) error
}

// Backoff between re-opened data streams.
const (
	streamBackoffMin = 100 * time.Millisecond
	streamBackoffMax = 5 * time.Second
)

var errWrite = errors.New("writing to the destination failed")

// runStream pipelines requests and chunks on one stream and returns how
// many chunks it delivered. On any error the chunks it had requested go
