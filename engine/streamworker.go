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
	var backoff time.Duration
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
		if verr := violation(err); verr != nil {
			return verr
		}
		if last := time.Unix(0, r.lastChunk.Load()); time.Since(last) > r.opts.Patience {
			// Streams open but nothing arrives: a stalled sender must not
			// keep the receiver re-opening streams forever.
			return fmt.Errorf("%w: no data from the sender for %v (last error: %v)", ErrInterrupted, time.Since(last).Round(time.Second), err)
		}
		if got > 0 {
			backoff = 0 // the stream worked for a while: a fresh failure
		}
		backoff = min(max(2*backoff, streamBackoffMin), streamBackoffMax)
		r.log.Debug("data stream failed; reopening", "after", backoff, "err", err)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return ctx.Err()
		}
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

// violation returns the error that ends the session for a stream error that
// no retry can cure, and nil for a transient one. Frames that are not in
// the protocol (an unknown type, an oversized length, a type that does not
// belong on a data stream) and Error frames the receiver cannot act on
// (anything but a changed source or an unknown session, which end the
// session as themselves, and Busy, which is transient) mean the peer is
// broken or hostile: retrying would only repeat it.
func violation(err error) error {
	var re *wire.RemoteError
	switch {
	case errors.Is(err, ErrPeerMisbehaving), errors.Is(err, wire.ErrSourceChanged),
		errors.Is(err, wire.ErrUnknownSession), errors.Is(err, errWrite):
		return err
	case errors.Is(err, wire.ErrBusy):
		return nil // the sender's stream limits: try again after the backoff
	case errors.As(err, &re):
		return fmt.Errorf("%w: the sender answered a request with an error (code %d): %w", ErrPeerMisbehaving, re.Code, err)
	case errors.Is(err, wire.ErrFrame):
		return fmt.Errorf("%w: %w", ErrPeerMisbehaving, err)
	}
	return nil
}

var errWrite = errors.New("writing to the destination failed")

// runStream pipelines requests and chunks on one stream and returns how
// many chunks it delivered. On any error the chunks it had requested go
