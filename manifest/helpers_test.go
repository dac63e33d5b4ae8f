package manifest

import (
	"bytes"
	"context"
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// randName returns a random valid path component, including bytes that are
// legal on Linux but awkward elsewhere (space, backslash, 0xff).
func randName(rng *rand.Rand) string {
	const alphabet = "abcxyz019 ._-\\\xff\x01"
	for {
		n := 1 + rng.IntN(12)
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		if s := string(b); s != "." && s != ".." {
			return s
		}
	}
}

// randManifest builds a valid manifest of about n entries.
func randManifest(tb testing.TB, rng *rand.Rand, n int) *Manifest {
	tb.Helper()
	m := &Manifest{ChunkSize: MinChunkSize}
	dirs := []string{""}
	seen := map[string]bool{}
	for len(m.Entries) < n {
		parent := dirs[rng.IntN(len(dirs))]
		p := randName(rng)
		if parent != "" {
			p = parent + "/" + p
		}
		if seen[p] {
			continue
		}
		seen[p] = true
		e := Entry{Path: p, Mode: uint32(rng.IntN(0o1000)), MTime: rng.Int64() - rng.Int64()}
		switch r := rng.IntN(10); {
		case r < 3:
			e.Kind = KindDir
			dirs = append(dirs, p)
		case r < 4:
			e.Kind = KindSymlink
			e.Mode = 0
			e.Target = "x/" + randName(rng)
			if strings.Count(p, "/") > 1 && rng.IntN(2) == 0 {
				e.Target = "../" + randName(rng)
			}
		default:
			e.Kind = KindFile
			switch rng.IntN(4) {
			case 0:
				e.Size = 0
			case 1:
				e.Size = int64(rng.IntN(3*MinChunkSize) + 1)
			default:
				e.Size = int64(rng.IntN(100))
			}
			for range ChunkCount(e.Size, m.ChunkSize) {
				var h Hash
				for i := range h {
					h[i] = byte(rng.Uint32())
				}
				e.Chunks = append(e.Chunks, h)
			}
		}
		m.Entries = append(m.Entries, e)
	}
	slices.SortFunc(m.Entries, func(a, b Entry) int { return ComparePaths(a.Path, b.Path) })
	if err := m.Validate(Limits{}); err != nil {
		tb.Fatalf("randManifest produced an invalid manifest: %v", err)
	}
	return m
}

// encodeBytes encodes m or fails the test.
func encodeBytes(tb testing.TB, m *Manifest) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := Encode(&buf, m); err != nil {
		tb.Fatalf("Encode: %v", err)
	}
	return buf.Bytes()
}

// rawEnc builds encodings by hand, independently of Encode, so tests can
// write what Encode refuses to.
type rawEnc struct{ bytes.Buffer }

func newRaw(chunkSize uint32) *rawEnc {
	r := &rawEnc{}
	r.WriteString("PCPM")
	r.u8(Version)
	r.u32(chunkSize)
	return r
}
func (r *rawEnc) u8(v uint8)   { r.WriteByte(v) }
func (r *rawEnc) u16(v uint16) { r.Write(binary.BigEndian.AppendUint16(nil, v)) }
func (r *rawEnc) u32(v uint32) { r.Write(binary.BigEndian.AppendUint32(nil, v)) }
func (r *rawEnc) u64(v uint64) { r.Write(binary.BigEndian.AppendUint64(nil, v)) }
func (r *rawEnc) head(kind Kind, p string, mode uint32, mtime int64) {
	r.u8(1)
	r.u8(uint8(kind))
	r.u16(uint16(len(p)))
	r.WriteString(p)
	r.u32(mode)
	r.u64(uint64(mtime))
}
func (r *rawEnc) dir(p string) { r.head(KindDir, p, 0o755, 0) }
func (r *rawEnc) file(p string, size uint64, hashes int) {
	r.head(KindFile, p, 0o644, 0)
	r.u64(size)
	for range hashes {
		r.Write(make([]byte, 32))
	}
}
func (r *rawEnc) link(p, target string) {
	r.head(KindSymlink, p, 0, 0)
	r.u16(uint16(len(target)))
	r.WriteString(target)
}
func (r *rawEnc) end(n uint64) []byte {
	r.u8(0)
	r.u64(n)
	return r.Bytes()
}

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	return context.WithCancel(t.Context())
}
