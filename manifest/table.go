package manifest

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// ErrRange reports an entry index outside a Table, or a chunk index outside
// an entry.
var ErrRange = errors.New("manifest: index out of range")

// Buffers of a Table. None depends on the number of entries or chunks.
const (
	entryCacheLen = 8        // entries kept decoded
	indexBlock    = 4 << 10  // bytes of index read at once: 512 offsets
	encodingBlock = 16 << 10 // bytes of encoding read at once for Entry
	hashBlock     = 4 << 10  // bytes of chunk hashes read at once: 128 hashes
	tableWriteBuf = 64 << 10 // DecodeTable's buffer for each file
)

// Table is a validated manifest kept in an unlinked temporary file (the
// canonical encoding) plus an index file of one u64 offset per entry (of
// the entry's tag byte). Memory does not grow with the number of entries or
// chunks: Entry and ChunkHash read what they need with ReadAt (pread), Scan
// reads the encoding sequentially. All methods are safe for concurrent use.
// A small cache (the last few entries decoded, two blocks of the index and
// of the encoding, one of chunk hashes) makes repeated Entry(i) of the
// same or neighbouring i cheap: the engine calls Entry once per chunk.
type Table struct {
	enc, idx  *os.File
	lim       Limits // what the encoding was validated against, for Manifest
	root      Hash
	chunkSize uint32
	n         int
	files     int64
	dirs      int64
	size      int64
	chunks    int64
	encSize   int64

	mu     sync.Mutex
	closed bool
	cache  [entryCacheLen]cachedEntry
	victim int    // the cache slot to replace next
	ib     blocks // index blocks: the offsets of entries
	eb     blocks // encoding blocks
	hb     []byte // chunk hash block at hbOff
	hbOff  int64
}

// cachedEntry is one decoded entry and where its record lies.
type cachedEntry struct {
	i    int   // entry index; -1 if the slot is empty
	off  int64 // offset of the tag byte in the encoding
	head int64 // bytes from the tag byte to the first chunk hash
	e    Entry // Chunks nil
}

// tableSink is DecodeTable's sink: the encoding reaches the file through
// reader.tee, the sink writes the index and counts.
type tableSink struct {
	enc, idx *bufio.Writer
	n        int
	files    int64
	dirs     int64
	size     int64
	chunks   int64
	scratch  [8]byte
}

func (s *tableSink) keepHashes() bool { return false }

func (s *tableSink) entry(off int64, e *Entry, chunks int64) error {
	binary.BigEndian.PutUint64(s.scratch[:], uint64(off))
	s.idx.Write(s.scratch[:])
	s.n++
	switch e.Kind {
	case KindFile:
		s.files++
		s.size += e.Size
		s.chunks += chunks
	case KindDir:
		s.dirs++
	}
	// bufio.Writer errors are sticky: an empty Write reports one.
	if _, err := s.enc.Write(nil); err != nil {
		return fmt.Errorf("manifest: writing the table: %w", err)
	}
	if _, err := s.idx.Write(nil); err != nil {
		return fmt.Errorf("manifest: writing the table index: %w", err)
	}
	return nil
}

// DecodeTable reads one canonical encoding from r exactly like Decode (same
// validation, same errors, never reads past the trailer), writing it and its
// index into unlinked temporary files created in dir ("" = os.TempDir()).
// Nothing but O(depth) validation state and fixed buffers is kept in memory:
// chunk hashes go to the file in batches as they are read. The files are
// removed from dir at once; Close releases them.
func DecodeTable(r io.Reader, dir string, lim Limits) (*Table, error) {
	enc, err := unlinkedTemp(dir, "pcp-manifest-*")
	if err != nil {
		return nil, err
	}
	idx, err := unlinkedTemp(dir, "pcp-manifest-index-*")
	if err != nil {
		enc.Close()
		return nil, err
	}
	s := &tableSink{enc: bufio.NewWriterSize(enc, tableWriteBuf), idx: bufio.NewWriterSize(idx, tableWriteBuf)}
	d := newReader(r, s.enc)
	cs, err := decode(d, lim, s)
	if err == nil {
		if err = s.enc.Flush(); err == nil {
			err = s.idx.Flush()
		}
		if err != nil {
			err = fmt.Errorf("manifest: writing the table: %w", err)
		}
	}
	if err != nil {
		enc.Close()
		idx.Close()
		return nil, err
	}
	t := &Table{
		enc: enc, idx: idx, lim: lim, root: d.root(), chunkSize: cs,
		n: s.n, files: s.files, dirs: s.dirs, size: s.size, chunks: s.chunks, encSize: d.off,
	}
	for k := range t.cache {
		t.cache[k].i = -1
	}
	return t, nil
}

