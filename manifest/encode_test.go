package manifest

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// TestEncodeGolden pins the byte layout of the package doc.
func TestEncodeGolden(t *testing.T) {
	h := HashChunk([]byte("abc"))
	m := &Manifest{ChunkSize: 1 << 20, Entries: []Entry{
		{Path: "d", Kind: KindDir, Mode: 0o755, MTime: 1},
		{Path: "d/f", Kind: KindFile, Mode: 0o644, MTime: -2, Size: 3, Chunks: []Hash{h}},
		{Path: "d/l", Kind: KindSymlink, Target: "f"},
	}}
	want := "5043504d" + "02" + "00100000" + // header
		"01" + "02" + "0001" + "64" + "000001ed" + "0000000000000001" + // d
		"01" + "01" + "0003" + "642f66" + "000001a4" + "fffffffffffffffe" + "0000000000000003" + hex.EncodeToString(h[:]) +
		"01" + "03" + "0003" + "642f6c" + "00000000" + "0000000000000000" + "0001" + "66" +
		"00" + "0000000000000003"
	got := hex.EncodeToString(encodeBytes(t, m))
	if got != want {
		t.Fatalf("encoding\n got %s\nwant %s", got, want)
	}
	if m.TotalSize() != 3 || m.TotalChunks() != 1 || m.Files() != 1 {
		t.Errorf("totals: size %d, chunks %d, files %d", m.TotalSize(), m.TotalChunks(), m.Files())
	}
	if h.String() != "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85" || h.Short() != "6437b3ac38465133" {
		t.Errorf("String %s, Short %s", h, h.Short())
	}
	raw, _ := hex.DecodeString(want)
	if m.Root() != HashChunk(raw) {
		t.Errorf("Root is not BLAKE3 of the encoding")
	}
}

func TestRoundTripProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range 200 {
		m := randManifest(t, rng, rng.IntN(60))
		enc := encodeBytes(t, m)
		// A reader returning short reads must give the same result.
		got, root, err := Decode(iotest.HalfReader(bytes.NewReader(enc)), Limits{})
		if err != nil {
			t.Fatalf("case %d: Decode: %v", i, err)
		}
		if len(m.Entries) == 0 {
			m.Entries = nil
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("case %d: round trip differs", i)
		}
		if root != m.Root() || root != HashChunk(enc) {
			t.Fatalf("case %d: decoder root %s, Root() %s", i, root.Short(), m.Root().Short())
		}
	}
}

func TestRootChangesWithContent(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	m := randManifest(t, rng, 30)
	r0 := m.Root()
	for i := range m.Entries {
		if m.Entries[i].Kind == KindFile {
			m.Entries[i].MTime++
			break
		}
	}
	if m.Root() == r0 {
		t.Error("root unchanged after mtime change")
	}
}

// TestDecodeDoesNotOverRead checks that bytes after the trailer stay in the
// reader for the caller.
func TestDecodeDoesNotOverRead(t *testing.T) {
	m := randManifest(t, rand.New(rand.NewPCG(1, 1)), 50)
	enc := encodeBytes(t, m)
	r := bytes.NewReader(append(append([]byte{}, enc...), "NEXT"...))
	if _, _, err := Decode(r, Limits{}); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(r)
	if string(rest) != "NEXT" {
		t.Fatalf("left %q in the reader, want %q", rest, "NEXT")
	}
}

