package engine

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/manifest"
)

// A stream offer (pcp send -): standard input, read while receivers fetch
// it (engine/wire's doc, "Streams of standard input"). One goroutine reads
// the input a chunk at a time; each chunk is hashed, kept (a chunkKeeper:
// the spool on disk, or with NoSpool a ring of chunks in memory) and then
// published, which wakes every announcement stream waiting for more
// (streamserve.go). At the end of the input the size and root are
// published too, and StreamEnd follows the last announcement.

// DefaultStreamName is the name of a stream offer without StreamName.
const DefaultStreamName = "stdin"

// streamTestHooks are what only this package's tests set for a stream.
type streamTestHooks struct {
	spoolDir  string                           // the spool's directory instead of the state directory
	freeSpace func(dir string) (int64, bool)   // replaces freeSpace
	waitEvery time.Duration                    // replaces wire.WaitEvery on announcement streams
	onPut     func(i uint64, keep chunkKeeper) // sees each chunk kept, before it is published
	ringSlots int                              // replaces ringSlots(chunk size)
	ringWait  func()                           // called when the ring's reader waits for room
}

// chunkKeeper holds a stream's chunks once read, for serving.
type chunkKeeper interface {
	// put keeps chunk i (its bytes and hash); chunks come in order. It
	// may wait (ctx) for room, or fail for want of it (ErrSpoolFull).
	put(ctx context.Context, i uint64, data []byte, h manifest.Hash) error
	// hashes fills into with the hashes of chunks first, first+1, ...;
	// wire.ErrGone if any is no longer held.
	hashes(first uint64, into []manifest.Hash) error
	// read copies chunk i into buf (its length) and returns its hash;
	// wire.ErrGone if it is no longer held.
	read(i uint64, buf []byte) (manifest.Hash, error)
	// served records that chunk i was written to a receiver once.
	served(i uint64)
	close() error
}

// streamSource is a stream offer's state, shared by every session.
type streamSource struct {
	info      wire.StreamInfo
	cs        uint32
	keep      chunkKeeper
	waitEvery time.Duration
	onPut     func(uint64, chunkKeeper)

	mu     sync.Mutex
	chunks uint64          // chunks read and kept: announceable
	size   uint64          // bytes read and kept
	end    *wire.StreamEnd // set at the end of the input
	more   chan struct{}   // closed (and replaced) whenever the above change
	// streams are the announcement streams open per session, bounded by
	// maxAnnounceStreams.
	streams map[[32]byte]int
}

// openStreamOffer makes the stream offer of opts (nil without Stdin), its
// spool in the state directory.
func openStreamOffer(opts SendOptions) (*streamSource, error) {
	if opts.Stdin == nil {
		return nil, nil
	}
	if len(opts.Paths) > 0 || opts.Text != "" {
		return nil, errors.New("send standard input, a text or paths: one of them")
	}
	return newStreamSource(opts, tempDirFor(opts.HashCachePath))
}

// close removes what the stream kept (the spool's files).
func (st *streamSource) close() error { return st.keep.close() }

// newStreamSource checks a stream offer's options and makes its keeper
// (for a spool: the files, created in dir).
func newStreamSource(opts SendOptions, dir string) (*streamSource, error) {
	name := opts.StreamName
	if name == "" {
		name = DefaultStreamName
	}
	cs := opts.ChunkSize
	if cs == 0 {
		cs = manifest.DefaultChunkSize
	}
	info := wire.StreamInfo{ChunkSize: cs, Name: name}
	if !opts.NoSpool {
		info.Flags = wire.StreamSpooled
	}
	if _, err := rand.Read(info.ID[:]); err != nil {
		return nil, err
	}
	if err := checkStreamInfo(info); err != nil {
		return nil, err
	}
	st := &streamSource{info: info, cs: cs, more: make(chan struct{}), streams: map[[32]byte]int{},
		waitEvery: opts.stream.waitEvery, onPut: opts.stream.onPut}
	if st.waitEvery <= 0 {
		st.waitEvery = wire.WaitEvery
	}
	if opts.NoSpool {
		slots := opts.stream.ringSlots
		if slots <= 0 {
			slots = ringSlots(cs)
		}
		ring := newChunkRing(slots)
		ring.onWait = opts.stream.ringWait
		st.keep = ring
		return st, nil
	}
	if opts.stream.spoolDir != "" {
		dir = opts.stream.spoolDir
	}
	free := opts.stream.freeSpace
	if free == nil {
		free = freeSpace
	}
	sp, err := newSpool(dir, info.ID, cs, opts.SpoolMax, free)
	if err != nil {
		return nil, err
	}
	st.keep = sp
	return st, nil
}

