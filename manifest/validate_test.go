package manifest

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestValidatePath(t *testing.T) {
	long := strings.Repeat("a/", DefaultLimits.MaxPathLen/2) + "b" // 4097 bytes
	cases := []struct {
		p    string
		want error // nil = valid
	}{
		{"a", nil},
		{"a/b/c", nil},
		{"a b/c\\d", nil},            // backslash is an ordinary byte
		{"\xff\xfe/x", nil},          // not UTF-8: fine on Linux
		{"..a/b..", nil},             // dots inside names are fine
		{".hidden/.x", nil},          // leading dot is fine
		{"a/.pcp-partial-0123", nil}, // reserved only at the top level
		{".pcp", nil},
		{".pcp-partial-0123456789abcdef", ErrReserved},
		{".pcp-x/5", ErrReserved},
		{".pcp-", ErrReserved},
		{strings.Repeat("a", DefaultLimits.MaxPathLen), nil},
		{"", ErrInvalid},
		{"../x", ErrInvalid},
		{"..", ErrInvalid},
		{".", ErrInvalid},
		{"/etc/x", ErrInvalid},
		{"/", ErrInvalid},
		{"a/../../x", ErrInvalid},
		{"a/..", ErrInvalid},
		{"a//b", ErrInvalid},
		{"a/./b", ErrInvalid},
		{"./a", ErrInvalid},
		{"a/", ErrInvalid},
		{"a\x00b", ErrInvalid},
		{"\x00", ErrInvalid},
		{long, ErrTooLarge},
		{strings.Repeat("a", DefaultLimits.MaxPathLen+1), ErrTooLarge},
	}
	for _, c := range cases {
		err := ValidatePath(c.p)
		if c.want == nil && err != nil {
			t.Errorf("ValidatePath(%.40q) = %v, want ok", c.p, err)
		}
		if c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("ValidatePath(%.40q) = %v, want %v", c.p, err, c.want)
		}
	}
}

func TestValidateTarget(t *testing.T) {
	cases := []struct {
		link, target string
		want         error
	}{
		{"l", "x", nil},
		{"l", ".", nil}, // the receiving directory itself
		{"l", "./x", nil},
		{"l", "x/", nil},
		{"d/e/l", "..", nil},
		{"d/l", "..", ErrSymlinkEscapes}, // the destination directory
		{"d/l", "../d/x", nil},
		{"d/e/l", "../../d/y", nil},
		{"d/e/l", "../x", nil},
		{"d/l", "../x", ErrSymlinkEscapes},        // a sibling of d in the destination
		{"d/e/l", "../../x/y", ErrSymlinkEscapes}, // idem
		{"d/l", "../d2", ErrSymlinkEscapes},
		{"d/l", "x/./y", nil},
		{"l", "..", ErrSymlinkEscapes},
		{"l", "../x", ErrSymlinkEscapes},
		{"d/l", "../..", ErrSymlinkEscapes},
		{"d/l", "../../x", ErrSymlinkEscapes},
		{"l", "/etc/passwd", ErrSymlinkEscapes},
		{"l", "/", ErrSymlinkEscapes},
		{"d/l", "x/../..", ErrSymlinkEscapes},   // lexically escapes too
		{"a/b/t", "s/../..", ErrSymlinkEscapes}, // lexically "a", physically maybe the parent
		{"l", "x/..", ErrSymlinkEscapes},        // ".." after a name
		{"l", "", ErrInvalid},
		{"l", "a\x00b", ErrInvalid},
		{"l", strings.Repeat("a", DefaultLimits.MaxPathLen+1), ErrTooLarge},
	}
	for _, c := range cases {
		err := ValidateTarget(c.link, c.target)
		if c.want == nil && err != nil {
			t.Errorf("ValidateTarget(%q, %.40q) = %v, want ok", c.link, c.target, err)
		}
		if c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("ValidateTarget(%q, %.40q) = %v, want %v", c.link, c.target, err, c.want)
		}
	}
	if !errors.Is(ErrSymlinkEscapes, ErrInvalid) {
		t.Error("ErrSymlinkEscapes does not wrap ErrInvalid")
	}
}