// TestStreamLarge encodes 200,000 entries and decodes them through an
// io.Pipe: both sides stream, nothing caps the size.
func TestStreamLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("large")
	}
	const n = 200_000
	m := &Manifest{ChunkSize: DefaultChunkSize}
	m.Entries = append(m.Entries, Entry{Path: "root", Kind: KindDir, Mode: 0o755})
	for i := range n - 1 {
		e := Entry{Path: "root/" + strings.Repeat("0", 7-len(itoa(i))) + itoa(i), Kind: KindFile, Mode: 0o644, Size: int64(i % 3000)}
		e.Chunks = make([]Hash, ChunkCount(e.Size, m.ChunkSize))
		m.Entries = append(m.Entries, e)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(Encode(pw, m)) }()
	got, root, err := Decode(bufio.NewReader(pr), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Entries) != n || root != m.Root() {
		t.Fatalf("got %d entries, root match %v", len(got.Entries), root == m.Root())
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func TestDecodeRejects(t *testing.T) {
	const cs = MinChunkSize
	cases := []struct {
		name string
		enc  func() []byte
		lim  Limits
		want error
		path string // must appear in the error, if set
	}{
		{"empty", func() []byte { return nil }, Limits{}, ErrMalformed, ""},
		{"bad magic", func() []byte { b := newRaw(cs).end(0); b[0] = 'X'; return b }, Limits{}, ErrMalformed, ""},
		{"version 1", func() []byte { b := newRaw(cs).end(0); b[4] = 1; return b }, Limits{}, ErrMalformed, ""},
		{"version 3", func() []byte { b := newRaw(cs).end(0); b[4] = 3; return b }, Limits{}, ErrMalformed, ""},
		{"chunk size not power of two", func() []byte { return newRaw(cs + 1).end(0) }, Limits{}, ErrInvalid, ""},
		{"chunk size too small", func() []byte { return newRaw(cs / 2).end(0) }, Limits{}, ErrInvalid, ""},
		{"chunk size too big", func() []byte { return newRaw(MaxChunkSize * 2).end(0) }, Limits{}, ErrInvalid, ""},
		{"unknown tag", func() []byte { r := newRaw(cs); r.u8(9); return r.end(0) }, Limits{}, ErrMalformed, ""},
		{"unknown kind", func() []byte { r := newRaw(cs); r.head(7, "k", 0, 0); return r.end(1) }, Limits{}, ErrInvalid, "k"},
		{"truncated", func() []byte { b := newRaw(cs); b.dir("a"); return b.Bytes() }, Limits{}, ErrMalformed, ""},
		{"truncated trailer", func() []byte { b := newRaw(cs); b.dir("a"); e := b.end(1); return e[:len(e)-1] }, Limits{}, ErrMalformed, ""},
		{"trailer count high", func() []byte { r := newRaw(cs); r.dir("a"); return r.end(2) }, Limits{}, ErrMalformed, ""},
		{"trailer count low", func() []byte { r := newRaw(cs); r.dir("a"); return r.end(0) }, Limits{}, ErrMalformed, ""},
		{"duplicate", func() []byte { r := newRaw(cs); r.dir("a"); r.dir("a"); return r.end(2) }, Limits{}, ErrInvalid, "a"},
		{"unsorted", func() []byte { r := newRaw(cs); r.dir("b"); r.dir("a"); return r.end(2) }, Limits{}, ErrInvalid, "a"},
		{"missing parent", func() []byte { r := newRaw(cs); r.file("a/f", 0, 0); return r.end(1) }, Limits{}, ErrInvalid, "a/f"},
		{"parent is a file", func() []byte { r := newRaw(cs); r.file("a", 0, 0); r.file("a/f", 0, 0); return r.end(2) }, Limits{}, ErrInvalid, "a/f"},
		{"parent is a symlink", func() []byte { r := newRaw(cs); r.link("a", "b"); r.file("a/f", 0, 0); return r.end(2) }, Limits{}, ErrInvalid, "a/f"},
		// Byte order, no longer canonical: "a b" and "a.txt" sort after "a/f" in component order.
		{"byte order, space", func() []byte { r := newRaw(cs); r.dir("a"); r.dir("a b"); r.file("a/f", 0, 0); return r.end(3) }, Limits{}, ErrInvalid, "a/f"},
		{"byte order, dot", func() []byte {
			r := newRaw(cs)
			r.dir("a")
			r.file("a.txt", 0, 0)
			r.file("a/x", 0, 0)
			return r.end(3)
		}, Limits{}, ErrInvalid, "a/x"},
		{"parent not dir, sibling between", func() []byte { r := newRaw(cs); r.file("a", 0, 0); r.file("a/f", 0, 0); r.dir("a b"); return r.end(3) }, Limits{}, ErrInvalid, "a/f"},
		// A subtree after a sibling: the parent was seen, but is no longer an ancestor.
		{"subtree after sibling", func() []byte { r := newRaw(cs); r.dir("a"); r.dir("b"); r.file("a/f", 0, 0); return r.end(3) }, Limits{}, ErrInvalid, "a/f"},
		{"subtree after nephew", func() []byte {
			r := newRaw(cs)
			r.dir("a")
			r.dir("a/b")
			r.file("a/b/c", 0, 0)
			r.dir("a/c")
			r.file("a/b/d", 0, 0)
			return r.end(5)
		}, Limits{}, ErrInvalid, "a/b/d"},
		// The ancestor on the stack is a grandparent: the parent is missing.
		{"missing middle dir", func() []byte {
			r := newRaw(cs)
			r.dir("a")
			r.dir("a/b")
			r.file("a/b/c", 0, 0)
			r.file("a/x/y", 0, 0)
			return r.end(4)
		}, Limits{}, ErrInvalid, "a/x/y"},
		{"dotdot path", func() []byte { r := newRaw(cs); r.file("..", 0, 0); return r.end(1) }, Limits{}, ErrInvalid, ".."},
		{"absolute path", func() []byte { r := newRaw(cs); r.file("/etc", 0, 0); return r.end(1) }, Limits{}, ErrInvalid, "/etc"},
		{"empty path", func() []byte { r := newRaw(cs); r.file("", 0, 0); return r.end(1) }, Limits{}, ErrInvalid, ""},
		{"NUL path", func() []byte { r := newRaw(cs); r.file("a\x00b", 0, 0); return r.end(1) }, Limits{}, ErrInvalid, ""},
		{"mode bits", func() []byte { r := newRaw(cs); r.head(KindDir, "d", 0o4755, 0); return r.end(1) }, Limits{}, ErrInvalid, "d"},
		{"absolute symlink", func() []byte { r := newRaw(cs); r.link("l", "/etc/passwd"); return r.end(1) }, Limits{}, ErrSymlinkEscapes, "l"},
		{"escaping symlink", func() []byte { r := newRaw(cs); r.dir("d"); r.link("d/l", "../../x"); return r.end(2) }, Limits{}, ErrSymlinkEscapes, "d/l"},
		{"empty symlink", func() []byte { r := newRaw(cs); r.link("l", ""); return r.end(1) }, Limits{}, ErrInvalid, "l"},
		{"too few hashes", func() []byte { r := newRaw(cs); r.file("f", cs+1, 1); return r.end(1) }, Limits{}, ErrMalformed, ""},
		{"file too large", func() []byte { r := newRaw(cs); r.file("f", 1<<20, 0); return r.end(1) }, Limits{MaxFileSize: 1 << 19}, ErrTooLarge, "f"},
		{"size over 2^63", func() []byte { r := newRaw(cs); r.file("f", 1<<63, 0); return r.end(1) }, Limits{}, ErrTooLarge, "f"},
		{"total too large", func() []byte { r := newRaw(cs); r.file("f", 10, 1); r.file("g", 10, 1); return r.end(2) }, Limits{MaxTotalSize: 15}, ErrTooLarge, "g"},
		{"too many entries", func() []byte { r := newRaw(cs); r.dir("a"); r.dir("b"); r.dir("c"); return r.end(3) }, Limits{MaxEntries: 2}, ErrTooLarge, ""},
		{"path too long", func() []byte { r := newRaw(cs); r.dir(strings.Repeat("a", 101)); return r.end(1) }, Limits{MaxPathLen: 100}, ErrTooLarge, ""},
		{"target too long", func() []byte { r := newRaw(cs); r.link("l", strings.Repeat("a", 101)); return r.end(1) }, Limits{MaxPathLen: 100}, ErrTooLarge, "l"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, root, err := Decode(bytes.NewReader(c.enc()), c.lim)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if m != nil || root != (Hash{}) {
				t.Errorf("returned a manifest or root with an error")
			}
			if c.path != "" && !strings.Contains(err.Error(), "\""+c.path) {
				t.Errorf("error %q does not name %q", err, c.path)
			}
			// DecodeTable is the same decoder: the same error, word for word.
			tab, terr := DecodeTable(bytes.NewReader(c.enc()), t.TempDir(), c.lim)
			if tab != nil || terr == nil || terr.Error() != err.Error() {
				t.Errorf("DecodeTable = %v, %v; Decode failed with %v", tab, terr, err)
			}
		})
	}
}

