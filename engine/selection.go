package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/pcp-p2p/pcp/manifest"
	"github.com/pcp-p2p/pcp/store"
)

// Selective receive: ReceiveOptions.Select takes part of an offer.
//
// A pattern is a doublestar glob over manifest paths: slash-separated,
// relative to the top of the offer, anchored there ("*.jpg" is a top-level
// name; "**/*.jpg" is at any depth). It matches an entry when it matches the
// entry's path or the path of a directory above it, so "photos" (or
// "photos/", or "photos/**") takes everything under photos. An entry is
// selected when it matches an Only pattern (any entry, when there are
// none) and no Skip pattern: Skip wins. Directories above a selected entry
// are created; nothing else outside the selection is looked at, created,
// requested or counted as a conflict.
//
// The resume log records the selection of a transfer. A later run without
// one continues with it; a run with one receives the union of both (what
// was selected stays selected). A transfer begun without a selection
// records none, so a later run with one receives just that part.

// ErrBadPattern: a selection pattern is not a valid glob.
var ErrBadPattern = errors.New("bad selection pattern")

// ErrNothingSelected: the selection matches no entry of the offer. The offer
// is declined (it comes wrapped with ErrDeclined).
var ErrNothingSelected = errors.New("the selection matches nothing in the offer")

// SelectionRule is one rule of a Selection (see NewSelection).
type SelectionRule struct {
	Only, Skip []string
}

// Selection is the part of an offer to receive; the zero value is all of
// it. Build one with NewSelection, which validates its patterns.
type Selection struct {
	// An entry is selected when any rule selects it: one rule from the
	// flags, more when runs of a transfer chose different selections.
	rules []SelectionRule
}

// NewSelection validates only and skip (patterns as described in the
// package doc for selective receive) and returns their selection; with
// neither, the zero Selection. A bad pattern: an error wrapping
// ErrBadPattern that names it.
func NewSelection(only, skip []string) (Selection, error) {
	var r SelectionRule
	for _, l := range []struct {
		in  []string
		out *[]string
	}{{only, &r.Only}, {skip, &r.Skip}} {
		if len(l.in) > store.MaxSelectionPatterns {
			return Selection{}, fmt.Errorf("%w: %d patterns, at most %d", ErrBadPattern, len(l.in), store.MaxSelectionPatterns)
		}
		for _, p := range l.in {
			q, err := cleanPattern(p)
			if err != nil {
				return Selection{}, err
			}
			if !slices.Contains(*l.out, q) {
				*l.out = append(*l.out, q)
			}
		}
	}
	if len(r.Only) == 0 && len(r.Skip) == 0 {
		return Selection{}, nil
	}
	return Selection{rules: []SelectionRule{r}}, nil
}

// cleanPattern checks one pattern and drops what does not change what it
// matches: a leading "./" and trailing slashes.
func cleanPattern(p string) (string, error) {
	q := p
	for strings.HasPrefix(q, "./") {
		q = strings.TrimLeft(q[2:], "/")
	}
	q = strings.TrimRight(q, "/")
	switch {
	case strings.HasPrefix(p, "/"):
		return "", fmt.Errorf("%w %q: patterns are relative to the top of the offer (no leading /)", ErrBadPattern, p)
	case q == "" || q == ".":
		return "", fmt.Errorf("%w %q: empty", ErrBadPattern, p)
	case len(q) > store.MaxPatternLen:
		return "", fmt.Errorf("%w: a pattern of %d bytes (at most %d)", ErrBadPattern, len(q), store.MaxPatternLen)
	case !doublestar.ValidatePattern(q):
		return "", fmt.Errorf("%w %q: not a valid glob", ErrBadPattern, p)
	}
	return q, nil
}

// IsZero reports whether s selects everything (no pattern at all).
func (s Selection) IsZero() bool { return len(s.rules) == 0 }

// Rules returns s's rules (a copy): one per selection joined into it.
func (s Selection) Rules() []SelectionRule {
	out := make([]SelectionRule, len(s.rules))
	for i, r := range s.rules {
		out[i] = SelectionRule{Only: slices.Clone(r.Only), Skip: slices.Clone(r.Skip)}
	}
	return out
}

