package manifest

import (
	"cmp"
	"fmt"
	"path"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// ReservedPrefix starts the top-level names the receiver keeps for itself
// (its staging directory). No entry may have a top-level component that
// starts with it, so nothing a peer names can reach the receiver's staging
// files.
const ReservedPrefix = ".pcp-"

// ErrReserved: a path's top-level component starts with ReservedPrefix.
var ErrReserved = fmt.Errorf("%w: reserved name", ErrInvalid)

// ComparePaths orders entry paths in component order: as sequences of
// "/"-separated components, each compared as bytes. It is byte order after
// mapping "/" to 0x00 (NUL is banned in paths), so a directory's whole
// subtree sorts right after it: "a", "a/x", "a/y/z", "a.txt", "b". It
// returns a negative number, zero or a positive number as a sorts before,
// equal to or after b.
func ComparePaths(a, b string) int {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	if i == n {
		return cmp.Compare(len(a), len(b))
	}
	return cmp.Compare(pathRank(a[i]), pathRank(b[i]))
}

// pathRank is the rank of byte c in component order: "/" before every
// byte but NUL (which no valid path has, so the order stays total anyway).
func pathRank(c byte) int {
	switch c {
	case 0:
		return 0
	case '/':
		return 1
	}
	return int(c) + 1
}

// ValidatePath reports whether p is acceptable as an entry path under
// DefaultLimits: non-empty, at most MaxPathLen bytes, no NUL, relative, and
// clean (no empty, "." or ".." component; path.Clean(p) == p), in Unicode
// NFC, and not under a reserved top-level name (ReservedPrefix). Names are
// bytes: invalid UTF-8 and backslashes are allowed (NFC leaves invalid
// bytes as they are). Errors wrap ErrInvalid (ErrReserved for
// a reserved name) or ErrTooLarge for length.
func ValidatePath(p string) error {
	return validatePath(p, DefaultLimits.MaxPathLen)
}

func validatePath(p string, maxLen int) error {
	switch {
	case p == "":
		return fmt.Errorf("%w: empty path", ErrInvalid)
	case len(p) > maxLen:
		return fmt.Errorf("%w: path of %d bytes exceeds %d", ErrTooLarge, len(p), maxLen)
	case strings.IndexByte(p, 0) >= 0:
		return fmt.Errorf("%w: path %q contains NUL", ErrInvalid, p)
	case p[0] == '/':
		return fmt.Errorf("%w: path %q is absolute", ErrInvalid, p)
	}
	for c := range strings.SplitSeq(p, "/") {
		if c == "" || c == "." || c == ".." {
			return fmt.Errorf("%w: path %q has an empty, \".\" or \"..\" component", ErrInvalid, p)
		}
	}
	if path.Clean(p) != p {
		return fmt.Errorf("%w: path %q is not clean", ErrInvalid, p)
	}
	if !norm.NFC.IsNormalString(p) {
		return fmt.Errorf("%w: path %q is not in Unicode NFC (names travel in NFC)", ErrInvalid, p)
	}
	if strings.HasPrefix(p, ReservedPrefix) {
		return fmt.Errorf("%w: %q: top-level names starting with %q are kept for the receiver's staging", ErrReserved, p, ReservedPrefix)
	}
	return nil
}

// ValidateTarget reports whether target is acceptable as the target of a
// symlink at linkPath under DefaultLimits. See validateTarget.
func ValidateTarget(linkPath, target string) error {
	return validateTarget(linkPath, target, DefaultLimits.MaxPathLen)
}

// validateTarget checks a symlink target: non-empty, no NUL, in NFC, at most maxLen
// bytes, relative, and staying inside the tree: path.Join(path.Dir(link),
// target) is neither ".." nor below it, and for a link below a top-level
// entry it stays inside that top-level entry. It is also stricter than that
// lexical test, because the kernel resolves a ".." after a symlinked
// component from the link's target, not lexically: with "a/b/s" -> ".." a
// link "a/b/t" -> "s/../.." cleans to "a" but resolves to the parent of the
// tree. So a ".." may only appear before every other component; then each
// link climbs at most its own (real) depth and the rest only descends, which
// keeps every chain of links inside the tree.
// Failures wrap ErrSymlinkEscapes (and so ErrInvalid), or ErrTooLarge.
func validateTarget(link, target string, maxLen int) error {
	switch {
	case target == "":
		return fmt.Errorf("%w: %q: empty symlink target", ErrInvalid, link)
	case len(target) > maxLen:
		return fmt.Errorf("%w: %q: symlink target of %d bytes exceeds %d", ErrTooLarge, link, len(target), maxLen)
	case strings.IndexByte(target, 0) >= 0:
		return fmt.Errorf("%w: %q: symlink target contains NUL", ErrInvalid, link)
	case target[0] == '/':
		return fmt.Errorf("%w: %q -> %q is absolute", ErrSymlinkEscapes, link, target)
	case !norm.NFC.IsNormalString(target):
		return fmt.Errorf("%w: %q: symlink target %q is not in Unicode NFC", ErrInvalid, link, target)
	}
	descended := false
	for c := range strings.SplitSeq(target, "/") {
		switch c {
		case "", ".":
		case "..":
			if descended {
				return fmt.Errorf("%w: %q -> %q has \"..\" after a name", ErrSymlinkEscapes, link, target)
			}
		default:
			descended = true
		}
	}
	j := path.Join(path.Dir(link), target)
	if j == ".." || strings.HasPrefix(j, "../") {
		return fmt.Errorf("%w: %q -> %q", ErrSymlinkEscapes, link, target)
	}
	// A link inside a top-level entry must stay inside that entry: the
	// sender's tree is that entry, and on the receiver anything else in the
	// destination directory is not part of the transfer.
	if top, _, nested := strings.Cut(link, "/"); nested && j != top && !strings.HasPrefix(j, top+"/") {
		return fmt.Errorf("%w: %q -> %q leaves %q", ErrSymlinkEscapes, link, target, top)
	}
	return nil
}

// withDefaults returns lim with every zero field replaced by DefaultLimits'.
func (lim Limits) withDefaults() Limits {
	if lim.MaxEntries <= 0 {
		lim.MaxEntries = DefaultLimits.MaxEntries
	}
	if lim.MaxFileSize <= 0 {
		lim.MaxFileSize = DefaultLimits.MaxFileSize
	}
	if lim.MaxTotalSize <= 0 {
		lim.MaxTotalSize = DefaultLimits.MaxTotalSize
	}
	if lim.MaxPathLen <= 0 {
		lim.MaxPathLen = DefaultLimits.MaxPathLen
	}
	return lim
}

// validator holds the running state of the semantic checks. Decode and
// DecodeTable feed it entries as they read them and Validate feeds it an
// in-memory manifest, so the rules exist once. Call order per entry: pathLen
// (before the path is read), begin (path, kind, order, parent), then for
// files fileSize (before any hash is read), then finish. Its memory is
// O(depth): the previous path and the stack of its ancestor directories.
type validator struct {
	lim       Limits
	chunkSize uint32
	entries   int64
	total     int64
	prev      string
	anc       ancestors
}

// ancestors is the stack of directories enclosing the current entry, each
// the parent of the next. As each is a prefix of the deepest, it is kept as
// that deepest path plus the length of every level: memory is one path and
// one int per level, whatever the number of entries.
type ancestors struct {
	top  string // the deepest directory; "" when the stack is empty
	lens []int  // lens[k] = len of level k's path; top[:lens[k]] is level k
}

// parentOK pops every directory that is not an ancestor of p and reports
// whether p's parent (path.Dir) is then on top of the stack (or p is
// top-level and the stack is empty). In component order the directories
// between p's parent and p all lie inside the parent, so a parent that
// appeared earlier but is no longer on the stack means the order is broken.
func (s *ancestors) parentOK(p string) bool {
	for len(s.lens) > 0 {
		d := s.top[:s.lens[len(s.lens)-1]]
		if len(p) > len(d) && p[len(d)] == '/' && p[:len(d)] == d {
			break
		}
		s.lens = s.lens[:len(s.lens)-1]
	}
	parent := ""
	if j := strings.LastIndexByte(p, '/'); j >= 0 {
		parent = p[:j]
	}
	if len(s.lens) == 0 {
		return parent == ""
	}
	return s.top[:s.lens[len(s.lens)-1]] == parent
}

// push makes dir p, a child of the top (parentOK(p) held), the new top.
func (s *ancestors) push(p string) {
	s.top = p
	s.lens = append(s.lens, len(p))
}

func newValidator(lim Limits, chunkSize uint32) (*validator, error) {
	if err := checkChunkSize(chunkSize); err != nil {
		return nil, err
	}
	return &validator{lim: lim.withDefaults(), chunkSize: chunkSize}, nil
}

// pathLen checks a path length before the path is allocated.
func (v *validator) pathLen(n int) error {
	if n > v.lim.MaxPathLen {
		return fmt.Errorf("%w: path of %d bytes exceeds %d (entry %d)", ErrTooLarge, n, v.lim.MaxPathLen, v.entries)
	}
	return nil
}

// begin checks what is known once an entry's kind, path and mode are read.
func (v *validator) begin(p string, k Kind, mode uint32) error {
	if v.entries >= v.lim.MaxEntries {
		return fmt.Errorf("%w: %q: more than %d entries", ErrTooLarge, p, v.lim.MaxEntries)
	}
	if err := validatePath(p, v.lim.MaxPathLen); err != nil {
		return err
	}
	if k != KindFile && k != KindDir && k != KindSymlink {
		return fmt.Errorf("%w: %q: unknown kind %d", ErrInvalid, p, uint8(k))
	}
	if v.entries > 0 && ComparePaths(p, v.prev) <= 0 {
		return fmt.Errorf("%w: %q does not sort after %q (order or duplicate)", ErrInvalid, p, v.prev)
	}
	if mode&^0o777 != 0 {
		return fmt.Errorf("%w: %q: mode %#o has bits outside 0o777", ErrInvalid, p, mode)
	}
	if !v.anc.parentOK(p) {
		return fmt.Errorf("%w: %q: parent %q is not a directory entry before it", ErrInvalid, p, path.Dir(p))
	}
	if k == KindDir {
		v.anc.push(p)
	}
	v.prev = p
	v.entries++
	return nil
}

// fileSize checks a file's size against the limits before its hashes are read.
func (v *validator) fileSize(p string, size int64) error {
	if size < 0 {
		return fmt.Errorf("%w: %q: negative size %d", ErrInvalid, p, size)
	}
	if size > v.lim.MaxFileSize {
		return fmt.Errorf("%w: %q: size %d exceeds %d", ErrTooLarge, p, size, v.lim.MaxFileSize)
	}
	if size > v.lim.MaxTotalSize-v.total {
		return fmt.Errorf("%w: %q: total size exceeds %d", ErrTooLarge, p, v.lim.MaxTotalSize)
	}
	v.total += size
	return nil
}

// finish checks a complete entry, which has chunks chunk hashes
// (len(e.Chunks) for Validate; DecodeTable reads them without keeping them).
func (v *validator) finish(e *Entry, chunks int64) error {
	switch e.Kind {
	case KindFile:
		if e.Target != "" {
			return fmt.Errorf("%w: %q: file with a symlink target", ErrInvalid, e.Path)
		}
		if want := ChunkCount(e.Size, v.chunkSize); chunks != want {
			return fmt.Errorf("%w: %q: %d chunk hashes, want %d", ErrInvalid, e.Path, chunks, want)
		}
	case KindDir:
		if e.Size != 0 || chunks != 0 || e.Target != "" {
			return fmt.Errorf("%w: %q: dir with size, chunks or target", ErrInvalid, e.Path)
		}
	case KindSymlink:
		if e.Size != 0 || chunks != 0 {
			return fmt.Errorf("%w: %q: symlink with size or chunks", ErrInvalid, e.Path)
		}
		if err := validateTarget(e.Path, e.Target, v.lim.MaxPathLen); err != nil {
			return err
		}
	}
	return nil
}

// end checks the trailer's entry count.
func (v *validator) end(count uint64) error {
	if count != uint64(v.entries) {
		return fmt.Errorf("%w: trailer counts %d entries, read %d", ErrMalformed, count, v.entries)
	}
	return nil
}

// Validate runs on m the same semantic checks Decode applies while reading:
// chunk size, entry count, every path and symlink target, strict component
// order (ComparePaths), parents present as dirs, mode bits, sizes within lim (a zero field of lim
// takes DefaultLimits'), and chunk counts. Errors wrap ErrInvalid or
// ErrTooLarge and name the offending path.
func (m *Manifest) Validate(lim Limits) error {
	v, err := newValidator(lim, m.ChunkSize)
	if err != nil {
		return err
	}
	for i := range m.Entries {
		e := &m.Entries[i]
		if err := v.pathLen(len(e.Path)); err != nil {
			return err
		}
		if err := v.begin(e.Path, e.Kind, e.Mode); err != nil {
			return err
		}
		if e.Kind == KindFile {
			if err := v.fileSize(e.Path, e.Size); err != nil {
				return err
			}
		}
		if err := v.finish(e, int64(len(e.Chunks))); err != nil {
			return err
		}
	}
	return nil
}
