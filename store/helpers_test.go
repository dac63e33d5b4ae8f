package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/zeebo/blake3"
	bolt "go.etcd.io/bbolt"

	"github.com/pcp-p2p/pcp/manifest"
)

const testChunk = manifest.MinChunkSize

// memManifest is a Manifest over an in-memory *manifest.Manifest, the way a
// manifest.Table presents one: Entry leaves Chunks out.
type memManifest struct {
	*manifest.Manifest
	root manifest.Hash
	enc  []byte
}

func newMemManifest(tb testing.TB, m *manifest.Manifest) *memManifest {
	tb.Helper()
	var buf bytes.Buffer
	if err := manifest.Encode(&buf, m); err != nil {
		tb.Fatal(err)
	}
	return &memManifest{Manifest: m, root: m.Root(), enc: buf.Bytes()}
}

func (mm *memManifest) Root() manifest.Hash { return mm.root }
func (mm *memManifest) ChunkSize() uint32   { return mm.Manifest.ChunkSize }
func (mm *memManifest) Len() int            { return len(mm.Entries) }
func (mm *memManifest) Files() int64        { return int64(mm.Manifest.Files()) }
func (mm *memManifest) Encoding() io.Reader { return bytes.NewReader(mm.enc) }

func (mm *memManifest) Entry(i int) (manifest.Entry, error) {
	if i < 0 || i >= len(mm.Entries) {
		return manifest.Entry{}, fmt.Errorf("entry %d of %d", i, len(mm.Entries))
	}
	e := mm.Entries[i]
	e.Chunks = nil
	return e, nil
}

// testManifest builds a valid manifest: a directory "d", then files
// "d/f000000".. with chunksPerFile chunks each, the last chunk of every
// file tail bytes long (tail in 1..testChunk). Hashes are synthetic and
// distinct.
func testManifest(tb testing.TB, files, chunksPerFile int, tail int64) *memManifest {
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
	return newMemManifest(tb, m)
}

// synthManifest is a Manifest whose entries are computed from their index,
// so that a million of them cost no memory: "d", then dirs groups of a
// directory "d/sNNNNN" followed by perDir files "d/sNNNNN/fNNN", each file
// of one chunk of 1 + i%1000 bytes. Its encoding is streamed through a
// manifest.Encoder.
type synthManifest struct {
	dirs, perDir int
	root         manifest.Hash
	encSize      int64
	// stall, if set, is called by the encoding's reader once it has handed
	// out stallAt bytes; an error from it is the reader's.
	stall   func() error
	stallAt int64
}

func newSynthManifest(tb testing.TB, dirs, perDir int) *synthManifest {
	tb.Helper()
	s := &synthManifest{dirs: dirs, perDir: perDir}
	h := blake3.New()
	n, err := io.Copy(h, s.Encoding())
	if err != nil {
		tb.Fatal(err)
	}
	h.Sum(s.root[:0])
	s.encSize = n
	return s
}

func (s *synthManifest) Root() manifest.Hash { return s.root }
func (s *synthManifest) ChunkSize() uint32   { return testChunk }
func (s *synthManifest) Len() int            { return 1 + s.dirs*(1+s.perDir) }
func (s *synthManifest) Files() int64        { return int64(s.dirs * s.perDir) }
func (s *synthManifest) TotalChunks() int64  { return s.Files() }

func (s *synthManifest) TotalSize() int64 {
	var n int64
	for i := range s.Len() {
		if e, _ := s.Entry(i); e.Kind == manifest.KindFile {
			n += e.Size
		}
	}
	return n
}

// isFile reports whether entry i is a file.
func (s *synthManifest) isFile(i int) bool {
	return i > 0 && (i-1)%(1+s.perDir) != 0
}

func (s *synthManifest) Entry(i int) (manifest.Entry, error) {
	if i < 0 || i >= s.Len() {
		return manifest.Entry{}, fmt.Errorf("entry %d of %d", i, s.Len())
	}
	if i == 0 {
		return manifest.Entry{Path: "d", Kind: manifest.KindDir, Mode: 0o755, MTime: 1}, nil
	}
	g, r := (i-1)/(1+s.perDir), (i-1)%(1+s.perDir)
	if r == 0 {
		return manifest.Entry{Path: fmt.Sprintf("d/s%05d", g), Kind: manifest.KindDir, Mode: 0o755, MTime: int64(i)}, nil
	}
	return manifest.Entry{
		Path: fmt.Sprintf("d/s%05d/f%03d", g, r-1), Kind: manifest.KindFile, Mode: 0o644,
		MTime: int64(i), Size: 1 + int64(i%1000),
	}, nil
}

