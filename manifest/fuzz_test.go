package manifest

import (
	"bytes"
	"math/rand/v2"
	"path"
	"reflect"
	"strings"
	"testing"
)

// addDecodeCorpus seeds f with valid encodings, damaged ones and
// hand-made invalid ones.
func addDecodeCorpus(f *testing.F) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, n := range []int{0, 1, 3, 12} {
		enc := encodeBytes(f, randManifest(f, rng, n))
		f.Add(enc)
		if len(enc) > 20 {
			mut := bytes.Clone(enc)
			mut[len(mut)/2] ^= 0x40
			f.Add(mut)
			f.Add(enc[:len(enc)-3])
		}
	}
	r := newRaw(MinChunkSize)
	r.dir("a")
	r.file("a/f", 3, 1)
	r.link("a/l", "f")
	f.Add(r.end(3))
	r = newRaw(MinChunkSize)
	r.link("l", "../x")
	f.Add(r.end(1))
	// Component order against byte order, and a subtree after a sibling.
	r = newRaw(MinChunkSize)
	r.dir("a")
	r.file("a/x", 1, 1)
	r.file("a.txt", 0, 0)
	f.Add(r.end(3))
	r = newRaw(MinChunkSize)
	r.dir("a")
	r.dir("b")
	r.file("a/x", 0, 0)
	f.Add(r.end(3))
}

func FuzzDecode(f *testing.F) {
	addDecodeCorpus(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bytes.NewReader(data)
		m, root, err := Decode(br, Limits{MaxPathLen: 512})
		if err != nil {
			if m != nil || root != (Hash{}) {
				t.Fatal("manifest or root returned with an error")
			}
			return
		}
		consumed := data[:len(data)-br.Len()]
		if err := m.Validate(Limits{MaxPathLen: 512}); err != nil {
			t.Fatalf("decoded manifest fails Validate: %v", err)
		}
		var out bytes.Buffer
		if err := Encode(&out, m); err != nil {
			t.Fatalf("decoded manifest does not encode: %v", err)
		}
		if !bytes.Equal(out.Bytes(), consumed) {
			t.Fatalf("re-encoding differs from the input")
		}
		if root != m.Root() || root != HashChunk(consumed) {
			t.Fatal("root mismatch")
		}
	})
}

func FuzzValidatePath(f *testing.F) {
	for _, s := range []string{"a", "a/b", "../x", "/etc/x", "a/../../x", "a//b", "a/./b", "", "a\x00b", "./a", "a/", "..a", "a\\b", "\xff"} {
		f.Add(s, "x")
	}
	f.Add("d/l", "../x")
	f.Add("a/b/t", "s/../..")
	f.Fuzz(func(t *testing.T, p, target string) {
		if err := ValidatePath(p); err == nil {
			if path.Clean(p) != p || path.IsAbs(p) || p == "." || p == ".." || strings.HasPrefix(p, "../") ||
				strings.Contains(p, "\x00") || len(p) > DefaultLimits.MaxPathLen {
				t.Fatalf("ValidatePath accepted %q", p)
			}
			if j := path.Join("/dest", p); !strings.HasPrefix(j, "/dest/") {
				t.Fatalf("%q joins to %q, outside /dest", p, j)
			}
			if err := ValidateTarget(p, target); err == nil {
				j := path.Join("/dest", path.Dir(p), target)
				if j != "/dest" && !strings.HasPrefix(j, "/dest/") {
					t.Fatalf("link %q -> %q resolves to %q, outside /dest", p, target, j)
				}
				if strings.Contains(target, "\x00") || path.IsAbs(target) {
					t.Fatalf("ValidateTarget accepted %q", target)
				}
			}
		}
	})
}

// FuzzDecodeTable checks that DecodeTable and Decode agree: both fail with
// the same error, or both succeed with the same root, reading as far, and
// the table gives back Decode's manifest.
func FuzzDecodeTable(f *testing.F) {
	addDecodeCorpus(f)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := Limits{MaxPathLen: 512}
		br := bytes.NewReader(data)
		m, root, err := Decode(br, lim)
		tr := bytes.NewReader(data)
		tab, terr := DecodeTable(tr, dir, lim)
		if err != nil || terr != nil {
			if err == nil || terr == nil || err.Error() != terr.Error() {
				t.Fatalf("Decode: %v; DecodeTable: %v", err, terr)
			}
			if tab != nil {
				t.Fatal("table returned with an error")
			}
			return
		}
		defer tab.Close()
		if tab.Root() != root || tr.Len() != br.Len() || tab.EncodedSize() != int64(len(data)-br.Len()) {
			t.Fatalf("root %s/%s, left %d/%d bytes", tab.Root().Short(), root.Short(), tr.Len(), br.Len())
		}
		got, err := tab.Manifest()
		if err != nil {
			t.Fatalf("Manifest: %v", err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatal("table's manifest differs from Decode's")
		}
		if tab.Len() != len(m.Entries) || tab.Files() != int64(m.Files()) || tab.TotalSize() != m.TotalSize() || tab.TotalChunks() != m.TotalChunks() {
			t.Fatal("totals differ")
		}
		n := 0
		if err := tab.Scan(t.Context(), func(i int, e *Entry) error {
			if i != n || !reflect.DeepEqual(*e, withoutChunks(m.Entries[i])) {
				t.Fatalf("Scan entry %d = %+v", i, *e)
			}
			n++
			return nil
		}); err != nil || n != len(m.Entries) {
			t.Fatalf("Scan: %d entries, %v", n, err)
		}
		for i := range m.Entries {
			e, err := tab.Entry(i)
			if err != nil || !reflect.DeepEqual(e, withoutChunks(m.Entries[i])) {
				t.Fatalf("Entry(%d) = %+v, %v", i, e, err)
			}
			for c, want := range m.Entries[i].Chunks {
				if h, err := tab.ChunkHash(i, int64(c)); err != nil || h != want {
					t.Fatalf("ChunkHash(%d, %d) = %s, %v", i, c, h.Short(), err)
				}
			}
		}
	})
}
