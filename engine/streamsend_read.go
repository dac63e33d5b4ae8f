package engine

import (
	"context"
	"errors"
	"io"
)

// readChunk is one chunk read, or the end (data nil: err nil at EOF).
type readChunk struct {
	data []byte
	err  error
}

// chunkReader reads chunks in its own goroutine, so that a read blocked on
// an input that never ends does not hold up Send's return: the goroutine
// ends with the input (the process's standard input ends with it). Two
// buffers circulate: one read while the other is hashed and kept.
type chunkReader struct {
	out  chan readChunk
	free chan []byte
}

func readChunks(ctx context.Context, in io.Reader, cs int) *chunkReader {
	r := &chunkReader{out: make(chan readChunk), free: make(chan []byte, 2)}
	r.free <- make([]byte, cs)
	r.free <- make([]byte, cs)
	go func() {
		for {
			var buf []byte
			select {
			case buf = <-r.free:
			case <-ctx.Done():
				return
			}
			n, err := io.ReadFull(in, buf)
			c := readChunk{data: buf[:n]}
			switch {
			case errors.Is(err, io.EOF):
				c.data = nil
			case errors.Is(err, io.ErrUnexpectedEOF):
				// the last chunk; EOF follows
			case err != nil:
				c = readChunk{err: err}
			}
			if !r.send(ctx, c) || c.data == nil {
				return
			}
			if n < cs {
				r.send(ctx, readChunk{})
				return
			}
		}
	}()
	return r
}

func (r *chunkReader) send(ctx context.Context, c readChunk) bool {
	select {
	case r.out <- c:
		return true
	case <-ctx.Done():
		return false
	}
}