func TestValidateManifest(t *testing.T) {
	h := make([]Hash, 1)
	ok := func() *Manifest {
		return &Manifest{ChunkSize: MinChunkSize, Entries: []Entry{
			{Path: "a", Kind: KindDir, Mode: 0o755},
			{Path: "a/f", Kind: KindFile, Mode: 0o644, Size: 1, Chunks: h},
			{Path: "a/l", Kind: KindSymlink, Target: "f"},
			{Path: "b", Kind: KindFile},
		}}
	}
	if err := ok().Validate(Limits{}); err != nil {
		t.Fatalf("valid manifest: %v", err)
	}
	cases := []struct {
		name   string
		mutate func(m *Manifest)
		lim    Limits
		want   error
	}{
		{"chunk size 0", func(m *Manifest) { m.ChunkSize = 0 }, Limits{}, ErrInvalid},
		{"unsorted", func(m *Manifest) { m.Entries[0], m.Entries[3] = m.Entries[3], m.Entries[0] }, Limits{}, ErrInvalid},
		{"chunk count", func(m *Manifest) { m.Entries[1].Size = MinChunkSize + 1 }, Limits{}, ErrInvalid},
		{"dir with chunks", func(m *Manifest) { m.Entries[0].Chunks = h }, Limits{}, ErrInvalid},
		{"symlink with size", func(m *Manifest) { m.Entries[2].Size = 1 }, Limits{}, ErrInvalid},
		{"dir with target", func(m *Manifest) { m.Entries[0].Target = "x" }, Limits{}, ErrInvalid},
		{"file with target", func(m *Manifest) { m.Entries[3].Target = "x" }, Limits{}, ErrInvalid},
		{"escaping link", func(m *Manifest) { m.Entries[2].Target = "../../x" }, Limits{}, ErrSymlinkEscapes},
		{"negative size", func(m *Manifest) { m.Entries[3].Size = -1 }, Limits{}, ErrInvalid},
		{"setuid", func(m *Manifest) { m.Entries[1].Mode = 0o4755 }, Limits{}, ErrInvalid},
		{"entries", func(m *Manifest) {}, Limits{MaxEntries: 3}, ErrTooLarge},
		{"path len", func(m *Manifest) {}, Limits{MaxPathLen: 2}, ErrTooLarge},
		{"file size", func(m *Manifest) { m.Entries[3].Size = 1 << 20; m.Entries[3].Chunks = make([]Hash, 16) }, Limits{MaxFileSize: 1 << 19}, ErrTooLarge},
		{"total size", func(m *Manifest) { m.Entries[3].Size = 1; m.Entries[3].Chunks = h }, Limits{MaxTotalSize: 1}, ErrTooLarge},
	}
	for _, c := range cases {
		m := ok()
		c.mutate(m)
		if err := m.Validate(c.lim); !errors.Is(err, c.want) {
			t.Errorf("%s: Validate = %v, want %v", c.name, err, c.want)
		}
	}
}

// TestLimitsZeroFieldsDefault checks that zero Limits fields take defaults
// and set fields apply.
func TestLimitsZeroFieldsDefault(t *testing.T) {
	got := Limits{MaxEntries: 5}.withDefaults()
	want := DefaultLimits
	want.MaxEntries = 5
	if got != want {
		t.Fatalf("withDefaults = %+v, want %+v", got, want)
	}
}

