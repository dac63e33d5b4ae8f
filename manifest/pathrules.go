package manifest

import (
	"strings"
	"unicode/utf8"
)

// Receive-path rules: which file systems can hold an entry's path, and why
// not. A valid manifest (Validate) is valid for every receiver alike;
// whether its paths can be created is a property of the destination's file
// system. So the rules of each family are data (Rules), checked by pure
// functions that do not depend on the GOOS that runs them: a Linux receiver
// and a Windows one agree on what Windows cannot hold, and the rules of
// every family are tested on Linux. See RulesLinux and its neighbours for
// the figures chosen and CheckTable for whole manifests.

// System is a set of file-system families (a bit set).
type System uint8

// The families. A receiver uses its own OS's rules, adjusted by probing its
// destination (a Linux receiver writing to an exFAT stick is
// case-insensitive).
const (
	SysLinux   System = 1 << iota // ext4, XFS, Btrfs, tmpfs
	SysDarwin                     // macOS: APFS, HFS+
	SysWindows                    // Windows: NTFS (and ReFS) through Win32
	SysFAT                        // exFAT and FAT32 on any OS (memory cards, USB sticks)
	SysUnix                       // FreeBSD and other Unix systems: UFS, ZFS
)

var systemNames = []string{"linux", "macos", "windows", "fat", "unix"}

// String names the families in s, comma-separated ("macos,windows").
func (s System) String() string {
	var parts []string
	for i, n := range systemNames {
		if s&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ",")
}

// Unit is what a length limit counts.
type Unit uint8

const (
	UnitBytes Unit = iota // bytes of UTF-8
	UnitUTF16             // UTF-16 code units (NTFS, exFAT)
)

// Rules are what one file system can hold. The zero value holds anything
// Validate accepts. Limits count Units; a zero limit is no limit.
type Rules struct {
	System System // the family these rules describe, for reports
	// CaseInsensitive: names that differ only in case are one name (see
	// FoldKey). NormInsensitive: names that differ only in Unicode
	// normalization are one name.
	CaseInsensitive, NormInsensitive bool
	// Reserved: Windows device names (CON, PRN, AUX, NUL, COM0-9, LPT0-9,
	// COM¹²³, LPT¹²³, CONIN$, CONOUT$) as a component, in any case, also
	// with an extension ("nul.txt") or trailing spaces.
	Reserved bool
	// TrailingDotSpace: a component may not end with '.' or ' ' (Win32
	// strips them, so "a." and "a" would be one file).
	TrailingDotSpace bool
	// ForbiddenChars: no ':' (an NTFS alternate data stream), none of
	// <>"|?*\ and no C0 control (0x01-0x1F).
	ForbiddenChars bool
	// UTF8Only: names must be valid UTF-8 (APFS stores UTF-8 and refuses
	// the rest; NTFS and exFAT store UTF-16).
	UTF8Only bool
	Units    Unit
	NameMax  int // one component
	PathMax  int // BaseLen plus the path, separators included
	// BaseLen is the length (in Units) of the destination directory and
	// the separator after it, which count towards PathMax. Zero checks the
	// relative path alone, as for a destination at the root.
	BaseLen int
}

// The families' rules. Path limits are those of a path the user (and any
// program) can open by name, so they include the destination (BaseLen):
//
//   - Linux: NAME_MAX 255 bytes, PATH_MAX 4096 bytes including the NUL.
//     pcp writes through os.Root, which could go deeper, but nothing else
//     could open such a file by its path.
//   - macOS: APFS holds 255 bytes of UTF-8 per name (HFS+ 255 UTF-16
//     units, never fewer) and only valid UTF-8; PATH_MAX is 1024 including
//     the NUL. Both are normalization-insensitive, and case-insensitive by
//     default (a receiver probes).
//   - Windows: 255 UTF-16 units per name. For the path, pcp takes the
//     long-path semantics, not MAX_PATH (260): Go's os package opens long
//     paths with the \\?\ prefix by itself and os.Root walks by handle, so
//     the limit is the NT one, 32,767 UTF-16 units, less the 4 of "\\?\" and
//     the NUL. The cost: programs that are not long-path aware (Explorer
//     without the LongPathsEnabled policy, many older tools) cannot open
//     files past 260 characters; pcp does not refuse those.
//   - FAT: exFAT and FAT32 (long names) forbid the NTFS characters, hold 255
//     UTF-16 units per name and fold case. Windows and the Linux kernel's
//     exfat driver drop trailing dots, so they are refused too (exfat-fuse
//     keeps them). No path limit of its own: the OS's applies.
//   - Unix (FreeBSD): NAME_MAX 255 bytes, PATH_MAX 1024 including the NUL.
var (
	RulesLinux   = Rules{System: SysLinux, NameMax: 255, PathMax: 4095}
	RulesDarwin  = Rules{System: SysDarwin, CaseInsensitive: true, NormInsensitive: true, UTF8Only: true, NameMax: 255, PathMax: 1023}
	RulesWindows = Rules{System: SysWindows, CaseInsensitive: true, Reserved: true, TrailingDotSpace: true, ForbiddenChars: true,
		UTF8Only: true, Units: UnitUTF16, NameMax: 255, PathMax: 32767 - 4 - 1}
	RulesFAT  = Rules{System: SysFAT, CaseInsensitive: true, TrailingDotSpace: true, ForbiddenChars: true, UTF8Only: true, Units: UnitUTF16, NameMax: 255}
	RulesUnix = Rules{System: SysUnix, NameMax: 255, PathMax: 1023}
)

