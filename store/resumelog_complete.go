package store

// Complete files: entries renamed into place, kept as merged intervals.

import (
	"bytes"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/pcp-p2p/pcp/manifest"
)

// MarkFileComplete records that entries were renamed into place with their
// mode and mtime applied, in one write transaction, and drops their done
// sets. A file not complete before now counts whole: its chunks not yet
// counted are added to DoneChunks and DoneBytes, so DoneBytes == TotalBytes
// once every file is complete. Complete files are kept as intervals of
// entries, merged on insert; so that a tree completed in order stays one
// interval, an interval also takes in the directories and symlinks (up to 64
// in a row) between two runs of complete files. So for an entry that is not
// a regular file, IsComplete and CompleteFiles mean nothing. An entry past
// the manifest's end fails the batch with ErrBadRef. Begin must have run in
// this handle (else ErrNotBegun).
func (l *ResumeLog) MarkFileComplete(root manifest.Hash, entries []uint32) error {
	return l.markComplete(root, entries, nil)
}

func (l *ResumeLog) markComplete(root manifest.Hash, entries []uint32, ids []FileID) error {
	if len(entries) == 0 {
		return nil
	}
	m, err := l.layout(root)
	if err != nil {
		return fmt.Errorf("store: mark complete: %w", err)
	}
	runs, sizes, err := completeRuns(m, entries)
	if err != nil {
		return fmt.Errorf("store: mark complete %s: %w", root.Short(), err)
	}
	cs := m.ChunkSize()
	now := l.now().UnixNano()
	err = l.db.Update(func(tx *bolt.Tx) error {
		b, in, chunks, complete, err := progressBuckets(tx, root)
		if err != nil {
			return err
		}
		k := 0 // index into sizes
		for _, r := range runs {
			ivs, err := touching(complete, r.lo, r.hi)
			if err != nil {
				return err
			}
			j := 0 // ivs[j] is the first interval that may hold e
			for e := r.start; e < r.end; e, k = e+1, k+1 {
				for j < len(ivs) && ivs[j].end <= e {
					j++
				}
				was := j < len(ivs) && ivs[j].start <= e
				size := sizes[k]
				n, nb, err := fileSet(chunks, uint32(e), size, cs, true)
				if err != nil {
					return err
				}
				if !was {
					in.doneChunks += manifest.ChunkCount(size, cs) - n
					in.doneBytes += size - nb
				}
			}
			iv := interval{r.start, r.end}
			for _, o := range ivs {
				iv.start, iv.end = min(iv.start, o.start), max(iv.end, o.end)
				if err := complete.Delete(entryKey(uint32(o.start))); err != nil {
					return err
				}
			}
			if err := complete.Put(entryKey(uint32(iv.start)), encodeEnd(iv.end)); err != nil {
				return err
			}
		}
		if err := putIdents(b, entries, ids); err != nil {
			return err
		}
		if err := checkCounters(in); err != nil {
			return err
		}
		in.updated = now
		return putInfo(b, in)
	})
	if err != nil {
		return fmt.Errorf("store: mark complete %s: %w", root.Short(), err)
	}
	return nil
}

// completeRun is a run [start, end) of entries to record complete; [lo, hi]
// is how far it may reach for a neighbouring interval: the entries in
// [lo, start) and [end, hi) are all directories or symlinks.
type completeRun struct{ start, end, lo, hi uint64 }

// completeRuns sorts and dedups entries into runs and looks their sizes up
// (sizes[k] is the size of the k-th entry of the runs, in order).
func completeRuns(m Manifest, entries []uint32) ([]completeRun, []int64, error) {
	es := slices.Clone(entries)
	slices.Sort(es)
	es = slices.Compact(es)
	sizes := make([]int64, len(es))
	for k, e := range es {
		var err error
		if sizes[k], err = fileSize(m, e); err != nil {
			return nil, nil, err
		}
	}
	var runs []completeRun
	for i := 0; i < len(es); {
		j := i + 1
		for j < len(es) && es[j] == es[j-1]+1 {
			j++
		}
		r := completeRun{start: uint64(es[i]), end: uint64(es[j-1]) + 1}
		var err error
		if r.lo, r.hi, err = bridge(m, r.start, r.end); err != nil {
			return nil, nil, err
		}
		runs = append(runs, r)
		i = j
	}
	return runs, sizes, nil
}