// countingReader counts bytes handed out.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestDecodeLimitsBeforeReading checks that oversized lengths are rejected
// from the header fields alone, before the bytes they announce are read.
func TestDecodeLimitsBeforeReading(t *testing.T) {
	// A path length of 65535 followed by nothing: the limit must fire
	// before Decode tries to read (and allocate) the path.
	r := newRaw(MinChunkSize)
	r.u8(1)
	r.u8(uint8(KindFile))
	r.u16(0xffff)
	cr := &countingReader{r: bytes.NewReader(r.Bytes())}
	if _, _, err := Decode(cr, Limits{}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("path length: err = %v, want ErrTooLarge", err)
	}
	// A 1 PiB file announces 2^30 hashes; with a 1 TiB file limit the size
	// check must fire before any hash is read.
	r = newRaw(MinChunkSize)
	r.head(KindFile, "f", 0o644, 0)
	r.u64(1 << 50)
	hdr := int64(r.Len())
	r.Write(make([]byte, 32*10))
	cr = &countingReader{r: bytes.NewReader(r.Bytes())}
	if _, _, err := Decode(cr, Limits{MaxFileSize: 1 << 40}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("file size: err = %v, want ErrTooLarge", err)
	}
	if cr.n != hdr {
		t.Errorf("read %d bytes, want to stop at %d (before the hashes)", cr.n, hdr)
	}
}