func (s *synthManifest) Encoding() io.Reader {
	r := &synthReader{s: s}
	r.enc = manifest.NewEncoder(&r.buf, testChunk)
	return r
}

// synthReader encodes entries as its reader asks for bytes.
type synthReader struct {
	s    *synthManifest
	enc  *manifest.Encoder
	buf  bytes.Buffer
	next int
	done bool
	out  int64
}

func (r *synthReader) Read(p []byte) (int, error) {
	for r.buf.Len() == 0 {
		if r.done {
			return 0, io.EOF
		}
		if r.next == r.s.Len() {
			if err := r.enc.Close(); err != nil {
				return 0, err
			}
			r.done = true
			continue
		}
		e, err := r.s.Entry(r.next)
		if err != nil {
			return 0, err
		}
		if e.Kind == manifest.KindFile {
			var h manifest.Hash
			binary.BigEndian.PutUint64(h[:], uint64(r.next))
			e.Chunks = []manifest.Hash{h}
		}
		if err := r.enc.Add(&e); err != nil {
			return 0, err
		}
		r.next++
	}
	if r.s.stall != nil && r.out+int64(len(p)) > r.s.stallAt {
		if r.out < r.s.stallAt {
			p = p[:r.s.stallAt-r.out]
		} else if err := r.s.stall(); err != nil {
			return 0, err
		}
	}
	n, err := r.buf.Read(p)
	r.out += int64(n)
	return n, err
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

// begin runs Begin and fails the test on error.
func begin(tb testing.TB, l *ResumeLog, m Manifest, dest string) {
	tb.Helper()
	if err := l.Begin(m, dest); err != nil {
		tb.Fatal(err)
	}
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

// completeSet collects the complete entries of root in order.
func completeSet(tb testing.TB, l *ResumeLog, root manifest.Hash) []uint32 {
	tb.Helper()
	var got []uint32
	if err := l.CompleteFiles(root, func(e uint32) error { got = append(got, e); return nil }); err != nil {
		tb.Fatal(err)
	}
	return got
}

// readBack reads the stored manifest of root and decodes it in memory.
func readBack(tb testing.TB, l *ResumeLog, root manifest.Hash) *manifest.Manifest {
	tb.Helper()
	var m *manifest.Manifest
	err := l.ReadManifest(root, func(r io.Reader) error {
		dm, got, err := manifest.Decode(r, manifest.Limits{})
		if err != nil {
			return err
		}
		if got != root {
			return fmt.Errorf("stored manifest hashes to %s", got.Short())
		}
		if n, _ := r.Read(make([]byte, 1)); n != 0 {
			return fmt.Errorf("bytes after the stored manifest")
		}
		m = dm
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// rawTransfer looks into the file itself: the record of root's bucket
// (pending ones too; nil if there is no bucket), and the number of keys in
// each of its sub-buckets and of parts per manifest batch.
type rawTransfer struct {
	info                 *info
	chunkKeys, intervals int
	batches              []int // parts per batch
	partSizes            []int
	intervalList         []interval
}

func raw(tb testing.TB, l *ResumeLog, root manifest.Hash) rawTransfer {
	tb.Helper()
	var rt rawTransfer
	err := l.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTransfers).Bucket(root[:])
		if b == nil {
			return nil
		}
		in, err := getInfo(b)
		if err != nil {
			return err
		}
		rt.info = in
		rt.chunkKeys = b.Bucket(bucketChunks).Stats().KeyN
		err = b.Bucket(bucketComplete).ForEach(func(k, v []byte) error {
			iv, err := decodeInterval(k, v)
			rt.intervalList = append(rt.intervalList, iv)
			return err
		})
		if err != nil {
			return err
		}
		rt.intervals = len(rt.intervalList)
		parts := b.Bucket(bucketManifest)
		return parts.ForEachBucket(func(k []byte) error {
			n := 0
			err := parts.Bucket(k).ForEach(func(_, v []byte) error {
				rt.partSizes = append(rt.partSizes, len(v))
				n++
				return nil
			})
			rt.batches = append(rt.batches, n)
			return err
		})
	})
	if err != nil {
		tb.Fatal(err)
	}
	return rt
}
