package manifest

import (
	"context"
	"hash/maphash"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// entrySource is what CheckTable reads: a Table, or a test's list.
type entrySource interface {
	Len() int
	Scan(ctx context.Context, fn func(i int, e *Entry) error) error
	Entry(i int) (Entry, error)
}

// CheckTable calls fn for every entry of t that a file system of rs cannot
// hold: first the entries that break a rule by themselves (Rules.Check),
// in manifest order, one Problem per reason with the families that share
// it in Systems; then, for every distinct kind of insensitivity among rs,
// the entries that collide there with an earlier one, in manifest order.
// It stops at fn's first error and returns it, or ctx's error.
//
// Two entries collide when their FoldKeys are equal, unless both are
// directories: those merge into one, and then their children meet, which
// the keys of the full paths catch ("a/B/c" against "a/b/c", but not
// "a/B/c" against "a/b/d"). The later entry is reported, with the earlier
// one as Other.
//
// Memory: 8 bytes per entry for one pass (a hash of each key, sorted to
// find the keys that occur twice), then a map of the colliding keys'
// first entries; a second pass reports them, reading each first entry back
// (Table.Entry) to compare the keys themselves, so a hash collision
// reports nothing.
func CheckTable(ctx context.Context, t *Table, rs []Rules, fn func(Problem) error) error {
	return checkEntries(ctx, t, rs, fn)
}

func checkEntries(ctx context.Context, src entrySource, rs []Rules, fn func(Problem) error) error {
	err := src.Scan(ctx, func(i int, e *Entry) error {
		var buf [8]Problem
		ps := buf[:0]
	rules:
		for _, r := range rs {
			why := r.Check(e.Path)
			if why == ReasonNone {
				continue
			}
			for k := range ps {
				if ps[k].Reason == why {
					ps[k].Systems |= r.System
					continue rules
				}
			}
			ps = append(ps, Problem{Index: i, Path: e.Path, Reason: why, Systems: r.System})
		}
		for _, p := range ps {
			if err := fn(p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// One pair of passes per kind of insensitivity, for all the families
	// that share it.
	var folds []Rules
	for _, r := range rs {
		if !r.CaseInsensitive && !r.NormInsensitive {
			continue
		}
		k := slices.IndexFunc(folds, func(f Rules) bool {
			return f.CaseInsensitive == r.CaseInsensitive && f.NormInsensitive == r.NormInsensitive
		})
		if k < 0 {
			folds = append(folds, Rules{CaseInsensitive: r.CaseInsensitive, NormInsensitive: r.NormInsensitive})
			k = len(folds) - 1
		}
		folds[k].System |= r.System
	}
	for _, f := range folds {
		if err := collisions(ctx, src, f, fn); err != nil {
			return err
		}
	}
	return nil
}

// collisions reports the entries of src whose FoldKey under r equals an
// earlier entry's (see CheckTable), with r.System as their Systems.
func collisions(ctx context.Context, src entrySource, r Rules, fn func(Problem) error) error {
	seed := maphash.MakeSeed()
	hs := make([]uint64, 0, src.Len())
	err := src.Scan(ctx, func(_ int, e *Entry) error {
		hs = append(hs, maphash.String(seed, r.FoldKey(e.Path)))
		return nil
	})
	if err != nil {
		return err
	}
	slices.Sort(hs)
	dup := make(map[uint64]struct{})
	for i := 1; i < len(hs); i++ {
		if hs[i] == hs[i-1] {
			dup[hs[i]] = struct{}{}
		}
	}
	hs = nil
	if len(dup) == 0 {
		return nil
	}
	// The first entry of each key among the duplicated hashes (several
	// keys only if their hashes collide).
	type head struct {
		i    int
		kind Kind
	}
	heads := make(map[uint64][]head, len(dup))
	return src.Scan(ctx, func(i int, e *Entry) error {
		key := r.FoldKey(e.Path)
		h := maphash.String(seed, key)
		if _, ok := dup[h]; !ok {
			return nil
		}
		for _, hd := range heads[h] {
			o, err := src.Entry(hd.i)
			if err != nil {
				return err
			}
			if r.FoldKey(o.Path) != key {
				continue
			}
			if hd.kind == KindDir && e.Kind == KindDir {
				return nil // one directory on r's file systems
			}
			why := ReasonCaseCollision
			if r.NormInsensitive && norm.NFC.String(o.Path) == norm.NFC.String(e.Path) {
				why = ReasonNormCollision
			}
			return fn(Problem{Index: i, Path: e.Path, Reason: why, Other: o.Path, Systems: r.System})
		}
		heads[h] = append(heads[h], head{i, e.Kind})
		return nil
	})
}

// FoldKey returns the name a file system with r's insensitivities gives
// path p: two paths with the same key are one path there. Normalization
// is NFC. Case folding maps each rune to the smallest rune of its Unicode
// simple case-folding orbit (unicode.SimpleFold): "K", "k" and the Kelvin
// sign K share a key, as do "ß" and "ẞ". That merges at least what NTFS,
// exFAT and APFS merge for letters with one-to-one case mappings, and
// somewhat more (NTFS keeps the Kelvin sign apart from "k"): a rare false
// refusal rather than a silent overwrite. Full case folding ("ß" as "ss")
// is not applied: none of those file systems does it. Invalid UTF-8
// bytes are kept as they are.
func (r Rules) FoldKey(p string) string {
	if r.NormInsensitive {
		p = norm.NFC.String(p)
	}
	if r.CaseInsensitive {
		p = foldCase(p)
		if r.NormInsensitive {
			p = norm.NFC.String(p) // folding can leave a composable pair
		}
	}
	return p
}

// foldCase maps every rune of s to the smallest rune of its simple
// case-folding orbit (for ASCII: the upper case).
func foldCase(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			b.WriteByte(c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteByte(c)
			i++
			continue
		}
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b.WriteRune(least)
		i += n
	}
	return b.String()
}
