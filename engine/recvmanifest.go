package engine

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/manifest"
)

// Deadlines on the manifest. A sender that stalls or trickles must not hold
// the receiver, and one that is still hashing says so with Wait frames.
const (
	// manifestIdle is how long the control stream may go without progress:
	// three of the sender's Wait intervals.
	manifestIdle = 3 * wire.WaitEvery
	// minManifestProgress is the progress a manifest must make per
	// manifestIdle (about 550 B/s): less is a trickle, not a link.
	minManifestProgress = 16 << 10
)

// deadlineReader is a control stream: a libp2p stream in Receive.
type deadlineReader interface {
	io.Reader
	SetReadDeadline(time.Time) error
}

// progressReader moves the read deadline of s forward only when progress
// was made: a Wait frame (extend) or minProgress bytes since the deadline
// last moved. A read blocked past the deadline fails with a timeout.
type progressReader struct {
	s           deadlineReader
	idle        time.Duration
	minProgress int64
	n           int64 // bytes since the deadline last moved
	err         error // the first error a read returned
}

func (p *progressReader) extend() {
	p.n = 0
	_ = p.s.SetReadDeadline(time.Now().Add(p.idle))
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.s.Read(b)
	if err != nil && p.err == nil {
		p.err = err
	}
	if p.n += int64(n); p.n >= p.minProgress {
		p.extend()
	}
	return n, err
}

// readManifest reads the sender's Wait frames, its ManifestInfo, the
// manifest and its end frame from the control stream s into a table in
// stateDir. It checks the declaration before it stores anything and fails
// a manifest that differs from it, so a sender can make the receiver store
// no more than it declared and the receiver accepted; a text offer must be
// one small file (checkText). It returns the declaration with the table.
// See manifestError for what its errors mean.
//
// When the ManifestInfo says wire.FlagManifestStream, the manifest comes on
// the stream elsewhere opens (manifeststream.go); nil refuses such a
// declaration.
func readManifest(s deadlineReader, stateDir string, idle time.Duration, free func(string) (int64, bool), elsewhere manifestStreamFunc) (*manifest.Table, wire.ManifestInfo, error) {
	t, info, err := readDeclared(s, stateDir, idle, free, elsewhere)
	if err == nil && info.Text() {
		if err = checkText(t); err != nil {
			t.Close()
			t = nil
		}
	}
	return t, info, err
}

// readDeclared is readManifest without the check of a text offer.
func readDeclared(s deadlineReader, stateDir string, idle time.Duration, free func(string) (int64, bool), elsewhere manifestStreamFunc) (*manifest.Table, wire.ManifestInfo, error) {
	pr := &progressReader{s: s, idle: idle, minProgress: minManifestProgress}
	pr.extend()
	defer s.SetReadDeadline(time.Time{})
	fr := wire.NewReader(pr)
	var info wire.ManifestInfo
	for {
		t, p, err := fr.Next()
		if err != nil {
			return nil, info, err
		}
		if t == wire.TWait {
			pr.extend()
			continue
		}
		if t != wire.TManifestInfo {
			return nil, info, fmt.Errorf("%w: %v before ManifestInfo", wire.ErrFrame, t)
		}
		if info, err = wire.DecodeManifestInfo(p); err != nil {
			return nil, info, err
		}
		break
	}
	if info.Stream() { // no manifest: StreamInfo follows (streamrecv.go)
		return nil, info, nil
	}
	if err := checkManifestInfo(info, stateDir, free); err != nil {
		return nil, info, err
	}
	if info.Text() {
		if err := checkTextInfo(info); err != nil {
			return nil, info, err
		}
	}
	if info.Flags&wire.FlagManifestStream != 0 {
		if elsewhere == nil {
			return nil, info, fmt.Errorf("%w: a manifest on a stream of its own, where none can be opened", wire.ErrFrame)
		}
		ms, err := elsewhere()
		if err != nil {
			return nil, info, err
		}
		defer ms.Close()
		pr = &progressReader{s: ms, idle: idle, minProgress: minManifestProgress}
		fr = wire.NewReader(pr)
	}
	pr.extend()
	mr := wire.NewManifestReader(fr, int64(info.Encoded))
	// The declared counts bound the decoder too (a zero keeps the default;
	// the comparison below catches the rest).
	lim := manifest.Limits{MaxEntries: int64(info.Entries), MaxTotalSize: int64(info.FileBytes)}
	t, err := manifest.DecodeTable(mr, stateDir, lim)
	if err != nil {
		return nil, info, streamCause(err, pr)
	}
	root := t.Root()
	typ, p, err := mr.End()
	if err == nil && (typ != wire.TManifestEnd || len(p) != len(root) || manifest.Hash(p) != root) {
		err = fmt.Errorf("%w: manifest end mismatch", wire.ErrFrame)
	}
	if err == nil && (uint64(t.Len()) != info.Entries || uint64(t.EncodedSize()) != info.Encoded || uint64(t.TotalSize()) != info.FileBytes) {
		err = fmt.Errorf("%w: the sender declared %d entries, %d manifest bytes and %d file bytes, and sent %d, %d and %d",
			errUndeclared, info.Entries, info.Encoded, info.FileBytes, t.Len(), t.EncodedSize(), t.TotalSize())
	}
	if err != nil {
		t.Close()
		return nil, info, streamCause(err, pr)
	}
	return t, info, nil
}

// streamCause names the real cause of a manifest that failed to decode
// because its stream broke, timed out or ended early: the decoder sees
// only a truncated manifest, which would read as a broken rule.
func streamCause(err error, pr *progressReader) error {
	switch {
	case pr.err == nil:
		return err
	case isTimeout(pr.err):
		return pr.err
	case errors.Is(pr.err, io.EOF):
		return fmt.Errorf("%w: the sender ended the manifest early", ErrInterrupted)
	}
	return fmt.Errorf("%w: reading the manifest: %v", ErrInterrupted, pr.err)
}

// errUndeclared: the manifest differs from the sender's ManifestInfo.
var errUndeclared = errors.New("the manifest differs from its declaration")

// manifestError says what a readManifest error means for the transfer. A
// broken rule (frames, manifest validation, limits, a false declaration)
// is ErrPeerMisbehaving; a stream that went quiet or broke is
// ErrInterrupted: nothing was stored, and trying again is sound. ErrNoSpace
// stays as it is.
func manifestError(err error, idle time.Duration) error {
	switch {
	case errors.Is(err, ErrNoSpace), errors.Is(err, ErrPeerMisbehaving), errors.Is(err, ErrNoPath), errors.Is(err, ErrInterrupted):
		return err
	case errors.Is(err, wire.ErrFrame), errors.Is(err, errUndeclared), errors.Is(err, manifest.ErrMalformed),
		errors.Is(err, manifest.ErrInvalid), errors.Is(err, manifest.ErrTooLarge):
		return fmt.Errorf("%w: %w", ErrPeerMisbehaving, err)
	case isTimeout(err):
		return fmt.Errorf("%w: the sender's manifest made no progress for %v", ErrInterrupted, idle)
	}
	return fmt.Errorf("%w: reading the manifest: %w", ErrInterrupted, err)
}

// isTimeout reports whether err is a read deadline passing.
func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// freeSpaceFunc is freeSpace, or the test's replacement.
func (o ReceiveOptions) freeSpaceFunc() func(string) (int64, bool) {
	if o.freeSpace != nil {
		return o.freeSpace
	}
	return freeSpace
}