// unlinkedTemp creates a temporary file in dir and removes its name at once,
// so the file goes away with its descriptor whatever happens to the process.
func unlinkedTemp(dir, pattern string) (*os.File, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, fmt.Errorf("manifest: %w", err)
	}
	return f, nil
}

// errPipeDone ends NewTable's encoder when DecodeTable stopped first.
var errPipeDone = errors.New("manifest: decoder done")

// NewTable is DecodeTable of m's encoding, under DefaultLimits (tests,
// small manifests). It validates m: an error is Encode's or DecodeTable's.
func NewTable(m *Manifest, dir string) (*Table, error) {
	pr, pw := io.Pipe()
	encErr := make(chan error, 1)
	go func() {
		err := Encode(pw, m)
		pw.CloseWithError(err)
		encErr <- err
	}()
	t, err := DecodeTable(pr, dir, Limits{})
	pr.CloseWithError(errPipeDone) // unblocks Encode if DecodeTable failed first
	if eerr := <-encErr; eerr != nil && !errors.Is(eerr, errPipeDone) {
		if t != nil {
			t.Close()
		}
		return nil, eerr
	}
	return t, err
}

// Close releases the table's files. Later calls of other methods fail
// (wrapping os.ErrClosed); a second Close returns nil.
func (t *Table) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	return errors.Join(t.enc.Close(), t.idx.Close())
}

// Root returns the BLAKE3-256 hash of the encoding.
func (t *Table) Root() Hash { return t.root }

// ChunkSize returns the manifest's chunk size.
func (t *Table) ChunkSize() uint32 { return t.chunkSize }

// Len returns the number of entries.
func (t *Table) Len() int { return t.n }

// Files returns the number of regular files.
func (t *Table) Files() int64 { return t.files }

// Dirs returns the number of directories.
func (t *Table) Dirs() int64 { return t.dirs }

// TotalSize returns the bytes of all files.
func (t *Table) TotalSize() int64 { return t.size }

// TotalChunks returns the chunks of all files.
func (t *Table) TotalChunks() int64 { return t.chunks }

// EncodedSize returns the length of the encoding in bytes.
func (t *Table) EncodedSize() int64 { return t.encSize }

// Encoding returns a new reader of the canonical encoding (what hashes to
// Root), for sending and storing. Readers are independent of each other.
func (t *Table) Encoding() io.Reader { return io.NewSectionReader(t.enc, 0, t.encSize) }

// Entry returns entry i without its chunk hashes: Chunks is nil and the
// count is ChunkCount(Size, ChunkSize()); see ChunkHash. An i outside
// [0, Len()) fails with ErrRange.
func (t *Table) Entry(i int) (Entry, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, err := t.load(i)
	if err != nil {
		return Entry{}, err
	}
	return c.e, nil
}

// ChunkHash returns hash c of file entry i. An i outside the table or a c
// outside [0, ChunkCount) (any c for a dir or symlink) fails with ErrRange.
func (t *Table) ChunkHash(i int, c int64) (Hash, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ce, err := t.load(i)
	if err != nil {
		return Hash{}, err
	}
	var n int64
	if ce.e.Kind == KindFile {
		n = ChunkCount(ce.e.Size, t.chunkSize)
	}
	if c < 0 || c >= n {
		return Hash{}, fmt.Errorf("%w: chunk %d of %q, which has %d", ErrRange, c, ce.e.Path, n)
	}
	off := ce.off + ce.head + c*HashSize
	if b, ok := t.eb.find(off, HashSize); ok {
		return Hash(b[:HashSize]), nil
	}
	if b, ok := within(t.hb, t.hbOff, off, HashSize); ok {
		return Hash(b), nil
	}
	// Read the hashes from c on, up to a block, but not past this entry.
	k := min(hashBlock, (n-c)*HashSize)
	if cap(t.hb) < hashBlock {
		t.hb = make([]byte, hashBlock)
	}
	t.hb = t.hb[:k]
	if _, err := t.enc.ReadAt(t.hb, off); err != nil {
		t.hb = t.hb[:0]
		return Hash{}, fmt.Errorf("manifest: reading the table: %w", err)
	}
	t.hbOff = off
	return Hash(t.hb[:HashSize]), nil
}

