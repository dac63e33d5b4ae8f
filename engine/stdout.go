package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sync"

	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/manifest"
)

// Receiving to a writer (ReceiveOptions.Stdout, pcp receive --stdout).
//
// The offer must be one regular file. It is received as any file is, into
// a private directory in the state directory (stdoutDir: stable per root,
// so that a new run finds what an interrupted one verified through the
// resume log). Beside the transfer an emitter copies the file's verified
// contiguous prefix to the writer, in order: the committer tells it which
// chunks are logged (emitter.verified), and it reads them back from the
// file one chunk at a time, hashes them again and writes them. Memory is
// one chunk; the disk holds the whole file until the end, when the private
// directory is removed (it is kept when the receive fails).
//
// The writer always gets the file from byte 0: a new run after an
// interruption writes it all again (the output is new), reading from disk
// what was verified before and fetching only what was not.

// ErrOutputClosed: writing to ReceiveOptions.Stdout failed (a closed pipe).
var ErrOutputClosed = errors.New("the output was closed")

// NotOneFileError: ReceiveOptions.Stdout was set and the offer is not one
// regular file. It is declined (errors.Is ErrDeclined): the sender keeps
// offering.
type NotOneFileError struct {
	Files  int  // regular files in the offer
	Nested bool // one file, but inside a directory (or with other entries)
}

func (e *NotOneFileError) Error() string {
	if e.Nested {
		return "standard output takes an offer of one file; this offer has one file in a directory"
	}
	return fmt.Sprintf("standard output takes an offer of one file; this offer has %d files", e.Files)
}

func (e *NotOneFileError) Is(target error) bool { return target == ErrDeclined }

// checkOneFile holds an offer for Stdout to one regular file at the top level.
func checkOneFile(t *manifest.Table) error {
	if t.Len() == 1 {
		if e, err := t.Entry(0); err != nil {
			return err
		} else if e.Kind == manifest.KindFile {
			return nil
		}
	}
	files := int(t.Files())
	return &NotOneFileError{Files: files, Nested: files == 1}
}

// forPrivateDest fits o to an offer received into a directory of pcp's own
// (a message, or a file for Stdout): no answer about the user's
// destination applies, and the offer is taken whole.
func (o *ReceiveOptions) forPrivateDest() {
	o.Overwrite, o.SkipExisting, o.Resolve, o.Select = false, false, nil, Selection{}
}

// stdoutDir is the private directory of a receive to Stdout.
func stdoutDir(stateDir string, root manifest.Hash) string {
	return filepath.Join(stateDir, "stdout-"+root.String()[:16])
}

// stdoutDest makes the private directory of a receive to Stdout and opens
// it. Receive removes it once the receive succeeded, and only then.
func stdoutDest(stateDir string, root manifest.Hash) (dir string, dest *os.Root, err error) {
	dir = stdoutDir(stateDir, root)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, fmt.Errorf("state directory: %w", err)
	}
	dest, err = os.OpenRoot(dir)
	return dir, dest, err
}

// emitter writes the verified prefix of entry 0 to w (see above).
type emitter struct {
	r    *receiver
	w    io.Writer
	e    manifest.Entry
	n    int64 // chunks
	wake chan struct{}

	mu   sync.Mutex
	have []uint64 // chunks verified on disk, one bit each
}

func newEmitter(r *receiver, w io.Writer) (*emitter, error) {
	e, err := r.t.Entry(0)
	if err != nil {
		return nil, err
	}
	m := &emitter{r: r, w: w, e: e, n: manifest.ChunkCount(e.Size, r.cs), wake: make(chan struct{}, 1)}
	m.have = make([]uint64, (m.n+63)/64)
	switch r.plan.state[0] {
	case stFresh:
	case stResume:
		done, err := r.rlog.DoneChunks(r.root, 0)
		if err != nil {
			return nil, err
		}
		copy(m.have, done)
	default: // in place already: every chunk is on disk
		for c := int64(0); c < m.n; c++ {
			m.have[c/64] |= 1 << (c % 64)
		}
	}
	return m, nil
}

// verified is the committer's hook: refs are on disk and logged.
func (m *emitter) verified(refs []wire.Ref) {
	m.mu.Lock()
	for _, ref := range refs {
		if ref.Entry == 0 && int64(ref.Chunk) < m.n {
			m.have[ref.Chunk/64] |= 1 << (ref.Chunk % 64)
		}
	}
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

func (m *emitter) ready(c int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return isSet(m.have, c)
}

// open opens the file where it is: the staging file, or the file in
// place once the committer renamed it (an open descriptor survives the
// rename).
func (m *emitter) open() (*os.File, error) {
	f, err := m.r.dest.Open(path.Join(m.r.stage, "0"))
	if errors.Is(err, fs.ErrNotExist) {
		f, err = m.r.dest.Open(m.e.Path)
	}
	return f, err
}

// run writes every chunk in order as it becomes verified, until the file
// is written or ctx ends.
func (m *emitter) run(ctx context.Context) error {
	var f *os.File
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	buf := make([]byte, m.r.cs)
	for c := int64(0); c < m.n; {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !m.ready(c) {
			select {
			case <-m.wake:
			case <-ctx.Done():
				return ctx.Err()
			}
			continue
		}
		if f == nil {
			var err error
			if f, err = m.open(); err != nil {
				return fmt.Errorf("%w: %s: %v", errWrite, m.e.Path, err)
			}
		}
		b := buf[:manifest.ChunkLen(m.e.Size, m.r.cs, c)]
		if _, err := f.ReadAt(b, c*int64(m.r.cs)); err != nil {
			return fmt.Errorf("%w: reading back %s: %v", errWrite, m.e.Path, err)
		}
		// Hashed again: only verified bytes reach the writer, whatever
		// happened on the disk since (or in an earlier run).
		want, err := m.r.t.ChunkHash(0, c)
		if err != nil {
			return err
		}
		if manifest.HashChunk(b) != want {
			return fmt.Errorf("%w: %s chunk %d changed on disk after it was verified", ErrVerifyFailed, m.e.Path, c)
		}
		if _, err := m.w.Write(b); err != nil {
			return fmt.Errorf("%w: %v", ErrOutputClosed, err)
		}
		c++
	}
	return nil
}

// startStdout starts the emitter when the receive writes to Stdout. The
// returned context ends the transfer if the emitter fails; finish takes
// the transfer's result, waits for the emitter (every byte written) and
// returns the receive's error.
func (r *receiver) startStdout(ctx context.Context) (context.Context, func(error) error, error) {
	if r.opts.Stdout == nil {
		return ctx, func(err error) error { return err }, nil
	}
	m, err := newEmitter(r, r.opts.Stdout)
	if err != nil {
		return nil, nil, err
	}
	r.emit = m
	rctx, cancelRun := context.WithCancelCause(ctx)
	ectx, stopEmit := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		err := m.run(ectx)
		if err != nil {
			cancelRun(err)
		}
		done <- err
	}()
	return rctx, func(runErr error) error {
		if runErr != nil {
			stopEmit()
		}
		eerr := <-done
		stopEmit()
		cancelRun(nil)
		switch {
		case eerr != nil && !errors.Is(eerr, context.Canceled):
			return eerr
		case runErr != nil:
			return runErr
		}
		return eerr
	}, nil
}
