package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/pcp-p2p/pcp/engine/wire"
)

// How failures are classified on the receiving side: a data stream's
// (violation: end the transfer, or open another stream) and a whole
// transfer's (transferError: what Receive returns).

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

// transferError is what a receive whose transfer failed with err returns:
// err itself when it says why in a way the caller acts on (a misbehaving
// peer, a clash at the destination, a changed source, no path, a closed
// output, a failed verification, a stream gone or too large, or already
// interrupted); otherwise an interruption, which can be resumed. Files and
// streams end the same way.
func transferError(ctx context.Context, err error) error {
	for _, known := range []error{ErrPeerMisbehaving, ErrExists, wire.ErrSourceChanged, ErrInterrupted, ErrNoPath,
		ErrOutputClosed, ErrVerifyFailed, ErrStreamGone, ErrStreamTooLarge} {
		if errors.Is(err, known) {
			return err
		}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%w: %w", ErrInterrupted, ctx.Err())
	}
	return fmt.Errorf("%w: %v", ErrInterrupted, err)
}
