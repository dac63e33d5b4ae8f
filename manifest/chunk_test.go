package manifest

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"testing"
	"testing/iotest"
)

func mustHex(tb testing.TB, s string) Hash {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != HashSize {
		tb.Fatalf("bad hex %q", s)
	}
	return Hash(b)
}

func TestHashChunkKnownAnswers(t *testing.T) {
	// Official BLAKE3 test vectors (b3sum).
	cases := []struct{ in, want string }{
		{"", "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"},
		{"abc", "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"},
	}
	for _, c := range cases {
		if got := HashChunk([]byte(c.in)); got != mustHex(t, c.want) {
			t.Errorf("HashChunk(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestHashChunks(t *testing.T) {
	const cs = MinChunkSize
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 3*cs+1)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	abc := mustHex(t, "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85")
	cases := []struct {
		name string
		data []byte
		want []Hash
	}{
		{"empty", nil, nil},
		{"abc", []byte("abc"), []Hash{abc}},
		{"one byte short of a chunk", data[:cs-1], []Hash{HashChunk(data[:cs-1])}},
		{"exactly one chunk", data[:cs], []Hash{HashChunk(data[:cs])}},
		{"exactly 2 chunks", data[:2*cs], []Hash{HashChunk(data[:cs]), HashChunk(data[cs : 2*cs])}},
		{"2 chunks + 1", data[:2*cs+1], []Hash{HashChunk(data[:cs]), HashChunk(data[cs : 2*cs]), HashChunk(data[2*cs : 2*cs+1])}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var progressed int64
			// HalfReader: chunk assembly must not depend on read sizes.
			got, err := HashChunks(t.Context(), iotest.HalfReader(bytes.NewReader(c.data)), int64(len(c.data)), cs, func(n int64) { progressed += n })
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) || int64(len(got)) != ChunkCount(int64(len(c.data)), cs) {
				t.Fatalf("got %d hashes, want %d", len(got), len(c.want))
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Errorf("hash %d = %s, want %s", i, got[i].Short(), c.want[i].Short())
				}
			}
			if progressed != int64(len(c.data)) {
				t.Errorf("progress total %d, want %d", progressed, len(c.data))
			}
		})
	}
}

func TestHashChunksSizeMismatch(t *testing.T) {
	data := make([]byte, 100)
	if _, err := HashChunks(t.Context(), bytes.NewReader(data), 101, MinChunkSize, nil); !errors.Is(err, ErrSizeMismatch) {
		t.Errorf("short reader: err = %v, want ErrSizeMismatch", err)
	}
	if _, err := HashChunks(t.Context(), bytes.NewReader(data), 99, MinChunkSize, nil); !errors.Is(err, ErrSizeMismatch) {
		t.Errorf("long reader: err = %v, want ErrSizeMismatch", err)
	}
	if _, err := HashChunks(t.Context(), bytes.NewReader(data), 100, MinChunkSize+1, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad chunk size: err = %v, want ErrInvalid", err)
	}
	rerr := errors.New("disk on fire")
	if _, err := HashChunks(t.Context(), iotest.ErrReader(rerr), 100, MinChunkSize, nil); !errors.Is(err, rerr) {
		t.Errorf("reader error: err = %v, want %v", err, rerr)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := HashChunks(ctx, bytes.NewReader(data), 100, MinChunkSize, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
}
