package wire

import (
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/pcp-p2p/pcp/manifest"
)

// Stream frames: an offer of standard input (pcp send -), whose chunks are
// announced as the sender reads them (doc.go, "Streams of standard input").
const (
	TStreamInfo Type = 22
	TAnnounce   Type = 23
	TStreamEnd  Type = 24
)

// Stream bounds.
const (
	// MaxAnnounce is the most chunk hashes in one Announce frame.
	MaxAnnounce = 1024
	// MaxStreamName bounds StreamInfo's name, in bytes.
	MaxStreamName  = 255
	streamInfoHead = 32 + 4 + 1 // id | chunk size | flags
	announceHead   = 4 + 2      // first | count
	streamEndSize  = 8 + 32     // size | root
)

// StreamInfo flags.
const (
	// StreamSpooled: the sender keeps every chunk it read (in its spool),
	// so a receiver that drops can ask for any announced chunk again.
	// Without it, a chunk that was served may be gone (CodeGone).
	StreamSpooled uint8 = 1

	knownStreamFlags = StreamSpooled
)

// StreamMaxPayload is MaxPayload for the stream frame types, and false for
// any other type.
func StreamMaxPayload(t Type) (int, bool) {
	switch t {
	case TStreamInfo:
		return streamInfoHead + 1 + MaxStreamName, true
	case TAnnounce:
		return announceHead + manifest.HashSize*MaxAnnounce, true
	case TStreamEnd:
		return streamEndSize, true
	}
	return 0, false
}

// StreamInfo describes a stream offer. ID names this stream: it is random
// per pcp send, so a receiver resuming into a file knows whether the offer
// is the stream it has a prefix of.
type StreamInfo struct {
	ID        [32]byte
	ChunkSize uint32
	Flags     uint8
	Name      string // one path component: what a receiver that writes a file calls it
}

// Spooled reports whether the sender keeps every chunk (StreamSpooled).
func (s StreamInfo) Spooled() bool { return s.Flags&StreamSpooled != 0 }

// Append encodes a StreamInfo payload.
func (s StreamInfo) Append(b []byte) []byte {
	b = append(b, s.ID[:]...)
	b = binary.BigEndian.AppendUint32(b, s.ChunkSize)
	b = append(b, s.Flags, uint8(len(s.Name)))
	return append(b, s.Name...)
}

// DecodeStreamInfo decodes a StreamInfo payload and checks it: a chunk size
// the manifest allows, known flags, and a name that is one valid path
// component (manifest.ValidatePath, no slash) of at most MaxStreamName bytes.
func DecodeStreamInfo(p []byte) (StreamInfo, error) {
	if len(p) < streamInfoHead+1 {
		return StreamInfo{}, fmt.Errorf("%w: StreamInfo of %d bytes", ErrFrame, len(p))
	}
	var s StreamInfo
	copy(s.ID[:], p)
	s.ChunkSize = binary.BigEndian.Uint32(p[32:])
	s.Flags = p[36]
	n := int(p[37])
	if len(p) != streamInfoHead+1+n {
		return StreamInfo{}, fmt.Errorf("%w: StreamInfo of %d bytes with a name of %d", ErrFrame, len(p), n)
	}
	s.Name = string(p[38:])
	if s.Flags&^knownStreamFlags != 0 {
		return StreamInfo{}, fmt.Errorf("%w: StreamInfo flags %#x", ErrFrame, s.Flags)
	}
	if err := manifest.CheckChunkSize(s.ChunkSize); err != nil {
		return StreamInfo{}, fmt.Errorf("%w: %v", ErrFrame, err)
	}
	if n == 0 || !utf8.ValidString(s.Name) || strings.Contains(s.Name, "/") {
		return StreamInfo{}, fmt.Errorf("%w: stream name %q", ErrFrame, s.Name)
	}
	if err := manifest.ValidatePath(s.Name); err != nil {
		return StreamInfo{}, fmt.Errorf("%w: stream name: %v", ErrFrame, err)
	}
	return s, nil
}

// Announce names the hashes of chunks First, First+1, ... of a stream.
type Announce struct {
	First  uint32
	Hashes []manifest.Hash
}

// AppendAnnounce encodes an Announce payload of 1 to MaxAnnounce hashes.
func AppendAnnounce(b []byte, a Announce) ([]byte, error) {
	if len(a.Hashes) == 0 || len(a.Hashes) > MaxAnnounce || uint64(a.First)+uint64(len(a.Hashes)) > 1<<32 {
		return b, fmt.Errorf("%w: Announce of %d hashes from %d", ErrFrame, len(a.Hashes), a.First)
	}
	b = binary.BigEndian.AppendUint32(b, a.First)
	b = binary.BigEndian.AppendUint16(b, uint16(len(a.Hashes)))
	for _, h := range a.Hashes {
		b = append(b, h[:]...)
	}
	return b, nil
}

// DecodeAnnounce decodes an Announce payload into into's storage. Whether
// First is the next chunk is the receiver's check, not the format's.
func DecodeAnnounce(p []byte, into []manifest.Hash) (Announce, error) {
	if len(p) < announceHead {
		return Announce{}, fmt.Errorf("%w: short Announce", ErrFrame)
	}
	a := Announce{First: binary.BigEndian.Uint32(p)}
	n := int(binary.BigEndian.Uint16(p[4:]))
	if n == 0 || n > MaxAnnounce || len(p) != announceHead+n*manifest.HashSize || uint64(a.First)+uint64(n) > 1<<32 {
		return Announce{}, fmt.Errorf("%w: Announce of %d bytes with count %d from %d", ErrFrame, len(p), n, a.First)
	}
	a.Hashes = into[:0]
	for i := range n {
		a.Hashes = append(a.Hashes, manifest.Hash(p[announceHead+i*manifest.HashSize:][:manifest.HashSize]))
	}
	return a, nil
}

// StreamEnd ends a stream: its size in bytes and its manifest.StreamRoot.
type StreamEnd struct {
	Size uint64
	Root manifest.Hash
}

// Append encodes a StreamEnd payload.
func (e StreamEnd) Append(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, e.Size)
	return append(b, e.Root[:]...)
}

// DecodeStreamEnd decodes a StreamEnd payload.
func DecodeStreamEnd(p []byte) (StreamEnd, error) {
	if len(p) != streamEndSize {
		return StreamEnd{}, fmt.Errorf("%w: StreamEnd of %d bytes", ErrFrame, len(p))
	}
	return StreamEnd{Size: binary.BigEndian.Uint64(p), Root: manifest.Hash(p[8:])}, nil
}
