package manifest

import (
	"cmp"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// Names travel in NFC (see doc.go, "Unicode normalization"). The walk names
// each entry by the NFC form of its on-disk name and keeps reading it by
// the on-disk name; these are its helpers.

// ErrNameClash is passed to OnSkip for a local name that is the same in NFC
// as an earlier name of its directory (one composed, one decomposed: two
// files on Linux, one name on the wire). The first in byte order is sent.
var ErrNameClash = errors.New("manifest: another name in this directory differs only in Unicode normalization")

// wireName is the manifest's form of a local name (or relative path, or
// symlink target): NFC. Invalid UTF-8 bytes stay as they are.
func wireName(s string) string { return norm.NFC.String(s) }

// sortWire sorts one directory's on-disk names in the component order of
// their entries: by NFC form, then by bytes, so names that clash are
// adjacent and the one kept does not depend on readdir's order.
func sortWire(names []string) {
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(strings.Compare(wireName(a), wireName(b)), strings.Compare(a, b))
	})
}

// renamed records the entries whose on-disk name is not their manifest
// name, so that Source.Local finds them and everything below them. Only
// such names cost memory: usually none on Linux and Windows, the
// decomposed names on macOS (HFS+ stores every name decomposed).
type renamed struct {
	m map[string]string // entry path -> absolute local path
}

// child returns the entry path of the local directory entry name (at
// local) inside the directory entry rel, or ErrNameClash if *prev, the
// previous name given out in rel (names come in sortWire order), has the
// same NFC. It sets *prev.
func (r *renamed) child(rel, local, name string, prev *string) (string, error) {
	w := wireName(name)
	if *prev == w {
		return "", fmt.Errorf("%w: %q", ErrNameClash, name)
	}
	*prev = w
	p := rel + "/" + w
	if w != name {
		if r.m == nil {
			r.m = make(map[string]string)
		}
		r.m[p] = local
	}
	return p, nil
}

// localOf returns the local path of entry path p if p or one of its
// ancestors was renamed: that one's local path joined with the rest.
func localOf(m map[string]string, p string) (string, bool) {
	if len(m) == 0 {
		return "", false
	}
	for q := p; ; {
		if l, ok := m[q]; ok {
			return filepath.Join(l, filepath.FromSlash(p[len(q):])), true
		}
		j := strings.LastIndexByte(q, '/')
		if j < 0 {
			return "", false
		}
		q = q[:j]
	}
}
