package manifest

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// smallManifest is a valid manifest in component order ("d/f" before "d.txt").
func smallManifest() *Manifest {
	return &Manifest{ChunkSize: MinChunkSize, Entries: []Entry{
		{Path: "d", Kind: KindDir, Mode: 0o755, MTime: 1},
		{Path: "d/f", Kind: KindFile, Mode: 0o644, MTime: -2, Size: 3, Chunks: []Hash{HashChunk([]byte("abc"))}},
		{Path: "d/l", Kind: KindSymlink, Target: "f"},
		{Path: "d.txt", Kind: KindFile, Mode: 0o600, MTime: 3},
	}}
}

// TestEncoderStreams writes a manifest entry by entry and gets Encode's bytes,
// which decode back to the manifest.
func TestEncoderStreams(t *testing.T) {
	m := smallManifest()
	var buf bytes.Buffer
	enc := NewEncoder(&buf, m.ChunkSize)
	for i := range m.Entries {
		must(t, enc.Add(&m.Entries[i]))
	}
	must(t, enc.Close())
	if want := encodeBytes(t, m); !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("Encoder wrote\n%x\nEncode writes\n%x", buf.Bytes(), want)
	}
	got, root, err := Decode(bytes.NewReader(buf.Bytes()), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) || root != m.Root() {
		t.Fatalf("round trip: %+v, root %s", got, root)
	}

	// No entries: header and trailer only.
	buf.Reset()
	must(t, NewEncoder(&buf, MinChunkSize).Close())
	if want := encodeBytes(t, &Manifest{ChunkSize: MinChunkSize}); !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("empty: %x, want %x", buf.Bytes(), want)
	}
}

// TestEncoderRefuses checks that an entry that cannot be encoded is refused
// without writing anything, and that the encoder goes on.
func TestEncoderRefuses(t *testing.T) {
	m := smallManifest()
	var buf bytes.Buffer
	enc := NewEncoder(&buf, m.ChunkSize)
	bad := []Entry{
		{Path: "x", Kind: KindFile, Size: 3},               // chunk missing
		{Path: "x", Kind: KindDir, Size: 1},                // size on a dir
		{Path: "x", Kind: Kind(9)},                         // unknown kind
		{Path: string(make([]byte, 70000)), Kind: KindDir}, // path too long
	}
	for i := range m.Entries {
		for j := range bad {
			if err := enc.Add(&bad[j]); !errors.Is(err, ErrInvalid) {
				t.Fatalf("Add(%v) = %v, want ErrInvalid", bad[j].Kind, err)
			}
		}
		must(t, enc.Add(&m.Entries[i]))
	}
	must(t, enc.Close())
	if !bytes.Equal(buf.Bytes(), encodeBytes(t, m)) {
		t.Fatal("refused entries changed the encoding")
	}
	if err := enc.Add(&m.Entries[0]); err == nil {
		t.Error("Add after Close succeeded")
	}
	if err := enc.Close(); err == nil {
		t.Error("second Close succeeded")
	}
}

// failWriter accepts n bytes, then fails.
type failWriter struct{ n int }

var errWrite = errors.New("disk full")

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		k := w.n
		w.n = 0
		return k, errWrite
	}
	w.n -= len(p)
	return len(p), nil
}

// TestEncoderWriteErrorSticks checks that a write error reaches Add once
// the buffer flushes, and every later call.
func TestEncoderWriteErrorSticks(t *testing.T) {
	size := int64(200 * MinChunkSize) // 200 hashes: 6.4 KB per entry
	e := Entry{Path: "f", Kind: KindFile, Size: size, Chunks: make([]Hash, ChunkCount(size, MinChunkSize))}
	enc := NewEncoder(&failWriter{n: 100_000}, MinChunkSize)
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		err = enc.Add(&e)
	}
	if !errors.Is(err, errWrite) {
		t.Fatalf("Add = %v, want the write error", err)
	}
	if err := enc.Add(&Entry{Path: "g", Kind: KindDir}); !errors.Is(err, errWrite) {
		t.Errorf("Add after a write error = %v", err)
	}
	if err := enc.Close(); !errors.Is(err, errWrite) {
		t.Errorf("Close after a write error = %v", err)
	}
	// A failure at the final flush goes to Close.
	enc = NewEncoder(&failWriter{n: 10}, MinChunkSize)
	must(t, enc.Add(&Entry{Path: "d", Kind: KindDir}))
	if err := enc.Close(); !errors.Is(err, errWrite) {
		t.Errorf("Close = %v, want the write error", err)
	}
}