// checkStreamInfo reports whether a receiver would take info as it is:
// the checks of wire.DecodeStreamInfo (a valid chunk size, a name that is
// one path component).
func checkStreamInfo(info wire.StreamInfo) error {
	if err := CheckStreamName(info.Name); err != nil {
		return err
	}
	if _, err := wire.DecodeStreamInfo(info.Append(nil)); err != nil {
		return fmt.Errorf("not a stream a receiver takes: %w", err)
	}
	return nil
}

// CheckStreamName reports whether name may be a stream's name
// (SendOptions.StreamName): a file name a receiver takes, that is one
// valid path component of at most wire.MaxStreamName bytes. cmd checks
// --name with it.
func CheckStreamName(name string) error {
	switch {
	case name == "":
		return errors.New("the name is empty")
	case len(name) > wire.MaxStreamName:
		return fmt.Errorf("the name has %d bytes, more than %d", len(name), wire.MaxStreamName)
	case strings.Contains(name, "/"):
		return errors.New(`a file name, not a path: no "/"`)
	}
	if err := manifest.ValidatePath(name); err != nil {
		return fmt.Errorf("not a file name a receiver takes: %s", strings.TrimPrefix(err.Error(), "manifest: "))
	}
	if _, err := wire.DecodeStreamInfo(wire.StreamInfo{ChunkSize: manifest.DefaultChunkSize, Name: name}.Append(nil)); err != nil {
		return fmt.Errorf("not a file name a receiver takes: %w", err)
	}
	return nil
}

// state is a snapshot: chunks and bytes published, the end if reached,
// and a channel closed when any of them changes.
func (st *streamSource) state() (chunks, size uint64, end *wire.StreamEnd, more <-chan struct{}) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.chunks, st.size, st.end, st.more
}

// chunkLen is the length of published chunk i: full, but for the last.
func (st *streamSource) chunkLen(i uint64) (int, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if i >= st.chunks {
		return 0, false
	}
	return int(min(uint64(st.cs), st.size-i*uint64(st.cs))), true
}

// publish makes the next chunk (n bytes) announceable and wakes the waiting.
func (st *streamSource) publish(n int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.chunks++
	st.size += uint64(n)
	close(st.more)
	st.more = make(chan struct{})
}

func (st *streamSource) finish(end wire.StreamEnd) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.end = &end
	close(st.more)
	st.more = make(chan struct{})
}

// run reads in to its end: each chunk hashed, kept, then published. It
// returns nil at the end of the input, or why it stopped: a read error,
// a full spool, ctx.
func (st *streamSource) run(ctx context.Context, in io.Reader) error {
	rootHash, err := manifest.NewStreamHasher(st.cs)
	if err != nil {
		return err
	}
	chunks := readChunks(ctx, in, int(st.cs))
	var read uint64
	for i := uint64(0); ; i++ {
		var c readChunk
		select {
		case c = <-chunks.out:
		case <-ctx.Done():
			return ctx.Err()
		}
		if c.err != nil {
			return fmt.Errorf("reading standard input: %w", c.err)
		}
		if c.data == nil {
			root, err := rootHash.Sum(read)
			if err != nil {
				return err
			}
			st.finish(wire.StreamEnd{Size: read, Root: root})
			return nil
		}
		if i >= 1<<32 { // chunk indexes are u32 on the wire
			return fmt.Errorf("standard input is longer than 2^32 chunks of %d bytes", st.cs)
		}
		h := manifest.HashChunk(c.data)
		rootHash.Add(h)
		if err := st.keep.put(ctx, i, c.data, h); err != nil {
			return err
		}
		if st.onPut != nil {
			st.onPut(i, st.keep)
		}
		n := len(c.data)
		chunks.free <- c.data[:cap(c.data)] // never blocks: it came from there
		read += uint64(n)
		st.publish(n)
	}
}
