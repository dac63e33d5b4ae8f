package store

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/pcp-p2p/pcp/manifest"
)

const testChunk = manifest.MinChunkSize

// testManifest builds a valid manifest: a directory "d", then files
// "d/f000000".. with chunksPerFile chunks each, the last chunk of every
// file tail bytes long (tail in 1..testChunk). Hashes are synthetic and
// distinct.
func testManifest(tb testing.TB, files, chunksPerFile int, tail int64) *manifest.Manifest {
	tb.Helper()
	m := &manifest.Manifest{ChunkSize: testChunk, Entries: make([]manifest.Entry, 0, files+1)}
	m.Entries = append(m.Entries, manifest.Entry{Path: "d", Kind: manifest.KindDir, Mode: 0o755, MTime: 1})
	for i := range files {
		e := manifest.Entry{
			Path: fmt.Sprintf("d/f%06d", i), Kind: manifest.KindFile, Mode: 0o644, MTime: int64(i),
			Size:   int64(chunksPerFile-1)*testChunk + tail,
			Chunks: make([]manifest.Hash, chunksPerFile),
		}
		if chunksPerFile == 0 {
			e.Size = 0
		}
		for c := range e.Chunks {
			binary.BigEndian.PutUint32(e.Chunks[c][:], uint32(i))
			binary.BigEndian.PutUint32(e.Chunks[c][4:], uint32(c))
		}
		m.Entries = append(m.Entries, e)
	}
	if err := m.Validate(manifest.Limits{}); err != nil {
		tb.Fatal(err)
	}
	return m
}

// fakeClock is an injectable clock that advances one second per call.
type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time {
	c.t = c.t.Add(time.Second)
	return c.t
}

func newClock() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }

func openLog(tb testing.TB, path string, opts ResumeLogOptions) *ResumeLog {
	tb.Helper()
	l, err := OpenResumeLogWith(path, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	return l
}

func logPath(tb testing.TB) string {
	return filepath.Join(tb.TempDir(), "state", "resume.db")
}

// doneSet collects the done set of root in order.
func doneSet(tb testing.TB, l *ResumeLog, root manifest.Hash) []ChunkRef {
	tb.Helper()
	var got []ChunkRef
	if err := l.Done(root, func(r ChunkRef) error { got = append(got, r); return nil }); err != nil {
		tb.Fatal(err)
	}
	return got
}

// parts returns the sizes of the stored manifest parts of root.
func partSizes(tb testing.TB, l *ResumeLog, root manifest.Hash) []int {
	tb.Helper()
	var sizes []int
	err := l.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTransfers).Bucket(root[:]).Bucket(bucketManifest).ForEach(func(k, v []byte) error {
			sizes = append(sizes, len(v))
			return nil
		})
	})
	if err != nil {
		tb.Fatal(err)
	}
	return sizes
}
