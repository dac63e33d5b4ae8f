package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// excludeRule is one --exclude pattern, read the way .gitignore reads it.
type excludeRule struct {
	glob    string // doublestar pattern, without the markers below
	negate  bool   // "!pat": include again what an earlier rule left out
	dirOnly bool   // "pat/": directories only
	anchor  bool   // holds a "/" before its end: matched from the top, else by name at any depth
}

// excluder decides which entries `pcp send --exclude` leaves out. Rules
// apply in order; the last that matches wins, as in .gitignore.
type excluder []excludeRule

// parseExcludes reads patterns (each --exclude, then each line of each
// --exclude-from file: blank lines and "#" comments skipped).
func parseExcludes(patterns, files []string) (excluder, error) {
	all := append([]string(nil), patterns...)
	for _, f := range files {
		lines, err := readPatternFile(f)
		if err != nil {
			return nil, usageError{fmt.Errorf("--exclude-from %s: %w", f, err)}
		}
		all = append(all, lines...)
	}
	var ex excluder
	for _, p := range all {
		r, err := parseRule(p)
		if err != nil {
			return nil, usageError{err}
		}
		ex = append(ex, r)
	}
	return ex, nil
}

func readPatternFile(name string) ([]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " \t\r")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	return out, sc.Err()
}

func parseRule(p string) (excludeRule, error) {
	r := excludeRule{}
	s := p
	if strings.HasPrefix(s, "!") {
		r.negate, s = true, s[1:]
	}
	if strings.HasSuffix(s, "/") {
		r.dirOnly, s = true, strings.TrimRight(s, "/")
	}
	if strings.Contains(s, "/") {
		r.anchor, s = true, strings.TrimPrefix(s, "/")
	}
	if s == "" || !doublestar.ValidatePattern(s) {
		return r, fmt.Errorf("--exclude %q: not a valid pattern", p)
	}
	r.glob = s
	return r, nil
}

// match reports whether the entry at manifest path p ("photos/raw/a.jpg")
// is left out. Anchored patterns are matched below the top-level name
// ("raw/*.jpg") and also from it ("photos/raw/*.jpg").
func (ex excluder) match(p string, dir bool) bool {
	out := false
	below := p
	if i := strings.IndexByte(p, '/'); i >= 0 {
		below = p[i+1:]
	}
	base := p[strings.LastIndexByte(p, '/')+1:]
	for _, r := range ex {
		if r.dirOnly && !dir {
			continue
		}
		var hit bool
		if r.anchor {
			hit = globMatch(r.glob, below) || globMatch(r.glob, p)
		} else {
			hit = globMatch(r.glob, base)
		}
		if hit {
			out = !r.negate
		}
	}
	return out
}

func globMatch(pattern, name string) bool {
	ok, err := doublestar.Match(pattern, name)
	return err == nil && ok
}

// fn returns the match as manifest.WalkOptions.Exclude wants it; nil when
// there are no rules.
func (ex excluder) fn() func(string, bool) bool {
	if len(ex) == 0 {
		return nil
	}
	return ex.match
}
