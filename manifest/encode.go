package manifest

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/zeebo/blake3"
)

// Encoding constants; see the package doc for the byte layout.
const (
	magic       = "PCPM"
	tagEnd      = 0
	tagEntry    = 1
	headerLen   = 4 + 1 + 4
	encBufSize  = 64 << 10
	maxLenField = math.MaxUint16
)

// errEncoderClosed is returned by Add and Close after Close.
var errEncoderClosed = errors.New("manifest: encoder closed")

// Encoder writes the canonical encoding one entry at a time, so that a
// manifest never has to be in memory as a whole: NewEncoder, Add for every
// entry in order, Close. It buffers up to 64 KiB. It refuses what cannot be
// encoded (see Encode) but checks none of the manifest's rules (order,
// parents, limits): Decode or DecodeTable of the result does. A write error
// is sticky: every later Add and Close returns it.
type Encoder struct {
	bw        *bufio.Writer
	chunkSize uint32
	count     uint64
	err       error // sticky write error, or errEncoderClosed
	scratch   [8]byte
}

// NewEncoder returns an Encoder writing to w the encoding of a manifest of
// chunkSize. The header goes into the buffer at once, so w sees it by the
// first flush.
func NewEncoder(w io.Writer, chunkSize uint32) *Encoder {
	enc := &Encoder{bw: bufio.NewWriterSize(w, encBufSize), chunkSize: chunkSize}
	enc.bw.WriteString(magic)
	enc.u8(Version)
	enc.u32(chunkSize)
	return enc
}

func (enc *Encoder) u8(v uint8) { enc.bw.WriteByte(v) }
func (enc *Encoder) u16(v uint16) {
	binary.BigEndian.PutUint16(enc.scratch[:2], v)
	enc.bw.Write(enc.scratch[:2])
}
func (enc *Encoder) u32(v uint32) {
	binary.BigEndian.PutUint32(enc.scratch[:4], v)
	enc.bw.Write(enc.scratch[:4])
}
func (enc *Encoder) u64(v uint64) {
	binary.BigEndian.PutUint64(enc.scratch[:8], v)
	enc.bw.Write(enc.scratch[:8])
}

// Add writes e, including its chunk hashes (len(e.Chunks) must be
// ChunkCount(e.Size, chunkSize) for a file). An entry that cannot be encoded
// is refused with an error wrapping ErrInvalid and nothing is written: the
// encoder stays usable.
func (enc *Encoder) Add(e *Entry) error {
	if enc.err != nil {
		return enc.err
	}
	if err := encodable(e, enc.chunkSize); err != nil {
		return err
	}
	enc.u8(tagEntry)
	enc.u8(uint8(e.Kind))
	enc.u16(uint16(len(e.Path)))
	enc.bw.WriteString(e.Path)
	enc.u32(e.Mode)
	enc.u64(uint64(e.MTime))
	switch e.Kind {
	case KindFile:
		enc.u64(uint64(e.Size))
		for j := range e.Chunks {
			enc.bw.Write(e.Chunks[j][:])
		}
	case KindSymlink:
		enc.u16(uint16(len(e.Target)))
		enc.bw.WriteString(e.Target)
	}
	enc.count++
	// bufio.Writer errors are sticky: an empty Write reports one.
	if _, err := enc.bw.Write(nil); err != nil {
		enc.err = err
		return err
	}
	return nil
}

// Close writes the trailer (the number of entries added) and flushes the
// buffer. It does not close the underlying writer.
func (enc *Encoder) Close() error {
	if enc.err != nil {
		return enc.err
	}
	enc.u8(tagEnd)
	enc.u64(enc.count)
	enc.err = enc.bw.Flush()
	if enc.err != nil {
		return enc.err
	}
	enc.err = errEncoderClosed
	return nil
}

// Encode writes the canonical encoding of m to w through an Encoder: memory
// use does not grow with the manifest. It does not run Validate (call it
// first if m is not trusted), but it refuses what cannot be encoded: an
// unknown kind, a path or target longer than 65535 bytes, a negative size, a
// file whose len(Chunks) != ChunkCount(Size, ChunkSize), or size/target/chunks
// on a kind that has none.
func Encode(w io.Writer, m *Manifest) error {
	enc := NewEncoder(w, m.ChunkSize)
	for i := range m.Entries {
		if err := enc.Add(&m.Entries[i]); err != nil {
			return err
		}
	}
	return enc.Close()
}

// encodable checks the properties without which the byte layout cannot
// represent e faithfully.
func encodable(e *Entry, chunkSize uint32) error {
	if len(e.Path) > maxLenField {
		return fmt.Errorf("%w: path of %d bytes cannot be encoded", ErrInvalid, len(e.Path))
	}
	switch e.Kind {
	case KindFile:
		if e.Target != "" {
			return fmt.Errorf("%w: %q: file with a symlink target", ErrInvalid, e.Path)
		}
		if e.Size < 0 {
			return fmt.Errorf("%w: %q: negative size", ErrInvalid, e.Path)
		}
		if chunkSize == 0 {
			return fmt.Errorf("%w: chunk size 0", ErrInvalid)
		}
		if int64(len(e.Chunks)) != ChunkCount(e.Size, chunkSize) {
			return fmt.Errorf("%w: %q: %d chunk hashes for size %d, want %d",
				ErrInvalid, e.Path, len(e.Chunks), e.Size, ChunkCount(e.Size, chunkSize))
		}
	case KindDir, KindSymlink:
		if e.Size != 0 || len(e.Chunks) != 0 {
			return fmt.Errorf("%w: %q: %s with size or chunks", ErrInvalid, e.Path, e.Kind)
		}
		if e.Kind == KindDir && e.Target != "" {
			return fmt.Errorf("%w: %q: dir with a symlink target", ErrInvalid, e.Path)
		}
		if len(e.Target) > maxLenField {
			return fmt.Errorf("%w: %q: target of %d bytes cannot be encoded", ErrInvalid, e.Path, len(e.Target))
		}
	default:
		return fmt.Errorf("%w: %q: unknown kind %d", ErrInvalid, e.Path, uint8(e.Kind))
	}
	return nil
}

// Root returns the BLAKE3-256 hash of m's canonical encoding, computed by
// streaming Encode into the hasher. For a manifest that cannot be encoded
// (see Encode) it returns the zero Hash; use RootErr to see why.
func (m *Manifest) Root() Hash {
	h, _ := m.RootErr()
	return h
}

// RootErr is Root that reports why a manifest cannot be encoded.
func (m *Manifest) RootErr() (Hash, error) {
	hasher := blake3.New()
	if err := Encode(hasher, m); err != nil {
		return Hash{}, err
	}
	var h Hash
	hasher.Sum(h[:0])
	return h, nil
}
