package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/pcp-p2p/pcp/engine"
	"github.com/pcp-p2p/pcp/manifest"
)

// `pcp receive --pick`: once the manifest is in, the offer's top-level
// entries are listed, numbered, and the user types the ones to receive.
// The engine turns the names into a selection (engine.PickSelection), so
// the rest is the selective receive's: the offer line, the resume log,
// pcp verify.

// pick lists top on errw and asks which to receive, until an answer
// parses; Enter takes everything. It returns the names picked.
func (p *prompter) pick(ctx context.Context, top []engine.TopEntry) ([]string, error) {
	fmt.Fprintf(p.errw, "The offer holds %s at its top:\n", plural(int64(len(top)), "entry"))
	w := len(strconv.Itoa(len(top)))
	for i, e := range top {
		fmt.Fprintf(p.errw, "  %*d  %s\n", w, i+1, describeTop(e))
	}
	for {
		s, err := p.ask(ctx, "Receive which? Numbers or ranges (1,3 or 2-4), Enter for all: ")
		if err != nil {
			return nil, err
		}
		idx, err := parsePick(s, len(top))
		if err != nil {
			fmt.Fprintf(p.errw, "%s\n", err)
			continue
		}
		names := make([]string, len(idx))
		for k, i := range idx {
			names[k] = top[i].Name
		}
		return names, nil
	}
}

// describeTop is one line of the pick list: the name (escaped: it comes
// from the peer), a slash for a directory, and what it holds.
func describeTop(e engine.TopEntry) string {
	switch e.Kind {
	case manifest.KindDir:
		return fmt.Sprintf("%s/  (%s, %s)", escape(e.Name), plural(e.Files, "file"), humanBytes(e.Bytes))
	case manifest.KindSymlink:
		return fmt.Sprintf("%s  (a symlink)", escape(e.Name))
	}
	return fmt.Sprintf("%s  (%s)", escape(e.Name), humanBytes(e.Bytes))
}

// parsePick parses an answer to the pick question: numbers from 1 to n
// and ranges a-b, separated by commas or spaces. It returns the indexes
// picked, from 0, in order and each once; none for an empty answer.
func parsePick(s string, n int) ([]int, error) {
	seen := make([]bool, n)
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
	for _, f := range fields {
		lo, hi, isRange := strings.Cut(f, "-")
		a, err := pickNumber(lo, n)
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = pickNumber(hi, n); err != nil {
				return nil, err
			}
			if b < a {
				return nil, fmt.Errorf("%q: a range goes up (%d-%d)", f, b+1, a+1)
			}
		}
		for i := a; i <= b; i++ {
			seen[i] = true
		}
	}
	var idx []int
	for i, ok := range seen {
		if ok {
			idx = append(idx, i)
		}
	}
	return idx, nil
}

// pickNumber parses one entry number, 1 to n, and returns its index.
func pickNumber(s string, n int) (int, error) {
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 || v > n {
		return 0, fmt.Errorf("%q is not an entry number (1 to %d)", escape(s), n)
	}
	return v - 1, nil
}