// TestDecodeHostileCountSmallMemory announces a huge (allowed) file and
// sends few hashes: Decode must fail without allocating for the count.
func TestDecodeHostileCountSmallMemory(t *testing.T) {
	r := newRaw(MinChunkSize)
	r.head(KindFile, "f", 0o644, 0)
	r.u64(1 << 44) // 2^28 hashes = 8 GiB of hashes if preallocated
	r.Write(make([]byte, 32*3))
	allocs := testing.AllocsPerRun(1, func() {
		if _, _, err := Decode(bytes.NewReader(r.Bytes()), Limits{}); !errors.Is(err, ErrMalformed) {
			t.Fatalf("err = %v, want ErrMalformed", err)
		}
	})
	if allocs > 100 {
		t.Errorf("%v allocations", allocs)
	}
}

func TestEncodeRefusesUnencodable(t *testing.T) {
	cases := map[string]*Manifest{
		"chunk count":  {ChunkSize: MinChunkSize, Entries: []Entry{{Path: "f", Kind: KindFile, Size: 10}}},
		"kind":         {ChunkSize: MinChunkSize, Entries: []Entry{{Path: "f", Kind: 9}}},
		"long path":    {ChunkSize: MinChunkSize, Entries: []Entry{{Path: strings.Repeat("a", 70000), Kind: KindDir}}},
		"dir size":     {ChunkSize: MinChunkSize, Entries: []Entry{{Path: "d", Kind: KindDir, Size: 1}}},
		"neg size":     {ChunkSize: MinChunkSize, Entries: []Entry{{Path: "f", Kind: KindFile, Size: -1}}},
		"file target":  {ChunkSize: MinChunkSize, Entries: []Entry{{Path: "f", Kind: KindFile, Target: "x"}}},
		"zero chunksz": {Entries: []Entry{{Path: "f", Kind: KindFile, Size: 1, Chunks: make([]Hash, 1)}}},
	}
	for name, m := range cases {
		if err := Encode(io.Discard, m); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Encode err = %v, want ErrInvalid", name, err)
		}
		if _, err := m.RootErr(); err == nil || m.Root() != (Hash{}) {
			t.Errorf("%s: Root of an unencodable manifest is not zero", name)
		}
	}
}

func TestEncodeWriterError(t *testing.T) {
	m := randManifest(t, rand.New(rand.NewPCG(5, 5)), 5000)
	werr := errors.New("pipe closed")
	if err := Encode(errWriter{werr}, m); !errors.Is(err, werr) {
		t.Fatalf("err = %v, want %v", err, werr)
	}
}

type errWriter struct{ err error }

func (w errWriter) Write([]byte) (int, error) { return 0, w.err }
