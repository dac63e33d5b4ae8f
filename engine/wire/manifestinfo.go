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
}

const manifestInfoSize = 3 * 8

// Append encodes a ManifestInfo payload.
func (m ManifestInfo) Append(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, m.Entries)
	b = binary.BigEndian.AppendUint64(b, m.Encoded)
	return binary.BigEndian.AppendUint64(b, m.FileBytes)
}

// DecodeManifestInfo decodes a ManifestInfo payload. Whether the numbers are
// acceptable is the receiver's decision, not the wire format's.
func DecodeManifestInfo(p []byte) (ManifestInfo, error) {
	if len(p) != manifestInfoSize {
		return ManifestInfo{}, fmt.Errorf("%w: ManifestInfo of %d bytes", ErrFrame, len(p))
	}
	return ManifestInfo{
		Entries:   binary.BigEndian.Uint64(p),
		Encoded:   binary.BigEndian.Uint64(p[8:]),
		FileBytes: binary.BigEndian.Uint64(p[16:]),
	}, nil
}