// TestComparePaths pins component order with known answers and checks it
// against its two definitions: components compared as bytes, and byte order
// after mapping "/" to NUL.
func TestComparePaths(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"a", "a", 0},
		{"a", "b", -1},
		{"a", "a/x", -1},       // a directory before its subtree
		{"a/x", "a.txt", -1},   // the subtree before a longer sibling name
		{"a/x", "a b", -1},     // "/" before " " (0x20)
		{"a/y/z", "a.txt", -1}, //
		{"a/y/z", "a/y", 1},
		{"a/b/c", "a/bc", -1},
		{"a/\x01", "a\x01", -1}, // "/" before every byte a path may hold
		{"ab", "a/b", 1},
		{"a\xff", "a/\xff", 1},
		{"", "a", -1},
	}
	for _, c := range cases {
		if got := ComparePaths(c.a, c.b); got != c.want {
			t.Errorf("ComparePaths(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
		if got := ComparePaths(c.b, c.a); got != -c.want {
			t.Errorf("ComparePaths(%q, %q) = %d, want %d", c.b, c.a, got, -c.want)
		}
	}
	want := []string{"a", "a/x", "a/y", "a/y/z", "a b", "a.txt", "a0", "b", "b/a", "b\xff"}
	got := slices.Clone(want)
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(got), func(i, j int) { got[i], got[j] = got[j], got[i] })
	slices.SortFunc(got, ComparePaths)
	if !slices.Equal(got, want) {
		t.Errorf("sorted %q, want %q", got, want)
	}

	byComponents := func(a, b string) int {
		return slices.Compare(strings.Split(a, "/"), strings.Split(b, "/"))
	}
	byNUL := func(a, b string) int {
		return strings.Compare(strings.ReplaceAll(a, "/", "\x00"), strings.ReplaceAll(b, "/", "\x00"))
	}
	randPath := func() string {
		var p []string
		for range 1 + rng.IntN(3) {
			n := randName(rng)
			p = append(p, n[:min(len(n), 1+rng.IntN(2))])
		}
		return strings.Join(p, "/")
	}
	for range 20000 {
		a, b := randPath(), randPath()
		got := ComparePaths(a, b)
		if w := byComponents(a, b); got != w {
			t.Fatalf("ComparePaths(%q, %q) = %d, by components %d", a, b, got, w)
		}
		if w := byNUL(a, b); got != w {
			t.Fatalf("ComparePaths(%q, %q) = %d, with NUL for / %d", a, b, got, w)
		}
	}
}

// TestAncestorStack drives the parent check alone (no order check), so
// that a parent seen earlier but no longer an ancestor is caught by it.
func TestAncestorStack(t *testing.T) {
	type step struct {
		p   string
		dir bool
		ok  bool
	}
	cases := map[string][]step{
		"tree": {{"a", true, true}, {"a/b", true, true}, {"a/b/c", true, true}, {"a/b/c/d", false, true},
			{"a/e", false, true}, {"a/f", true, true}, {"a/f/g", false, true}, {"h", false, true}, {"i", true, true}, {"i/j", false, true}},
		"parent seen, popped":   {{"a", true, true}, {"a/x", false, true}, {"b", true, true}, {"a/y", false, false}},
		"parent seen, sibling":  {{"a", true, true}, {"a/b", true, true}, {"a/c", true, true}, {"a/b/d", false, false}},
		"parent a file":         {{"a", false, true}, {"a/b", false, false}},
		"grandparent only":      {{"a", true, true}, {"a/b/c", false, false}},
		"prefix but not parent": {{"a", true, true}, {"ab/c", false, false}},
		"no parent":             {{"a/b", false, false}},
		"top after deep":        {{"a", true, true}, {"a/b", true, true}, {"a/b/c", true, true}, {"z", false, true}},
	}
	for name, steps := range cases {
		var s ancestors
		for _, st := range steps {
			if got := s.parentOK(st.p); got != st.ok {
				t.Errorf("%s: parentOK(%q) = %v, want %v", name, st.p, got, st.ok)
				break
			}
			if st.dir {
				s.push(st.p)
			}
		}
	}
	// The stack holds one path and one length per level, whatever came before.
	var s ancestors
	for i := range 1000 {
		p := "d" + itoa(i)
		s.parentOK(p)
		s.push(p)
		s.parentOK(p + "/x")
		s.push(p + "/x")
	}
	if len(s.lens) != 2 || s.top != "d999/x" {
		t.Errorf("stack after 1000 siblings: top %q, %d levels", s.top, len(s.lens))
	}
}

// TestValidateComponentOrder checks that Validate wants component order,
// not byte order.
func TestValidateComponentOrder(t *testing.T) {
	m := &Manifest{ChunkSize: MinChunkSize, Entries: []Entry{
		{Path: "a", Kind: KindDir},
		{Path: "a/x", Kind: KindFile},
		{Path: "a b", Kind: KindFile},
		{Path: "a.txt", Kind: KindFile},
	}}
	if err := m.Validate(Limits{}); err != nil {
		t.Fatalf("component order: %v", err)
	}
	slices.SortFunc(m.Entries, func(a, b Entry) int { return strings.Compare(a.Path, b.Path) })
	if err := m.Validate(Limits{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("byte order: Validate = %v, want ErrInvalid", err)
	}
}
