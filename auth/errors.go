package auth

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Callers branch on them with errors.Is; the messages are
// written so that cmd can show them to a user as they are.
var (
	// ErrWrongPassphrase: the peer did not prove knowledge of the same
	// passphrase for the same pair of peers. Both sides of a failed
	// handshake return it. It also covers a man in the middle (the peer
	// IDs in the transcripts differ), which is indistinguishable by design.
	ErrWrongPassphrase = errors.New("wrong passphrase: the peer did not prove it knows the same passphrase")

	// ErrHandshake: the peer sent something that is not a valid pcp-auth/1
	// handshake (garbage, an unknown version, an invalid curve point), or
	// the connection broke during the handshake. No passphrase was tested.
	ErrHandshake = errors.New("authentication handshake failed")

	// ErrBadPassphrase: a passphrase could not be parsed or generated.
	// An unknown word is reported as *UnknownWordError, which wraps it.
	ErrBadPassphrase = errors.New("invalid passphrase")

	// ErrTooManyFailures: a Guard has seen its maximum number of failed
	// handshakes; the sender must stop offering the transfer.
	ErrTooManyFailures = errors.New("too many failed passphrase attempts; stopped offering the transfer so the passphrase cannot be guessed")

	// ErrConfig: Handshake was called with an unusable Config (no
	// passphrase, unknown role, missing or equal peer IDs). It is a
	// programming error, not something the peer caused.
	ErrConfig = errors.New("invalid handshake configuration")
)

// UnknownWordError reports a passphrase word that is not in the English
// BIP39 list. It wraps ErrBadPassphrase.
//
// Word is what the user typed (normalized to lower case): it may be part of
// the secret, so the error is meant for the user's terminal, not for logs
// that leave the machine.
type UnknownWordError struct {
	Word        string
	Index       int      // 0-based position of the word in the passphrase
	Suggestions []string // closest valid words, best first; may be empty
}

func (e *UnknownWordError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v: word %d %q is not in the word list", ErrBadPassphrase, e.Index+1, e.Word)
	switch len(e.Suggestions) {
	case 0:
	case 1:
		fmt.Fprintf(&b, " (did you mean %q?)", e.Suggestions[0])
	default:
		quoted := make([]string, len(e.Suggestions))
		for i, s := range e.Suggestions {
			quoted[i] = fmt.Sprintf("%q", s)
		}
		fmt.Fprintf(&b, " (did you mean one of %s?)", strings.Join(quoted, ", "))
	}
	return b.String()
}

func (e *UnknownWordError) Unwrap() error { return ErrBadPassphrase }
