package wire

import (
	"encoding/binary"
	"fmt"
	"time"
)

// WaitEvery is how often a sender that is still hashing sends Wait on a
// control stream; a receiver allows for several missed ones before it gives
// up on a silent sender.
const WaitEvery = 10 * time.Second

// ManifestInfo is what a sender declares before the manifest. The receiver
// checks it against its limits and free space before it stores a byte, and
// then holds the sender to it: a manifest that differs from its declaration
// in any of the three is a protocol violation.
type ManifestInfo struct {
	Entries   uint64 // entries in the manifest
	Encoded   uint64 // bytes of its canonical encoding: the Manifest payloads together
	FileBytes uint64 // bytes in all its files
	// Flags say what kind of offer this is (FlagText); 0 is files, and is
	// not encoded at all, so a plain offer reads as before.
	Flags uint8
}

// Offer flags.
const (
	// FlagText: the offer is a short message, not files. Its manifest must
	// be one regular file of at most MaxText bytes; the receiver prints it
	// and stores nothing at its destination.
	FlagText uint8 = 1
	// FlagManifestStream: the manifest does not follow on the control
	// stream; the receiver fetches it on a KindManifest stream of the
	// session, once it has a path that can carry data.
	FlagManifestStream uint8 = 2
	// FlagStream: the offer is a stream of standard input (pcp send -).
	// Nothing about it is known yet: Entries, Encoded and FileBytes are 0,
	// and no manifest follows; a StreamInfo frame does (doc.go). It never
	// goes with FlagText.
	FlagStream uint8 = 4

	knownFlags = FlagText | FlagManifestStream | FlagStream
	// MaxText bounds the one file of a text offer.
	MaxText = 64 << 10
)

// manifestInfoSize is a ManifestInfo without flags; with flags it is one
// byte longer.
const manifestInfoSize = 3 * 8

// Append encodes a ManifestInfo payload: the flags byte only when not 0.
func (m ManifestInfo) Append(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, m.Entries)
	b = binary.BigEndian.AppendUint64(b, m.Encoded)
	b = binary.BigEndian.AppendUint64(b, m.FileBytes)
	if m.Flags != 0 {
		b = append(b, m.Flags)
	}
	return b
}

// Text reports whether the offer is a text message (FlagText).
func (m ManifestInfo) Text() bool { return m.Flags&FlagText != 0 }

// Stream reports whether the offer is a stream of standard input (FlagStream).
func (m ManifestInfo) Stream() bool { return m.Flags&FlagStream != 0 }

// DecodeManifestInfo decodes a ManifestInfo payload. Whether the numbers are
// acceptable is the receiver's decision, not the wire format's. A flags
// byte of 0 (it is left out instead) or with unknown bits is ErrFrame.
func DecodeManifestInfo(p []byte) (ManifestInfo, error) {
	if len(p) != manifestInfoSize && len(p) != manifestInfoSize+1 {
		return ManifestInfo{}, fmt.Errorf("%w: ManifestInfo of %d bytes", ErrFrame, len(p))
	}
	m := ManifestInfo{
		Entries:   binary.BigEndian.Uint64(p),
		Encoded:   binary.BigEndian.Uint64(p[8:]),
		FileBytes: binary.BigEndian.Uint64(p[16:]),
	}
	if len(p) > manifestInfoSize {
		m.Flags = p[manifestInfoSize]
		if m.Flags == 0 || m.Flags&^knownFlags != 0 || m.Flags&FlagStream != 0 && m.Flags&FlagText != 0 {
			return ManifestInfo{}, fmt.Errorf("%w: ManifestInfo flags %#x", ErrFrame, m.Flags)
		}
		if m.Stream() && (m.Entries|m.Encoded|m.FileBytes) != 0 {
			return ManifestInfo{}, fmt.Errorf("%w: a stream's ManifestInfo declares %d entries", ErrFrame, m.Entries)
		}
	}
	return m, nil
}
