package manifest

import (
	"strings"
	"testing"
)

// families are the rule sets in the order of the want columns below.
var families = []struct {
	name  string
	rules Rules
}{
	{"linux", RulesLinux}, {"macos", RulesDarwin}, {"windows", RulesWindows}, {"fat", RulesFAT}, {"unix", RulesUnix},
}

const (
	none     = ReasonNone
	utf      = ReasonNotUTF8
	reserved = ReasonReserved
	trailing = ReasonTrailing
	colon    = ReasonColon
	char     = ReasonChar
	control  = ReasonControl
	longName = ReasonNameTooLong
	longPath = ReasonPathTooLong
)

// TestRulesCheck runs every rule of every family, whatever the GOOS.
// Columns: linux, macos, windows, fat, unix.
func TestRulesCheck(t *testing.T) {
	nested := func(n, depth int) string { // depth components of n bytes each
		c := strings.Repeat("d", n)
		return strings.TrimSuffix(strings.Repeat(c+"/", depth), "/")
	}
	cases := []struct {
		p    string
		want [5]Reason
	}{
		{"a/b.txt", [5]Reason{}},
		{"Makefile", [5]Reason{}},
		{"a b/c-d_e(1).txt", [5]Reason{}},

		// Windows device names: any component, any case, with an
		// extension, trailing spaces, or a stream; COM0-9, LPT0-9 and the
		// superscript digits.
		{"CON", [5]Reason{none, none, reserved, none, none}},
		{"con.txt", [5]Reason{none, none, reserved, none, none}},
		{"a/NUL.tar.gz", [5]Reason{none, none, reserved, none, none}},
		{"Prn", [5]Reason{none, none, reserved, none, none}},
		{"aux.c/x", [5]Reason{none, none, reserved, none, none}},
		{"COM1", [5]Reason{none, none, reserved, none, none}},
		{"com9.log", [5]Reason{none, none, reserved, none, none}},
		{"COM0", [5]Reason{none, none, reserved, none, none}},
		{"lpt5", [5]Reason{none, none, reserved, none, none}},
		{"COM\u00b9", [5]Reason{none, none, reserved, none, none}},
		{"lpt\u00b3.txt", [5]Reason{none, none, reserved, none, none}},
		{"LPT\u00b2", [5]Reason{none, none, reserved, none, none}},
		{"CONIN$", [5]Reason{none, none, reserved, none, none}},
		{"conout$.x", [5]Reason{none, none, reserved, none, none}},
		{"nul .txt", [5]Reason{none, none, reserved, none, none}},
		{"CON ", [5]Reason{none, none, reserved, trailing, none}},
		{"AUX:x", [5]Reason{none, none, reserved, colon, none}},
		// Not device names.
		{"COM10", [5]Reason{}},
		{"CONSOLE", [5]Reason{}},
		{"xCON", [5]Reason{}},
		{"COM\u2074", [5]Reason{}}, // superscript four is not a port
		{"LPT", [5]Reason{}},
		{"nul-device", [5]Reason{}},
		{".con", [5]Reason{}},

		// Trailing dots and spaces (any component).
		{"a.", [5]Reason{none, none, trailing, trailing, none}},
		{"a ", [5]Reason{none, none, trailing, trailing, none}},
		{"...", [5]Reason{none, none, trailing, trailing, none}},
		{"d./f", [5]Reason{none, none, trailing, trailing, none}},
		{" a.b", [5]Reason{}},

		// Characters.
		{"a:b", [5]Reason{none, none, colon, colon, none}},
		{"a/b:c/d", [5]Reason{none, none, colon, colon, none}},
		{"a<b", [5]Reason{none, none, char, char, none}},
		{"a>b", [5]Reason{none, none, char, char, none}},
		{`a"b`, [5]Reason{none, none, char, char, none}},
		{"a|b", [5]Reason{none, none, char, char, none}},
		{"a?b", [5]Reason{none, none, char, char, none}},
		{"a*b", [5]Reason{none, none, char, char, none}},
		{`a\b`, [5]Reason{none, none, char, char, none}},
		{"a\x01b", [5]Reason{none, none, control, control, none}},
		{"a\x1fb", [5]Reason{none, none, control, control, none}},
		{"a\tb", [5]Reason{none, none, control, control, none}},
		{"a\x7fb", [5]Reason{}},                              // DEL is a character on NTFS
		{"a?b:c", [5]Reason{none, none, colon, colon, none}}, // the first reason in order
		{"a\x01?", [5]Reason{none, none, char, char, none}},

		// Encoding.
		{"\xff", [5]Reason{none, utf, utf, utf, none}},
		{"a/\xc3", [5]Reason{none, utf, utf, utf, none}},
		{"caf\u00e9/\u65e5\u672c", [5]Reason{}},

		// Name length: 255 bytes, or 255 UTF-16 units on Windows and FAT.
		{strings.Repeat("a", 255), [5]Reason{}},
		{strings.Repeat("a", 256), [5]Reason{longName, longName, longName, longName, longName}},
		{"x/" + strings.Repeat("a", 256) + "/y", [5]Reason{longName, longName, longName, longName, longName}},
		{strings.Repeat("\u00e9", 128), [5]Reason{longName, longName, none, none, longName}},     // 256 bytes, 128 units
		{strings.Repeat("\U0001d11e", 127), [5]Reason{longName, longName, none, none, longName}}, // 508 bytes, 254 units
		{strings.Repeat("\U0001d11e", 128), [5]Reason{longName, longName, longName, longName, longName}},
		{strings.Repeat("a", 256) + ":", [5]Reason{longName, longName, colon, colon, longName}},

		// Path length: 1023 bytes on macOS and FreeBSD, 4095 on Linux.
		{nested(99, 10) + "/" + strings.Repeat("f", 23), [5]Reason{}}, // 1023 bytes
		{nested(99, 10) + "/" + strings.Repeat("f", 24), [5]Reason{none, longPath, none, none, longPath}},
		{nested(255, 16), [5]Reason{none, longPath, none, none, longPath}},     // 4095 bytes
		{nested(240, 17), [5]Reason{longPath, longPath, none, none, longPath}}, // 4096 bytes
	}
	for _, c := range cases {
		if err := ValidatePath(c.p); err != nil {
			t.Fatalf("case %.40q is not a valid path: %v", c.p, err)
		}
		for k, f := range families {
			if got := f.rules.Check(c.p); got != c.want[k] {
				t.Errorf("%s: Check(%.60q) = %v, want %v", f.name, c.p, got, c.want[k])
			}
		}
	}
}