// bridge returns how far the run [start, end) reaches over directories and
// symlinks on either side, at most bridgeMax entries each way.
func bridge(m Manifest, start, end uint64) (lo, hi uint64, err error) {
	notFile := func(i uint64) (bool, error) {
		e, err := m.Entry(int(i))
		if err != nil {
			return false, fmt.Errorf("manifest entry %d: %w", i, err)
		}
		return e.Kind != manifest.KindFile, nil
	}
	for lo = start; lo > 0 && start-lo < bridgeMax; lo-- {
		ok, err := notFile(lo - 1)
		if err != nil {
			return 0, 0, err
		}
		if !ok {
			break
		}
	}
	for hi = end; hi < uint64(m.Len()) && hi-end < bridgeMax; hi++ {
		ok, err := notFile(hi)
		if err != nil {
			return 0, 0, err
		}
		if !ok {
			break
		}
	}
	return lo, hi, nil
}

// touching returns, in order, the intervals that overlap or touch [lo, hi]:
// those that end at or after lo and start at or before hi.
func touching(complete *bolt.Bucket, lo, hi uint64) ([]interval, error) {
	var out []interval
	c := complete.Cursor()
	k, v := c.Seek(entryKey(uint32(lo)))
	// The interval starting before lo may reach it.
	var pk, pv []byte
	if k == nil {
		pk, pv = c.Last()
	} else {
		pk, pv = c.Prev()
	}
	if pk != nil {
		iv, err := decodeInterval(pk, pv)
		if err != nil {
			return nil, err
		}
		if iv.end >= lo {
			out = append(out, iv)
		}
	}
	for k, v = c.Seek(entryKey(uint32(lo))); k != nil; k, v = c.Next() {
		iv, err := decodeInterval(k, v)
		if err != nil {
			return nil, err
		}
		if iv.start > hi {
			break
		}
		out = append(out, iv)
	}
	return out, nil
}

// containing returns the interval holding entry e, if any.
func containing(complete *bolt.Bucket, e uint32) (interval, bool, error) {
	c := complete.Cursor()
	k, v := c.Seek(entryKey(e))
	if k == nil || !bytes.Equal(k, entryKey(e)) {
		if k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
	}
	if k == nil {
		return interval{}, false, nil
	}
	iv, err := decodeInterval(k, v)
	if err != nil {
		return interval{}, false, err
	}
	return iv, iv.start <= uint64(e) && uint64(e) < iv.end, nil
}

func isComplete(complete *bolt.Bucket, e uint32) (bool, error) {
	_, ok, err := containing(complete, e)
	return ok, err
}

// removeComplete takes entry e, which must be complete, out of its
// interval.
func removeComplete(complete *bolt.Bucket, e uint32) error {
	iv, ok, err := containing(complete, e)
	if err != nil || !ok {
		return err
	}
	if err := complete.Delete(entryKey(uint32(iv.start))); err != nil {
		return err
	}
	if iv.start < uint64(e) {
		if err := complete.Put(entryKey(uint32(iv.start)), encodeEnd(uint64(e))); err != nil {
			return err
		}
	}
	if uint64(e)+1 < iv.end {
		if err := complete.Put(entryKey(e+1), encodeEnd(iv.end)); err != nil {
			return err
		}
	}
	return nil
}

// IsComplete reports whether entry is recorded complete (meaningful for
// regular files only, see MarkFileComplete). It works on any transfer in
// the log, begun in this handle or not.
func (l *ResumeLog) IsComplete(root manifest.Hash, entry uint32) (bool, error) {
	var ok bool
	err := l.db.View(func(tx *bolt.Tx) error {
		complete, err := entryBucket(tx, root, entry, bucketComplete)
		if err != nil {
			return err
		}
		ok, err = isComplete(complete, entry)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store: is complete %s: %w", root.Short(), err)
	}
	return ok, nil
}

// CompleteFiles calls fn for every entry recorded complete, in order, the
// way Done does. It yields the directories and symlinks an interval took in
// too (see MarkFileComplete): skip what is not a regular file.
func (l *ResumeLog) CompleteFiles(root manifest.Hash, fn func(entry uint32) error) error {
	return l.iterate(root, bucketComplete, func(k, v []byte) error {
		iv, err := decodeInterval(k, v)
		if err != nil {
			return err
		}
		for e := iv.start; e < iv.end; e++ {
			if err := fn(uint32(e)); err != nil {
				return err
			}
		}
		return nil
	})
}