// within returns the n bytes at offset off if block, which holds the bytes
// at blockOff, contains them all.
func within(block []byte, blockOff, off int64, n int) ([]byte, bool) {
	if off < blockOff || off+int64(n) > blockOff+int64(len(block)) {
		return nil, false
	}
	return block[off-blockOff : off-blockOff+int64(n)], true
}

// blocks keeps the two blocks of a file read last. The receiver reads its
// table in two places at once (the chunks being fetched, and the files its
// committer puts in place, well behind): with one block they evicted each
// other's on almost every call (10k x 4 KiB: 3 preads per file).
type blocks struct {
	w   [2]block
	mru int // the block used last
}

type block struct {
	b   []byte
	off int64 // file offset of b
}

// find returns the bytes from off to the end of the block holding the n
// bytes at off, if one does.
func (bl *blocks) find(off int64, n int) ([]byte, bool) {
	for k := range bl.w {
		w := &bl.w[k]
		if _, ok := within(w.b, w.off, off, n); ok {
			bl.mru = k
			return w.b[off-w.off:], true
		}
	}
	return nil, false
}

// fill reads n bytes of f at off into the block used less recently (of
// capacity at least c) and returns them.
func (bl *blocks) fill(f *os.File, off int64, n, c int) ([]byte, error) {
	k := 1 - bl.mru
	w := &bl.w[k]
	if cap(w.b) < max(n, c) {
		w.b = make([]byte, max(n, c))
	}
	w.b = w.b[:n]
	if _, err := f.ReadAt(w.b, off); err != nil {
		w.b = w.b[:0]
		return nil, err
	}
	w.off, bl.mru = off, k
	return w.b, nil
}

// load returns entry i, from the cache or decoded from the file. t.mu held.
func (t *Table) load(i int) (*cachedEntry, error) {
	if t.closed {
		return nil, fmt.Errorf("manifest: table closed: %w", os.ErrClosed)
	}
	if i < 0 || i >= t.n {
		return nil, fmt.Errorf("%w: entry %d of %d", ErrRange, i, t.n)
	}
	for k := range t.cache {
		if t.cache[k].i == i {
			return &t.cache[k], nil
		}
	}
	off, err := t.offset(i)
	if err != nil {
		return nil, err
	}
	c := &t.cache[t.victim]
	c.i = -1
	for want := 4; ; {
		b, err := t.encodingAt(off, want)
		if err != nil {
			return nil, err
		}
		n := parseHead(b, &c.e)
		if n <= len(b) {
			c.head = int64(n)
			break
		}
		want = n
	}
	c.i, c.off = i, off
	t.victim = (t.victim + 1) % len(t.cache)
	return c, nil
}

// offset returns the offset of entry i's record, from the index. t.mu held.
func (t *Table) offset(i int) (int64, error) {
	pos := int64(i) * 8
	if b, ok := t.ib.find(pos, 8); ok {
		return int64(binary.BigEndian.Uint64(b)), nil
	}
	// Read the aligned block holding pos.
	start := pos - pos%indexBlock
	b, err := t.ib.fill(t.idx, start, int(min(indexBlock, int64(t.n)*8-start)), indexBlock)
	if err != nil {
		return 0, fmt.Errorf("manifest: reading the table index: %w", err)
	}
	return int64(binary.BigEndian.Uint64(b[pos-start:])), nil
}

// encodingAt returns the encoding from off on, at least want bytes of it
// (more if the block holds more), reading a block at off if need be.
// t.mu held.
func (t *Table) encodingAt(off int64, want int) ([]byte, error) {
	if b, ok := t.eb.find(off, want); ok {
		return b, nil
	}
	if off+int64(want) > t.encSize {
		return nil, fmt.Errorf("%w: table record at %d runs past the encoding", ErrMalformed, off)
	}
	size := max(encodingBlock, want)
	b, err := t.eb.fill(t.enc, off, int(min(int64(size), t.encSize-off)), size)
	if err != nil {
		return nil, fmt.Errorf("manifest: reading the table: %w", err)
	}
	return b, nil
}