// TestRulesUnder checks that the destination counts towards the path limit,
// in the family's units.
func TestRulesUnder(t *testing.T) {
	p := strings.Repeat("a/", 499) + "a"  // 999 bytes
	base := "/" + strings.Repeat("b", 22) // 23 bytes, + 1 separator: 1023 in all
	if got := RulesDarwin.Under(base).Check(p); got != none {
		t.Errorf("macos: %d bytes under %q: %v, want none", len(p), base, got)
	}
	if got := RulesDarwin.Under(base + "b").Check(p); got != longPath {
		t.Errorf("macos: 1024 bytes: %v, want %v", got, longPath)
	}
	if got := RulesLinux.Under("/" + strings.Repeat("b", 3094)).Check(p); got != none {
		t.Errorf("linux: 4095 bytes: %v, want none", got)
	}
	if got := RulesLinux.Under("/" + strings.Repeat("b", 3095)).Check(p); got != longPath {
		t.Errorf("linux: 4096 bytes: %v, want %v", got, longPath)
	}
	// Windows counts UTF-16 units: a base of 'é' counts one each.
	win := strings.Repeat("\u00e9", 32762-1000)
	if got := RulesWindows.Under(win).Check(p); got != none {
		t.Errorf("windows: 32762 units: %v, want none", got)
	}
	if got := RulesWindows.Under(win + "\u00e9").Check(p); got != longPath {
		t.Errorf("windows: 32763 units: %v, want %v", got, longPath)
	}
	if got := RulesFAT.Under(win + win).Check(p); got != none {
		t.Errorf("fat: no path limit of its own: %v", got)
	}
}

func TestReasonAndSystemText(t *testing.T) {
	if s := (SysDarwin | SysWindows).String(); s != "macos,windows" {
		t.Errorf("System.String = %q", s)
	}
	if s := System(0).String(); s != "none" {
		t.Errorf("System(0).String = %q", s)
	}
	keys := map[string]bool{}
	for r := ReasonNone; r <= ReasonNormCollision; r++ {
		if strings.HasPrefix(r.String(), "reason(") || strings.HasPrefix(r.Key(), "reason_") || keys[r.Key()] {
			t.Errorf("reason %d has no text or no key of its own: %q, %q", r, r, r.Key())
		}
		keys[r.Key()] = true
	}
	if s := Reason(200).String(); s != "reason(200)" {
		t.Errorf("unknown reason: %q", s)
	}
	p := Problem{Path: "a\x1b[2J", Reason: ReasonCaseCollision, Other: "A\u202e", Systems: SysWindows}
	want := `"a\x1b[2J": differs only in case from "A\u202e" (windows)`
	if s := p.String(); s != want {
		t.Errorf("Problem.String = %s, want %s", s, want)
	}
}
