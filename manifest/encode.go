package manifest

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"lukechampine.com/blake3"
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

// Encode writes the canonical encoding of m to w, streaming through a
// bufio.Writer: memory use does not grow with the manifest. It does not run
// Validate (call it first if m is not trusted), but it refuses what cannot be
// encoded: an unknown kind, a path or target longer than 65535 bytes, a
// negative size, a file whose len(Chunks) != ChunkCount(Size, ChunkSize), or
// size/target/chunks on a kind that has none.
func Encode(w io.Writer, m *Manifest) error {
	bw := bufio.NewWriterSize(w, encBufSize)
	if err := encode(bw, m); err != nil {
		return err
	}
	return bw.Flush()
}

func encode(bw *bufio.Writer, m *Manifest) error {
	var scratch [8]byte
	u8 := func(v uint8) { bw.WriteByte(v) }
	u16 := func(v uint16) { binary.BigEndian.PutUint16(scratch[:2], v); bw.Write(scratch[:2]) }
	u32 := func(v uint32) { binary.BigEndian.PutUint32(scratch[:4], v); bw.Write(scratch[:4]) }
	u64 := func(v uint64) { binary.BigEndian.PutUint64(scratch[:8], v); bw.Write(scratch[:8]) }

	bw.WriteString(magic)
	u8(Version)
	u32(m.ChunkSize)
	for i := range m.Entries {
		e := &m.Entries[i]
		if err := encodable(e, m.ChunkSize); err != nil {
			return err
		}
		u8(tagEntry)
		u8(uint8(e.Kind))
		u16(uint16(len(e.Path)))
		bw.WriteString(e.Path)
		u32(e.Mode)
		u64(uint64(e.MTime))
		switch e.Kind {
		case KindFile:
			u64(uint64(e.Size))
			for j := range e.Chunks {
				bw.Write(e.Chunks[j][:])
			}
		case KindSymlink:
			u16(uint16(len(e.Target)))
			bw.WriteString(e.Target)
		}
		// bufio.Writer errors are sticky: an empty Write reports one, so a
		// dead writer stops the loop early.
		if _, err := bw.Write(nil); err != nil {
			return err
		}
	}
	u8(tagEnd)
	u64(uint64(len(m.Entries)))
	_, err := bw.Write(nil)
	return err
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
	hasher := blake3.New(HashSize, nil)
	if err := Encode(hasher, m); err != nil {
		return Hash{}, err
	}
	var h Hash
	hasher.Sum(h[:0])
	return h, nil
}
