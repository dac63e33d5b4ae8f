package main

import (
	"context"
	"errors"
	"strings"

	"github.com/pcp-p2p/pcp/auth"
	"github.com/pcp-p2p/pcp/engine"
)

// Exit codes. Documented in README-usage.md; scripts rely on them.
const (
	exitOK          = 0  // every file complete and verified
	exitOther       = 1  // any other failure
	exitUsage       = 2  // bad flags, arguments or passphrase syntax
	exitWrongPass   = 3  // wrong passphrase or failed handshake (receiver), too many failed attempts (sender)
	exitNotFound    = 4  // the peer was not found
	exitInterrupted = 5  // interrupted (Ctrl-C, connection lost, a source file changed): resumable
	exitVerify      = 6  // verification failed, or the peer misbehaved
	exitDeclined    = 7  // offer declined, destination has differing files, or cannot hold some entries
	exitNoPath      = 8  // the sender was found and authenticated, but no path can carry the data
	exitOutput      = 9  // receive --stdout: standard output closed before the whole file was written
	exitOldPeer     = 10 // the peer runs an older pcp (another protocol version)
)

// usageError marks an error as bad usage (exit 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// exitKind names an exit code in JSON "error" events.
func exitKind(code int) string {
	switch code {
	case exitUsage:
		return "usage"
	case exitWrongPass:
		return "wrong_passphrase"
	case exitNotFound:
		return "peer_not_found"
	case exitInterrupted:
		return "interrupted"
	case exitVerify:
		return "verification_failed"
	case exitDeclined:
		return "declined"
	case exitNoPath:
		return "no_path"
	case exitOutput:
		return "output_closed"
	case exitOldPeer:
		return "old_peer"
	}
	return "error"
}

// exitCode maps an error to the process exit code. interrupted is true when
// the user stopped pcp (SIGINT/SIGTERM).
func exitCode(err error, interrupted bool) int {
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case interrupted:
		// The user stopped pcp: whatever the engine made of the
		// cancellation (declined prompt, broken stream), it is resumable.
		return exitInterrupted
	case errors.As(err, &ue), errors.Is(err, auth.ErrBadPassphrase):
		return exitUsage
	case errors.Is(err, engine.ErrWrongPassphrase), errors.Is(err, engine.ErrTooManyFailures),
		errors.Is(err, auth.ErrHandshake):
		return exitWrongPass
	case errors.Is(err, engine.ErrPeerNotFound):
		return exitNotFound
	case errors.Is(err, engine.ErrNoPath):
		return exitNoPath
	case errors.Is(err, engine.ErrOldPeer):
		return exitOldPeer
	case errors.Is(err, engine.ErrOutputClosed):
		return exitOutput
	case errors.Is(err, engine.ErrVerifyFailed), errors.Is(err, engine.ErrPeerMisbehaving):
		return exitVerify
	case errors.Is(err, engine.ErrDeclined), errors.Is(err, engine.ErrExists), errors.Is(err, engine.ErrUnrepresentable):
		return exitDeclined
	case errors.Is(err, engine.ErrInterrupted), errors.Is(err, context.Canceled),
		errors.Is(err, engine.ErrSourceChanged): // the sender hashes again; the receiver resumes
		return exitInterrupted
	}
	return exitOther
}

// message is the one line shown for err: no "context canceled" noise.
func message(err error) string {
	s := err.Error()
	for _, noise := range []string{": context canceled", ": context deadline exceeded"} {
		s = strings.ReplaceAll(s, noise, "")
	}
	if errors.Is(err, context.Canceled) && s == context.Canceled.Error() {
		return "interrupted"
	}
	return humanError(s)
}
