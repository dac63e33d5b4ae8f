package manifest

import (
	"errors"
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
		{"a b/c\\d", nil},   // backslash is an ordinary byte
		{"\xff\xfe/x", nil}, // not UTF-8: fine on Linux
		{"..a/b..", nil},    // dots inside names are fine
		{".hidden/.x", nil}, // leading dot is fine
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
