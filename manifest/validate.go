package manifest

import (
	"fmt"
	"path"
	"strings"
)

// ValidatePath reports whether p is acceptable as an entry path under
// DefaultLimits: non-empty, at most MaxPathLen bytes, no NUL, relative, and
// clean (no empty, "." or ".." component; path.Clean(p) == p). Names are
// bytes: invalid UTF-8 and backslashes are allowed. Errors wrap ErrInvalid
// (or ErrTooLarge for length).
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
	return nil
}

// ValidateTarget reports whether target is acceptable as the target of a
// symlink at linkPath under DefaultLimits. See validateTarget.
func ValidateTarget(linkPath, target string) error {
	return validateTarget(linkPath, target, DefaultLimits.MaxPathLen)
}

// validateTarget checks a symlink target: non-empty, no NUL, at most maxLen
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

// validator holds the running state of the semantic checks. Decode feeds it
// entries as it reads them and Validate feeds it an in-memory manifest, so
// the rules exist once. Call order per entry: begin (path, kind, order,
// parent), then for files fileSize (before any hash is read), then finish.
type validator struct {
	lim       Limits
	chunkSize uint32
	entries   int64
	total     int64
	prev      string
	dirs      map[string]struct{}
}

func newValidator(lim Limits, chunkSize uint32) (*validator, error) {
	if err := checkChunkSize(chunkSize); err != nil {
		return nil, err
	}
	return &validator{lim: lim.withDefaults(), chunkSize: chunkSize, dirs: make(map[string]struct{})}, nil
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
	if v.entries > 0 && p <= v.prev {
		return fmt.Errorf("%w: %q does not sort after %q (order or duplicate)", ErrInvalid, p, v.prev)
	}
	if mode&^0o777 != 0 {
		return fmt.Errorf("%w: %q: mode %#o has bits outside 0o777", ErrInvalid, p, mode)
	}
	if dir := path.Dir(p); dir != "." {
		if _, ok := v.dirs[dir]; !ok {
			return fmt.Errorf("%w: %q: parent %q is not a directory entry before it", ErrInvalid, p, dir)
		}
	}
	if k == KindDir {
		v.dirs[p] = struct{}{}
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

// finish checks a complete entry.
func (v *validator) finish(e *Entry) error {
	switch e.Kind {
	case KindFile:
		if e.Target != "" {
			return fmt.Errorf("%w: %q: file with a symlink target", ErrInvalid, e.Path)
		}
		if want := ChunkCount(e.Size, v.chunkSize); int64(len(e.Chunks)) != want {
			return fmt.Errorf("%w: %q: %d chunk hashes, want %d", ErrInvalid, e.Path, len(e.Chunks), want)
		}
	case KindDir:
		if e.Size != 0 || len(e.Chunks) != 0 || e.Target != "" {
			return fmt.Errorf("%w: %q: dir with size, chunks or target", ErrInvalid, e.Path)
		}
	case KindSymlink:
		if e.Size != 0 || len(e.Chunks) != 0 {
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
// chunk size, entry count, every path and symlink target, strict byte order,
// parents present as dirs, mode bits, sizes within lim (a zero field of lim
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
		if err := v.finish(e); err != nil {
			return err
		}
	}
	return nil
}