// Equal reports whether s and o have the same rules.
func (s Selection) Equal(o Selection) bool {
	return slices.EqualFunc(s.rules, o.rules, func(a, b SelectionRule) bool {
		return slices.Equal(a.Only, b.Only) && slices.Equal(a.Skip, b.Skip)
	})
}

// union selects what s or o selects; both must not be zero (a zero
// Selection is everything).
func (s Selection) union(o Selection) (Selection, error) {
	out := Selection{rules: slices.Clone(s.rules)}
	for _, r := range o.rules {
		if !slices.ContainsFunc(out.rules, func(q SelectionRule) bool {
			return slices.Equal(q.Only, r.Only) && slices.Equal(q.Skip, r.Skip)
		}) {
			out.rules = append(out.rules, r)
		}
	}
	if len(out.rules) > store.MaxSelectionRules {
		return Selection{}, fmt.Errorf("%w: the resume log holds %d selections for this transfer, at most %d", ErrBadPattern, len(out.rules), store.MaxSelectionRules)
	}
	return out, nil
}

// selects reports whether the manifest path p is selected.
func (s Selection) selects(p string) bool {
	if s.IsZero() {
		return true
	}
	for _, r := range s.rules {
		if (len(r.Only) == 0 || matchAbove(r.Only, p)) && !matchAbove(r.Skip, p) {
			return true
		}
	}
	return false
}

// matchAbove reports whether a pattern matches p or a directory above it.
func matchAbove(pats []string, p string) bool {
	if len(pats) == 0 {
		return false
	}
	for {
		for _, pat := range pats {
			if doublestar.MatchUnvalidated(pat, p) {
				return true
			}
		}
		i := strings.LastIndexByte(p, '/')
		if i < 0 {
			return false
		}
		p = p[:i]
	}
}

func (s Selection) toStore() []store.SelectionRule {
	out := make([]store.SelectionRule, len(s.rules))
	for i, r := range s.rules {
		out[i] = store.SelectionRule{Only: r.Only, Skip: r.Skip}
	}
	return out
}

// selectionFromStore rebuilds a recorded selection, checking its patterns
// again: the log is a file on disk.
func selectionFromStore(rules []store.SelectionRule) (Selection, error) {
	var s Selection
	for _, r := range rules {
		one, err := NewSelection(r.Only, r.Skip)
		if err != nil {
			return Selection{}, fmt.Errorf("the resume log's selection: %w", err)
		}
		if !one.IsZero() {
			s.rules = append(s.rules, one.rules[0])
		}
	}
	return s, nil
}

// selCount is what a selection takes of a manifest.
type selCount struct {
	entries           int // selected entries of any kind
	files, unselFiles int
	bytes, unselBytes int64
	unselEntries      int
}

// markSelection marks in state, with unsel, every entry of t that sel
// leaves out; it leaves the others as they were. A directory is selected
// when it matches, or when an entry below it does (it must exist to hold
// it): entries of a directory's subtree follow it in the manifest, so a
// stack of the open directories finds them in one pass.
func markSelection(ctx context.Context, t *manifest.Table, sel Selection, state []uint8, unsel uint8) (selCount, error) {
	type open struct {
		prefix string // path + "/"
		i      int
		on     bool
	}
	var c selCount
	var stack []open
	err := t.Scan(ctx, func(i int, e *manifest.Entry) error {
		for len(stack) > 0 && !strings.HasPrefix(e.Path, stack[len(stack)-1].prefix) {
			stack = stack[:len(stack)-1]
		}
		on := sel.selects(e.Path)
		if on {
			for k := len(stack) - 1; k >= 0 && !stack[k].on; k-- {
				stack[k].on = true
				state[stack[k].i] = 0
				c.entries++
				c.unselEntries--
			}
			c.entries++
		} else {
			state[i] = unsel
			c.unselEntries++
		}
		switch e.Kind {
		case manifest.KindFile:
			if on {
				c.files++
				c.bytes += e.Size
			} else {
				c.unselFiles++
				c.unselBytes += e.Size
			}
		case manifest.KindDir:
			stack = append(stack, open{prefix: e.Path + "/", i: i, on: on})
		}
		return nil
	})
	return c, err
}
