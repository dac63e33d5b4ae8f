package manifest

import (
	"bytes"
	"math/rand/v2"
	"path"
	"strings"
	"testing"
)

func FuzzDecode(f *testing.F) {
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
