package engine

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"sync/atomic"

	"github.com/pcp-p2p/pcp/engine/swarm"
	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/manifest"
	"github.com/pcp-p2p/pcp/store"
)

// seedChunks reads the chunks a receiver holds, for serving them to later
// receivers of the same offer (re-seeding, issue 14). A chunk is held when
// the resume log records it: its file is complete (in place at the
// destination) or the chunk is done in the file's staging copy. Once the
// transfer finished (log nil) every file is in place. Every read goes
// through the destination's os.Root, and every chunk read is hashed again
// and served only if it still matches the manifest: a file the user edited
// since, or a staging file someone replaced, is never served (ErrNotHeld).
// Files that were already in place before the transfer began are not in
// the log and are not offered; that only leaves them to other sources.
type seedChunks struct {
	t     *manifest.Table
	root  manifest.Hash
	cs    uint32
	dest  *os.Root
	stage string                          // the staging directory's name in dest
	log   atomic.Pointer[store.ResumeLog] // nil once the transfer finished
}

// held returns the set of chunks the receiver holds, by global index.
func (s *seedChunks) held(idx *swarm.Index) (*swarm.Set, error) {
	set := swarm.NewSet(idx.Total())
	addFile := func(e uint32) error {
		ent, err := s.t.Entry(int(e))
		if err != nil {
			return err
		}
		if ent.Kind != manifest.KindFile {
			return nil
		}
		for c := range manifest.ChunkCount(ent.Size, s.cs) {
			if i, ok := idx.Global(wire.Ref{Entry: e, Chunk: uint32(c)}); ok {
				set.Add(i)
			}
		}
		return nil
	}
	log := s.log.Load()
	if log == nil {
		for e := range s.t.Len() {
			if err := addFile(uint32(e)); err != nil {
				return nil, err
			}
		}
		return set, nil
	}
	if err := log.CompleteFiles(s.root, addFile); err != nil {
		return nil, err
	}
	err := log.Done(s.root, func(r store.ChunkRef) error {
		if i, ok := idx.Global(wire.Ref{Entry: r.Entry, Chunk: r.Chunk}); ok {
			set.Add(i)
		}
		return nil
	})
	return set, err
}

// read reads chunk ref into buf (at least the chunk size) and returns it,
// verified; ErrNotHeld when the receiver does not hold it, or no longer
// holds it as the manifest says.
func (s *seedChunks) read(ref wire.Ref, buf []byte) ([]byte, error) {
	e, err := s.t.Entry(int(ref.Entry))
	if err != nil {
		return nil, err
	}
	if e.Kind != manifest.KindFile || int64(ref.Chunk) >= manifest.ChunkCount(e.Size, s.cs) {
		return nil, fmt.Errorf("%w: chunk %v out of range", wire.ErrBadRequest, ref)
	}
	// A file is staged until it is complete, then in place; it may move
	// between the check and the read, so the other name is tried too.
	names := []string{e.Path, path.Join(s.stage, strconv.Itoa(int(ref.Entry)))}
	if log := s.log.Load(); log != nil {
		// An error (the record just finished and went) leaves the order.
		if complete, err := log.IsComplete(s.root, ref.Entry); err == nil && !complete {
			names[0], names[1] = names[1], names[0]
		}
	}
	n := manifest.ChunkLen(e.Size, s.cs, int64(ref.Chunk))
	b := buf[:n]
	err = s.readAt(names[0], b, int64(ref.Chunk)*int64(s.cs))
	if err != nil {
		err = s.readAt(names[1], b, int64(ref.Chunk)*int64(s.cs))
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s chunk %d: %v", wire.ErrNotHeld, e.Path, ref.Chunk, err)
	}
	want, err := s.t.ChunkHash(int(ref.Entry), int64(ref.Chunk))
	if err != nil {
		return nil, err
	}
	if manifest.HashChunk(b) != want {
		return nil, fmt.Errorf("%w: %s chunk %d changed since it was verified", wire.ErrNotHeld, e.Path, ref.Chunk)
	}
	return b, nil
}

// readAt reads len(b) bytes at off of the regular file name in dest.
func (s *seedChunks) readAt(name string, b []byte, off int64) error {
	f, err := s.dest.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return errors.New("not a regular file")
	}
	_, err = f.ReadAt(b, off)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}
