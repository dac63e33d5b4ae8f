package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/pcp-p2p/pcp/manifest"
	"github.com/pcp-p2p/pcp/store"
)

// Picking (issue 15, `pcp receive --pick`): the receiver chooses part of
// an offer from its top-level entries once the manifest is in. The choice
// becomes a Selection of literal --only patterns, so everything after it
// (the offer line, the resume log, pcp verify) is the selective receive's.

// TopEntry is one top-level entry of an offer: a file, a directory (with
// the files and bytes under it) or a symlink. Name comes from the peer:
// escape it before it reaches a terminal.
type TopEntry struct {
	Name  string
	Kind  manifest.Kind
	Files int64
	Bytes int64
}

// maxPickEntries bounds the entries offered for picking: a selection
// holds at most that many patterns.
const maxPickEntries = store.MaxSelectionPatterns

// topEntries lists t's top-level entries in manifest order, with what is
// under each; more than maxPickEntries is an error (declined: choose with
// --only/--skip instead).
func topEntries(ctx context.Context, t *manifest.Table) ([]TopEntry, error) {
	var top []TopEntry
	at := make(map[string]int)
	for i := range t.Len() {
		if i%4096 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		e, err := t.Entry(i)
		if err != nil {
			return nil, err
		}
		name, below, _ := strings.Cut(e.Path, "/")
		k, ok := at[name]
		if !ok {
			if len(top) == maxPickEntries {
				return nil, fmt.Errorf("%w: the offer has more than %d entries at its top to pick from; choose with --only/--skip", ErrDeclined, maxPickEntries)
			}
			k = len(top)
			at[name] = k
			top = append(top, TopEntry{Name: name, Kind: manifest.KindDir})
		}
		if below == "" {
			top[k].Kind = e.Kind
		}
		if e.Kind == manifest.KindFile {
			top[k].Files++
			top[k].Bytes += e.Size
		}
	}
	return top, nil
}

// PickSelection is the selection of the named top-level entries: one
// literal pattern each (glob characters escaped). None, or all of top,
// is the zero Selection (everything).
func PickSelection(top []TopEntry, names []string) (Selection, error) {
	if len(names) == 0 || len(names) == len(top) {
		return Selection{}, nil
	}
	only := make([]string, len(names))
	for i, n := range names {
		only[i] = literalPattern(n)
	}
	return NewSelection(only, nil)
}

// literalPattern is a doublestar pattern (backslash escapes) that matches
// name alone.
func literalPattern(name string) string {
	var b strings.Builder
	for _, r := range name {
		if strings.ContainsRune(`\*?[]{}`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
