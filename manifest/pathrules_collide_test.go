package manifest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// tree builds a valid manifest table from specs: "d:" marks a directory,
// "l:" a symlink (to "."), anything else is an empty file.
func tree(tb testing.TB, specs ...string) *Table {
	tb.Helper()
	m := &Manifest{ChunkSize: MinChunkSize}
	for _, s := range specs {
		e := Entry{Kind: KindFile, Mode: 0o644}
		switch {
		case strings.HasPrefix(s, "d:"):
			e.Kind, e.Mode, s = KindDir, 0o755, s[2:]
		case strings.HasPrefix(s, "l:"):
			e.Kind, e.Mode, e.Target, s = KindSymlink, 0, ".", s[2:]
		}
		e.Path = s
		m.Entries = append(m.Entries, e)
	}
	slices.SortFunc(m.Entries, func(a, b Entry) int { return ComparePaths(a.Path, b.Path) })
	if err := m.Validate(Limits{}); err != nil {
		tb.Fatal(err)
	}
	t, err := NewTable(m, tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { t.Close() })
	return t
}

// problems runs CheckTable and renders each problem as
// "path reason other systems" for comparison.
func problems(tb testing.TB, src entrySource, rs ...Rules) []string {
	tb.Helper()
	var got []string
	err := checkEntries(context.Background(), src, rs, func(p Problem) error {
		e, err := src.Entry(p.Index)
		if err != nil || e.Path != p.Path {
			tb.Fatalf("problem %v: index %d is %q (%v)", p, p.Index, e.Path, err)
		}
		s := fmt.Sprintf("%s %d", p.Path, p.Reason)
		if p.Reason.Collision() {
			s += " " + p.Other
		}
		got = append(got, s+" "+p.Systems.String())
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return got
}

func pr(path string, r Reason, other string, s System) string {
	if other != "" {
		return fmt.Sprintf("%s %d %s %s", path, r, other, s)
	}
	return fmt.Sprintf("%s %d %s", path, r, s)
}

// TestCollisions checks collisions across whole manifests with the rules of
// every case-insensitive family, and that case-sensitive ones see none.
func TestCollisions(t *testing.T) {
	const ci = SysWindows | SysFAT // case-insensitive, normalization kept
	cs := ReasonCaseCollision
	cases := []struct {
		name  string
		specs []string
		want  []string // under RulesWindows and RulesFAT
	}{
		{"file against file", []string{"A.txt", "a.txt"},
			[]string{pr("a.txt", cs, "A.txt", ci)}},
		{"file against directory", []string{"X", "d:x", "x/y"},
			[]string{pr("x", cs, "X", ci)}},
		{"directory against file", []string{"d:X", "X/y", "x"},
			[]string{pr("x", cs, "X", ci)}},
		{"directories merge", []string{"d:D", "d:d"}, nil},
		{"merged directories, children differ", []string{"d:a", "d:a/B", "a/B/c", "d:a/b", "a/b/d"}, nil},
		{"merged directories, children collide", []string{"d:a", "d:a/B", "a/B/c", "d:a/b", "a/b/C"},
			[]string{pr("a/b/C", cs, "a/B/c", ci)}},
		{"deep: same path in two cases", []string{"d:top", "d:top/Sub", "d:top/Sub/deep", "top/Sub/deep/f", "d:top/sub", "d:top/sub/DEEP", "top/sub/DEEP/F"},
			[]string{pr("top/sub/DEEP/F", cs, "top/Sub/deep/f", ci)}},
		{"directory against file below merged directories", []string{"d:p", "d:p/Q", "d:p/Q/r", "d:p/q", "p/q/R"},
			[]string{pr("p/q/R", cs, "p/Q/r", ci)}},
		{"symlink against directory", []string{"d:L", "l:l"},
			[]string{pr("l", cs, "L", ci)}},
		{"three ways", []string{"AB", "Ab", "aB", "ab"},
			[]string{pr("Ab", cs, "AB", ci), pr("aB", cs, "AB", ci), pr("ab", cs, "AB", ci)}},
		{"non-ASCII letters", []string{"\u00c9t\u00e9", "\u00e9t\u00c9"},
			[]string{pr("\u00e9t\u00c9", cs, "\u00c9t\u00e9", ci)}},
		{"long s folds with s", []string{"\u017f", "s"},
			[]string{pr("\u017f", cs, "s", ci)}},
		{"sharp s and capital sharp s", []string{"\u00df", "\u1e9e"},
			[]string{pr("\u1e9e", cs, "\u00df", ci)}},
		{"sharp s and SS stay apart", []string{"SS", "\u00df"}, nil},
		{"invalid UTF-8 kept as bytes", []string{"\xff", "\xfe", "A\xff", "a\xff"},
			[]string{pr("a\xff", cs, "A\xff", ci)}},
		{"no collision", []string{"d:a", "a/b", "a/c", "b"}, nil},
	}
	// Only the folds here: TestRulesCheck has the per-entry rules (invalid
	// UTF-8 would be refused by itself on these systems).
	folds := func(r Rules) Rules { r.UTF8Only = false; return r }
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tab := tree(t, c.specs...)
			if got := problems(t, tab, folds(RulesWindows), folds(RulesFAT)); !slices.Equal(got, c.want) {
				t.Errorf("windows+fat:\n got %q\nwant %q", got, c.want)
			}
			if got := problems(t, tab, RulesLinux, RulesUnix); len(got) != 0 {
				t.Errorf("linux+unix: %q, want none", got)
			}
			// macOS folds case and normalization: the same pairs, for
			// valid (NFC) manifests.
			var mac []string
			for _, w := range c.want {
				mac = append(mac, strings.Replace(w, ci.String(), SysDarwin.String(), 1))
			}
			if got := problems(t, tab, folds(RulesDarwin)); !slices.Equal(got, mac) {
				t.Errorf("macos:\n got %q\nwant %q", got, mac)
			}
		})
	}
}

