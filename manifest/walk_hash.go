package manifest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// The hash workers of Walk's phase 2: each takes files from the walker,
// fills in their chunk hashes from the cache or by reading them, and hands
// them back to the writer by closing the item's done channel.

// hash is one hash worker.
func (w *walker) hash(ctx context.Context) error {
	var bufs [][]byte // chunk buffers, reused: one, or Workers for a large file
	for it := range w.work {
		if err := w.hashItem(ctx, it, &bufs); err != nil {
			return err
		}
		close(it.done)
	}
	return nil
}

// hashItem fills it.e.Chunks from the cache or by hashing the file. If the
// file's size or mtime changed since it was lstat'ed, the entry takes the
// values of the version that was hashed; if it changes while being hashed,
// it fails. A file gone before it is opened sets it.skip.
func (w *walker) hashItem(ctx context.Context, it *walkItem, bufs *[][]byte) error {
	cs, pr := w.cs, w.pr
	ino, dev := fileIdent(it.local, it.info)
	key := FileKey{Path: it.local, Size: it.e.Size, MTime: it.e.MTime, Inode: ino, Dev: dev, ChunkSize: cs}
	if w.cache != nil {
		if hs, ok := w.cache.Lookup(key); ok && int64(len(hs)) == ChunkCount(key.Size, cs) {
			it.e.Chunks = hs
			pr.done(1, it.e.Size, it.local)
			return nil
		}
	}
	f, err := openNoFollow(it.local, !strings.Contains(it.e.Path, "/"))
	if errors.Is(err, errNotFollowed) {
		return fmt.Errorf("%w: %s is no longer a regular file", ErrFileChanged, it.local)
	}
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) { // gone, or unreadable: left out
		pr.grow(-1, -key.Size)
		it.skip = err
		return nil
	}
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	defer f.Close()
	before, err := f.Stat()
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	if !before.Mode().IsRegular() {
		return fmt.Errorf("%w: %s is no longer a regular file", ErrFileChanged, it.local)
	}
	if before.Size() != key.Size || before.ModTime().UnixNano() != key.MTime {
		pr.grow(0, before.Size()-key.Size)
		key.Size, key.MTime = before.Size(), before.ModTime().UnixNano()
		key.Inode, key.Dev = fileIdent(it.local, before)
		it.e.Size, it.e.MTime = key.Size, key.MTime
	}
	k := 1
	if ChunkCount(key.Size, cs) >= parallelMinChunks {
		k = max(w.workers, 1)
	}
	for len(*bufs) < k {
		*bufs = append(*bufs, nil)
	}
	need := min(key.Size, int64(cs))
	for j := range k {
		if int64(len((*bufs)[j])) < need {
			(*bufs)[j] = make([]byte, need)
		}
	}
	var hs []Hash
	progress := func(n int64) { pr.done(0, n, it.local) }
	if k > 1 {
		hs, err = hashChunksAt(ctx, f, key.Size, cs, (*bufs)[:k], progress)
	} else {
		hs, err = hashChunksBuf(ctx, f, key.Size, cs, (*bufs)[0], progress)
	}
	if errors.Is(err, ErrSizeMismatch) {
		return fmt.Errorf("%w: %s: %w", ErrFileChanged, it.local, err)
	}
	if err != nil {
		return fmt.Errorf("manifest: hashing %s: %w", it.local, err)
	}
	after, err := f.Stat()
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	if after.Size() != key.Size || after.ModTime().UnixNano() != key.MTime {
		return fmt.Errorf("%w: %s", ErrFileChanged, it.local)
	}
	it.e.Chunks = hs
	if w.cache != nil {
		w.cache.Store(key, hs)
	}
	pr.done(1, 0, it.local)
	return nil
}
