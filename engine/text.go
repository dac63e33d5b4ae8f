package engine

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/manifest"
)

// A text offer (pcp send --text) is a short message carried as one small
// regular file, marked as text in the sender's ManifestInfo
// (wire.FlagText). The sender writes the message into a private temporary
// directory and offers that file; the receiver holds the offer to its
// shape (checkTextInfo before it stores a manifest byte, checkText after),
// fetches the file like any other into a private directory of its own
// (never its destination), reads it, reports it (TextEvent) and removes
// the directory. No question is asked: nothing is written where the user
// keeps files.

// MaxTextSize bounds a text offer: longer text belongs in a file.
const MaxTextSize = wire.MaxText

// ErrTextTooLong: SendOptions.Text is longer than MaxTextSize.
var ErrTextTooLong = errors.New("text too long")

// textName is the file a text offer's message travels as.
const textName = "message.txt"

// TextEvent (receiver): the offer was a text message, received and
// verified. Text is what the sender sent, unescaped: the peer's bytes.
type TextEvent struct{ Text string }

func (TextEvent) isEvent() {}

// CheckText reports whether text can be sent as a text offer.
func CheckText(text string) error {
	switch {
	case text == "":
		return errors.New("the text is empty")
	case len(text) > MaxTextSize:
		return fmt.Errorf("%w: %d bytes, more than %d KiB: send it as a file", ErrTextTooLong, len(text), MaxTextSize>>10)
	}
	return nil
}

// writeTextFile writes text into a new private directory under dir (""
// = os.TempDir()) and returns the file's path and a func that removes the
// directory.
func writeTextFile(text, dir string) (string, func(), error) {
	if err := CheckText(text); err != nil {
		return "", nil, err
	}
	d, err := os.MkdirTemp(dir, "text-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { os.RemoveAll(d) }
	path := filepath.Join(d, textName)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		cleanup()
		return "", nil, err
	}
	return path, cleanup, nil
}

// errNotText: an offer marked as text is not one small regular file.
var errNotText = errors.New("an offer marked as text is not one small file")

// checkTextInfo holds a text offer's declaration to the shape of a text
// offer, before any of the manifest is stored.
func checkTextInfo(info wire.ManifestInfo) error {
	if info.Entries != 1 || info.FileBytes > MaxTextSize {
		return fmt.Errorf("%w: %w: %d entries of %d bytes", ErrPeerMisbehaving, errNotText, info.Entries, info.FileBytes)
	}
	return nil
}

// checkText holds a text offer's manifest to one regular file at the top
// level of at most MaxTextSize bytes.
func checkText(t *manifest.Table) error {
	if t.Len() != 1 {
		return fmt.Errorf("%w: %w: %d entries", ErrPeerMisbehaving, errNotText, t.Len())
	}
	e, err := t.Entry(0)
	if err != nil {
		return err
	}
	if e.Kind != manifest.KindFile || strings.Contains(e.Path, "/") || e.Size > MaxTextSize {
		return fmt.Errorf("%w: %w", ErrPeerMisbehaving, errNotText)
	}
	return nil
}

// readText reads the one file of a text offer, received into dest.
func readText(dest *os.Root, t *manifest.Table) (string, error) {
	e, err := t.Entry(0)
	if err != nil {
		return "", err
	}
	f, err := dest.Open(e.Path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxTextSize))
	return string(b), err
}
