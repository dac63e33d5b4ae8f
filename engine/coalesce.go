package engine

import "io"

// coalesceSize is the most a coalescer holds: one yamux data frame.
const coalesceSize = yamuxMessage

// coalescer gathers the small frames a data stream sends back to back into
// one write. Each write to a libp2p stream is a yamux frame, a TLS record
// and a write(2) of its own; a tree of 4 KiB files made the sender's
// syscalls one per chunk (10,000 writes for 10k x 4 KiB, and as many reads
// at the receiver). Frames over a quarter of coalesceSize go out at once,
// after what is held; the server flushes after every Request's chunks and
// before an Error frame, and before it waits for a chunk slot or the rate
// limit (flushHeld), so no frame served waits for work that may not come.
type coalescer struct {
	w   io.Writer
	buf []byte // nil until the first small frame
}

func (c *coalescer) Write(p []byte) (int, error) {
	if len(p) > coalesceSize/4 {
		if err := c.Flush(); err != nil {
			return 0, err
		}
		return c.w.Write(p)
	}
	if len(c.buf)+len(p) > coalesceSize {
		if err := c.Flush(); err != nil {
			return 0, err
		}
	}
	if c.buf == nil {
		c.buf = make([]byte, 0, coalesceSize)
	}
	c.buf = append(c.buf, p...)
	return len(p), nil
}

// flushHeld writes out what w holds if it is a coalescer: the server calls
// it before it waits (for a chunk slot, for the rate limit), so that frames
// already served are not held up behind the wait.
func flushHeld(w io.Writer) error {
	if c, ok := w.(*coalescer); ok {
		return c.Flush()
	}
	return nil
}

// Flush writes what is held.
func (c *coalescer) Flush() error {
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.w.Write(c.buf)
	c.buf = c.buf[:0]
	return err
}