// sliceSource is an entrySource over paths that need not be a valid
// manifest: the collision rules for names that differ only in Unicode
// normalization, which a valid manifest (NFC only) cannot hold.
type sliceSource []Entry

func (s sliceSource) Len() int { return len(s) }
func (s sliceSource) Scan(_ context.Context, fn func(int, *Entry) error) error {
	for i := range s {
		e := s[i]
		if err := fn(i, &e); err != nil {
			return err
		}
	}
	return nil
}
func (s sliceSource) Entry(i int) (Entry, error) { return s[i], nil }

func TestNormalizationCollisions(t *testing.T) {
	nfc, nfd := "caf\u00e9", "cafe\u0301"
	src := sliceSource{{Path: nfd, Kind: KindFile}, {Path: nfc, Kind: KindFile}, {Path: "CAFE\u0301", Kind: KindFile}}
	d := RulesDarwin
	d.UTF8Only = false
	got := problems(t, src, d)
	want := []string{pr(nfc, ReasonNormCollision, nfd, SysDarwin), pr("CAFE\u0301", ReasonCaseCollision, nfd, SysDarwin)}
	if !slices.Equal(got, want) {
		t.Errorf("macos:\n got %q\nwant %q", got, want)
	}
	// NTFS and exFAT keep normalization: only the case pair collides.
	got = problems(t, src, RulesWindows)
	want = []string{pr("CAFE\u0301", ReasonCaseCollision, nfd, SysWindows)}
	if !slices.Equal(got, want) {
		t.Errorf("windows:\n got %q\nwant %q", got, want)
	}
	// Normalization alone (a case-sensitive APFS volume).
	got = problems(t, src, Rules{System: SysDarwin, NormInsensitive: true})
	want = []string{pr(nfc, ReasonNormCollision, nfd, SysDarwin)}
	if !slices.Equal(got, want) {
		t.Errorf("case-sensitive macos:\n got %q\nwant %q", got, want)
	}
}

// TestCheckTablePortable runs every family's rules at once: each problem
// names the families that share it.
func TestCheckTablePortable(t *testing.T) {
	tab := tree(t, "d:CON", "CON/x:y", "README", "readme", "ok.txt", strings.Repeat("\u00e9", 128))
	got := problems(t, tab, AllRules()...)
	want := []string{
		pr("CON", ReasonReserved, "", SysWindows),
		pr("CON/x:y", ReasonReserved, "", SysWindows), // the first reason: its directory's
		pr("CON/x:y", ReasonColon, "", SysFAT),
		pr(strings.Repeat("\u00e9", 128), ReasonNameTooLong, "", SysLinux|SysDarwin|SysUnix),
		// One report per kind of insensitivity: macOS's (case and
		// normalization), then Windows' and FAT's (case).
		pr("readme", ReasonCaseCollision, "README", SysDarwin),
		pr("readme", ReasonCaseCollision, "README", SysWindows|SysFAT),
	}
	if !slices.Equal(got, want) {
		t.Errorf("\n got %q\nwant %q", got, want)
	}
}

func TestCheckTableStops(t *testing.T) {
	tab := tree(t, "A", "B", "a", "b")
	stop := fmt.Errorf("stop")
	n := 0
	err := CheckTable(context.Background(), tab, []Rules{RulesWindows}, func(Problem) error { n++; return stop })
	if err != stop || n != 1 {
		t.Errorf("CheckTable = %v after %d problems, want stop after 1", err, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := CheckTable(ctx, tab, []Rules{RulesWindows}, func(Problem) error { return nil }); err != context.Canceled {
		t.Errorf("cancelled CheckTable = %v", err)
	}
}

func TestFoldKey(t *testing.T) {
	cases := []struct {
		r       Rules
		a, b    string
		collide bool
	}{
		{RulesWindows, "A.TXT", "a.txt", true},
		{RulesWindows, "\u00c5", "\u00e5", true},
		{RulesWindows, "\u00c5", "A\u030a", false}, // NTFS does not normalize
		{RulesDarwin, "\u00c5", "a\u030a", true},   // APFS does both
		{RulesDarwin, "\u212b", "\u00e5", true},    // the Angstrom sign is Å in NFC
		{RulesWindows, "\u212a", "k", true},        // the Kelvin sign (not NFC: only a conservative key)
		{RulesLinux, "A", "a", false},
		{RulesWindows, "\u03a3", "\u03c2", true}, // Σ and final ς
		{RulesWindows, "i", "\u0131", false},     // dotless ı is its own letter
	}
	for _, c := range cases {
		if got := c.r.FoldKey(c.a) == c.r.FoldKey(c.b); got != c.collide {
			t.Errorf("%v: FoldKey(%q) == FoldKey(%q): %v, want %v", c.r.System, c.a, c.b, got, c.collide)
		}
	}
}