// AllRules returns the rules of every family, for a portable report.
func AllRules() []Rules {
	return []Rules{RulesLinux, RulesDarwin, RulesWindows, RulesFAT, RulesUnix}
}

// Under returns r for entries written below the directory dir (an
// absolute local path): its length and one separator count towards PathMax.
func (r Rules) Under(dir string) Rules {
	r.BaseLen = r.length(dir) + 1
	return r
}

// Check returns why r cannot hold the entry path p by itself, or
// ReasonNone. p must be a valid entry path (ValidatePath). Collisions
// between entries are CheckTable's. When several rules fail, the first in
// the order of the Reason constants is reported.
func (r Rules) Check(p string) Reason {
	if r.UTF8Only && !utf8.ValidString(p) {
		return ReasonNotUTF8
	}
	worst := ReasonNone
	for c := range strings.SplitSeq(p, "/") {
		worst = first(worst, r.checkName(c))
	}
	if worst != ReasonNone {
		return worst
	}
	if r.PathMax > 0 && r.BaseLen+r.length(p) > r.PathMax {
		return ReasonPathTooLong
	}
	return ReasonNone
}

// checkName checks one path component.
func (r Rules) checkName(c string) Reason {
	if r.Reserved && isReserved(c) {
		return ReasonReserved
	}
	if r.TrailingDotSpace && (c[len(c)-1] == '.' || c[len(c)-1] == ' ') {
		return ReasonTrailing
	}
	if r.ForbiddenChars {
		why := ReasonNone
		for i := range len(c) {
			switch b := c[i]; {
			case b == ':':
				why = first(why, ReasonColon)
			case strings.IndexByte(`<>"|?*\`, b) >= 0:
				why = first(why, ReasonChar)
			case b < 0x20:
				why = first(why, ReasonControl)
			}
		}
		if why != ReasonNone {
			return why
		}
	}
	if r.NameMax > 0 && r.length(c) > r.NameMax {
		return ReasonNameTooLong
	}
	return ReasonNone
}

// first returns whichever of a and b comes first in the order of the
// Reason constants, ignoring ReasonNone.
func first(a, b Reason) Reason {
	if a == ReasonNone || (b != ReasonNone && b < a) {
		return b
	}
	return a
}

// length is the length of s in r's units. An invalid UTF-8 byte counts as
// one unit (it would become U+FFFD).
func (r Rules) length(s string) int {
	if r.Units != UnitUTF16 {
		return len(s)
	}
	n := 0
	for _, c := range s {
		if c >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// isReserved reports whether Windows takes the component c for a device:
// the part before the first '.' or ':', less trailing spaces, is a device
// name in any case. Microsoft lists COM0 and LPT0 too, and the superscript
// digits ¹ ² ³ count as digits.
func isReserved(c string) bool {
	base := c
	if i := strings.IndexAny(c, ".:"); i >= 0 {
		base = c[:i]
	}
	base = strings.TrimRight(base, " ")
	if len(base) < 3 {
		return false
	}
	head, tail := strings.ToUpper(base[:3]), base[3:]
	switch head {
	case "CON", "PRN", "AUX", "NUL":
		return tail == "" || (head == "CON" && (strings.EqualFold(tail, "IN$") || strings.EqualFold(tail, "OUT$")))
	case "COM", "LPT":
		if len(tail) == 1 && tail[0] >= '0' && tail[0] <= '9' {
			return true
		}
		return tail == "\u00b9" || tail == "\u00b2" || tail == "\u00b3"
	}
	return false
}
