package manifest

import (
	"errors"
	"fmt"
)

// Version is the manifest encoding version written in every header.
const Version = 2

// DefaultChunkSize is the chunk size used when WalkOptions.ChunkSize is zero.
// See doc.go for the measurement behind it.
const DefaultChunkSize = 1 << 20

// HashSize is the size of a BLAKE3-256 digest.
const HashSize = 32

// Hash is a BLAKE3-256 digest: of one chunk, or (for a root) of a manifest's
// canonical encoding.
type Hash [HashSize]byte

// String returns the hash in lower-case hex.
func (h Hash) String() string { return fmt.Sprintf("%x", h[:]) }

// Short returns the first 8 bytes in hex, for display.
func (h Hash) Short() string { return fmt.Sprintf("%x", h[:8]) }

// Kind is the type of an entry.
type Kind uint8

const (
	KindFile    Kind = 1
	KindDir     Kind = 2
	KindSymlink Kind = 3
)

func (k Kind) String() string {
	switch k {
	case KindFile:
		return "file"
	case KindDir:
		return "dir"
	case KindSymlink:
		return "symlink"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Entry is one path of a transfer.
type Entry struct {
	// Path is slash-separated, relative and clean: no "..", no leading "/",
	// no empty, "." or NUL-containing components.
	Path string
	Kind Kind
	// Mode holds permission bits only (0o777 plus setuid/setgid/sticky
	// stripped: the receiver never applies them).
	Mode uint32
	// MTime is the modification time in Unix nanoseconds.
	MTime int64
	// Size is the file size in bytes; 0 for dirs and symlinks.
	Size int64
	// Target is the symlink target (relative, inside the tree); empty otherwise.
	Target string
	// Chunks holds one BLAKE3 hash per chunk: ceil(Size/ChunkSize) of them.
	Chunks []Hash
}

// Manifest describes a transfer in memory (tests and small tools; see Table
// for one kept on disk). Entries are sorted by Path in component order
// (ComparePaths), strictly increasing, and every entry's parent directory is
// itself an entry of kind KindDir (top-level entries have no parent).
type Manifest struct {
	ChunkSize uint32
	Entries   []Entry
}

// Limits bound what Decode and Validate accept. The zero value means
// DefaultLimits.
type Limits struct {
	MaxEntries   int64 // number of entries
	MaxFileSize  int64 // bytes in one file
	MaxTotalSize int64 // bytes in all files
	MaxPathLen   int   // bytes in one path
}

// DefaultLimits are generous for real trees and small enough that a hostile
// peer cannot make a receiver allocate without bound.
var DefaultLimits = Limits{
	MaxEntries:   10_000_000,
	MaxFileSize:  1 << 44, // 16 TiB
	MaxTotalSize: 1 << 50, // 1 PiB
	MaxPathLen:   4096,
}

// Chunk size bounds for any manifest.
const (
	MinChunkSize = 64 << 10
	MaxChunkSize = 16 << 20
)

// Errors. Validation failures wrap ErrInvalid; decoding failures of the byte
// format wrap ErrMalformed; an exceeded bound wraps ErrTooLarge.
var (
	ErrInvalid   = errors.New("manifest: invalid")
	ErrMalformed = errors.New("manifest: malformed encoding")
	ErrTooLarge  = errors.New("manifest: exceeds limits")
	// ErrSymlinkEscapes marks a symlink whose target is absolute or
	// resolves outside the tree. It wraps ErrInvalid.
	ErrSymlinkEscapes = fmt.Errorf("%w: symlink target escapes the tree", ErrInvalid)
)

// ChunkCount returns how many chunks a file of size bytes has.
func ChunkCount(size int64, chunkSize uint32) int64 {
	if size <= 0 {
		return 0
	}
	return (size + int64(chunkSize) - 1) / int64(chunkSize)
}

// ChunkLen returns the length in bytes of chunk i of a file of size bytes.
func ChunkLen(size int64, chunkSize uint32, i int64) int64 {
	off := i * int64(chunkSize)
	if rest := size - off; rest < int64(chunkSize) {
		return rest
	}
	return int64(chunkSize)
}

// TotalSize returns the total bytes of all files.
func (m *Manifest) TotalSize() int64 {
	var n int64
	for i := range m.Entries {
		n += m.Entries[i].Size
	}
	return n
}

// TotalChunks returns the total number of chunks of all files.
func (m *Manifest) TotalChunks() int64 {
	var n int64
	for i := range m.Entries {
		n += int64(len(m.Entries[i].Chunks))
	}
	return n
}

// Files returns the number of regular files.
func (m *Manifest) Files() int {
	n := 0
	for i := range m.Entries {
		if m.Entries[i].Kind == KindFile {
			n++
		}
	}
	return n
}
