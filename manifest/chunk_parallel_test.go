package manifest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
)

func buffers(k, size int) [][]byte {
	b := make([][]byte, k)
	for i := range b {
		b[i] = make([]byte, size)
	}
	return b
}

// openData writes data to a new file and opens it for the test.
func openData(t *testing.T, data []byte) *os.File {
	t.Helper()
	path := filepath.Join(t.TempDir(), "f")
	writeFile(t, path, data)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// hashChunksAt gives the hashes HashChunks gives, for every split of the
// chunks among goroutines, at and around the sizes where the split changes.
func TestHashChunksAtMatchesSerial(t *testing.T) {
	const cs = MinChunkSize
	data := randomBytes(17*cs + 1)
	f := openData(t, data)
	for _, size := range []int64{1, cs, 8*cs - 1, 8 * cs, 8*cs + 1, 13 * cs, 17*cs + 1} {
		part := data[:size]
		want, err := HashChunks(t.Context(), bytes.NewReader(part), size, cs, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []int{1, 2, 3, 8} {
			// The file is longer than size except at its full length: a
			// prefix must be reported as a size mismatch, not hashed.
			var progressed atomic.Int64
			got, err := hashChunksAt(t.Context(), f, size, cs, buffers(k, cs), func(n int64) { progressed.Add(n) })
			if size < int64(len(data)) {
				if !errors.Is(err, ErrSizeMismatch) {
					t.Fatalf("size %d of a longer file, k %d: err = %v, want ErrSizeMismatch", size, k, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("size %d, k %d: %v", size, k, err)
			}
			if len(got) != len(want) {
				t.Fatalf("size %d, k %d: %d hashes, want %d", size, k, len(got), len(want))
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("size %d, k %d: hash %d = %s, want %s", size, k, i, got[i].Short(), want[i].Short())
				}
			}
			if progressed.Load() != size {
				t.Fatalf("size %d, k %d: progress total %d", size, k, progressed.Load())
			}
		}
		// The same prefix as a file of its own hashes as HashChunks does.
		got, err := hashChunksAt(t.Context(), openData(t, part), size, cs, buffers(3, cs), nil)
		if err != nil || len(got) != len(want) {
			t.Fatalf("size %d alone: %d hashes, %v", size, len(got), err)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("size %d alone: hash %d differs", size, i)
			}
		}
	}
}

func TestHashChunksAtShortAndCancelled(t *testing.T) {
	const cs = MinChunkSize
	f := openData(t, make([]byte, 9*cs))
	if _, err := hashChunksAt(t.Context(), f, 10*cs, cs, buffers(2, cs), nil); !errors.Is(err, ErrSizeMismatch) {
		t.Errorf("file shorter than size: err = %v, want ErrSizeMismatch", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := hashChunksAt(ctx, f, 9*cs, cs, buffers(2, cs), nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v, want context.Canceled", err)
	}
	if _, err := hashChunksAt(t.Context(), f, 9*cs, cs+1, buffers(2, cs), nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad chunk size: err = %v, want ErrInvalid", err)
	}
	if _, err := hashChunksAt(t.Context(), f, 9*cs, cs, nil, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("no buffers: err = %v, want ErrInvalid", err)
	}
}

// A walk hashes a large file on several goroutines and gets the hashes of
// one, whatever the number of workers; a small file beside it is hashed as
// before.
func TestWalkLargeFileParallel(t *testing.T) {
	const cs = MinChunkSize
	dir := t.TempDir()
	big := randomBytes(11*cs + 7)
	writeFile(t, filepath.Join(dir, "big"), big)
	writeFile(t, filepath.Join(dir, "small"), big[:3*cs])
	var roots []Hash
	for _, workers := range []int{1, 2, 3} {
		src, m := walkT(t, []string{dir}, WalkOptions{ChunkSize: cs, Workers: workers})
		for _, e := range m.Entries {
			var data []byte
			switch filepath.Base(e.Path) {
			case "big":
				data = big
			case "small":
				data = big[:3*cs]
			default:
				continue
			}
			want, err := HashChunks(t.Context(), bytes.NewReader(data), int64(len(data)), cs, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(e.Chunks) != len(want) {
				t.Fatalf("workers %d, %s: %d chunk hashes, want %d", workers, e.Path, len(e.Chunks), len(want))
			}
			for i := range want {
				if e.Chunks[i] != want[i] {
					t.Fatalf("workers %d, %s: chunk %d hash differs", workers, e.Path, i)
				}
			}
		}
		roots = append(roots, src.Table.Root())
	}
	if roots[0] != roots[1] || roots[1] != roots[2] {
		t.Fatalf("roots differ with the number of workers: %v", roots)
	}
}
