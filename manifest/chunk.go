package manifest

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// HashChunk returns the BLAKE3-256 hash of one chunk's bytes, computed on
// the calling goroutine (sum256).
func HashChunk(data []byte) Hash {
	return sum256(data)
}

// ErrSizeMismatch reports that a reader yielded fewer or more bytes than the
// size it was hashed as (typically: the file changed while being read).
var ErrSizeMismatch = errors.New("manifest: data size differs from expected size")

// HashChunks reads exactly size bytes from r in chunks of chunkSize and
// returns one hash per chunk (ChunkCount(size, chunkSize) of them). It uses a
// single buffer of min(size, chunkSize) bytes. progress, if not nil, is called
// after each chunk with that chunk's length (a delta, not a running total).
// It fails with an error wrapping ErrSizeMismatch if r ends early or has more
// than size bytes.
func HashChunks(ctx context.Context, r io.Reader, size int64, chunkSize uint32, progress func(n int64)) ([]Hash, error) {
	buf := make([]byte, min(max(size, 0), int64(chunkSize)))
	return hashChunksBuf(ctx, r, size, chunkSize, buf, progress)
}

// hashChunksBuf is HashChunks with a caller-supplied buffer of at least
// min(size, chunkSize) bytes, so walkers can reuse one per worker.
func hashChunksBuf(ctx context.Context, r io.Reader, size int64, chunkSize uint32, buf []byte, progress func(n int64)) ([]Hash, error) {
	if err := checkChunkSize(chunkSize); err != nil {
		return nil, err
	}
	if size < 0 {
		return nil, fmt.Errorf("%w: negative size %d", ErrInvalid, size)
	}
	n := ChunkCount(size, chunkSize)
	var hashes []Hash // nil for an empty file, as Decode returns it
	if n > 0 {
		hashes = make([]Hash, 0, n)
	}
	for i := range n {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		l := ChunkLen(size, chunkSize, i)
		b := buf[:l]
		if _, err := io.ReadFull(r, b); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, fmt.Errorf("%w: ended before %d bytes", ErrSizeMismatch, size)
			}
			return nil, err
		}
		hashes = append(hashes, sum256(b))
		if progress != nil {
			progress(l)
		}
	}
	// There must be nothing more.
	var one [1]byte
	for range 100 {
		k, err := r.Read(one[:])
		if k > 0 {
			return nil, fmt.Errorf("%w: more than %d bytes", ErrSizeMismatch, size)
		}
		if err == io.EOF {
			return hashes, nil
		}
		if err != nil {
			return nil, err
		}
	}
	return nil, io.ErrNoProgress
}

// checkChunkSize reports whether cs is a power of two within
// MinChunkSize..MaxChunkSize.
func checkChunkSize(cs uint32) error {
	if cs < MinChunkSize || cs > MaxChunkSize || cs&(cs-1) != 0 {
		return fmt.Errorf("%w: chunk size %d is not a power of two in [%d, %d]", ErrInvalid, cs, MinChunkSize, MaxChunkSize)
	}
	return nil
}