// parseHead decodes into e the head of the entry record at the start of b:
// from the tag byte to the first chunk hash (for a file), or to the end of
// the record. It returns the head's length; if b is shorter than that, it
// returns the length it needs (more than len(b)) and leaves e alone. b must
// come from a validated encoding.
func parseHead(b []byte, e *Entry) int {
	if len(b) < 4 {
		return 4
	}
	kind := Kind(b[1])
	plen := int(binary.BigEndian.Uint16(b[2:4]))
	n := 4 + plen + headFixed(kind)
	if len(b) < n {
		return n
	}
	if kind == KindSymlink {
		n += int(binary.BigEndian.Uint16(b[n-2:]))
		if len(b) < n {
			return n
		}
	}
	p := b[4 : 4+plen]
	f := b[4+plen:]
	*e = Entry{
		Path:  string(p),
		Kind:  kind,
		Mode:  binary.BigEndian.Uint32(f),
		MTime: int64(binary.BigEndian.Uint64(f[4:])),
	}
	switch kind {
	case KindFile:
		e.Size = int64(binary.BigEndian.Uint64(f[12:]))
	case KindSymlink:
		e.Target = string(f[14 : n-4-plen])
	}
	return n
}

// Scan calls fn for every entry in order, reading the encoding sequentially
// (buffered, no index lookups). e.Chunks is nil and e is reused between
// calls: copy what must outlive the call (strings may be kept). Scan stops
// at the first error fn returns and returns it, or ctx's error.
func (t *Table) Scan(ctx context.Context, fn func(i int, e *Entry) error) error {
	// The largest head: a symlink with path and target of the longest
	// length the limits (and the u16 length fields) allow.
	lim := t.lim.withDefaults()
	longest := min(lim.MaxPathLen, maxLenField)
	pos := int64(headerLen) // offset of the reader's next byte in the encoding
	from := func(off int64) io.Reader { return io.NewSectionReader(t.enc, off, t.encSize-off) }
	br := bufio.NewReaderSize(from(pos), max(64<<10, 4+14+2*longest))
	var e Entry
	for i := range t.n {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		n := 0
		for want := 4; ; {
			b, err := br.Peek(want)
			if err != nil {
				if errors.Is(err, io.EOF) {
					err = fmt.Errorf("%w: table encoding ends in entry %d", ErrMalformed, i)
				}
				return fmt.Errorf("manifest: reading the table: %w", err)
			}
			if n = parseHead(b, &e); n <= len(b) {
				break
			}
			want = n
		}
		skip := int64(n)
		if e.Kind == KindFile {
			skip += ChunkCount(e.Size, t.chunkSize) * HashSize
		}
		// Skip the chunk hashes in the buffer, or jump past them.
		if skip <= int64(br.Buffered()) {
			br.Discard(int(skip))
		} else {
			br.Reset(from(pos + skip))
		}
		pos += skip
		if err := fn(i, &e); err != nil {
			return err
		}
	}
	return nil
}

// Manifest loads the whole manifest into memory (tests and small tools).
func (t *Table) Manifest() (*Manifest, error) {
	m, root, err := Decode(bufio.NewReaderSize(t.Encoding(), 64<<10), t.lim)
	if err != nil {
		return nil, err
	}
	if root != t.root {
		return nil, fmt.Errorf("%w: table encoding changed: root %s, want %s", ErrMalformed, root.Short(), t.root.Short())
	}
	return m, nil
}

// CompareFile hashes r (size bytes: the current length of the data behind
// r) chunk by chunk against file entry i and returns the indexes of chunks
// that differ or are missing (all chunks past the end of a shorter file
// count as differing). It never reads past the entry's Size and uses one
// buffer of at most ChunkSize bytes.
func (t *Table) CompareFile(ctx context.Context, i int, r io.ReaderAt, size int64) ([]int64, error) {
	e, err := t.Entry(i)
	if err != nil {
		return nil, err
	}
	if e.Kind != KindFile {
		return nil, fmt.Errorf("%w: %q is a %s, not a file", ErrInvalid, e.Path, e.Kind)
	}
	return compareFile(ctx, r, size, &e, t.chunkSize, t.hashesOf(i), nil)
}

// hashesOf returns the chunk hashes of entry i, one by one.
func (t *Table) hashesOf(i int) func(c int64) (Hash, error) {
	return func(c int64) (Hash, error) { return t.ChunkHash(i, c) }
}
