package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pcp-p2p/pcp/engine"
)

// selectFlags are `pcp receive --only/--skip`: the part of an offer to take.
type selectFlags struct {
	only, skip []string
	pick       bool
}

const selectHelp = `

Selective receive: --only GLOB and --skip GLOB (each repeatable) take part of
the offer. A GLOB matches paths as the offer lists them: slash-separated,
relative to the top of the offer, anchored there ("*.jpg" is a top-level name,
"**/*.jpg" one at any depth). It matches an entry when it matches the entry's
path or the path of a directory above it, so "photos", "photos/" and
"photos/**" all take everything under photos. An entry is received when it
matches some --only (any entry, without --only) and no --skip: --skip wins.
The directories above what is received are created; nothing else outside the
selection is created, fetched, or counted as differing. A selection that
matches nothing is refused before anything moves (exit 7).

The resume log records the selection: running the receive again without
--only/--skip continues with it, and running it with a new one adds to it
(what was selected stays selected; --only '**' takes the rest). 'pcp verify'
then checks the selected part and counts the rest as not selected.

--pick asks instead, once the offer is in: it lists the entries at the top of
the offer, numbered, and takes the numbers typed (1,3 or 2-4; Enter for all)
as --only of those names. It needs a terminal on standard input.`

const selectExamples = `
  pcp receive --only photos/ lemon-orbit-tiger-salad
  pcp receive --only 'docs/**' --skip '**/*.tmp' lemon-orbit-tiger-salad`

// register adds the flags to cmd, and their help.
func (f *selectFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringArrayVar(&f.only, "only", nil, "receive only entries matching this glob (repeatable; see Selective receive below)")
	fs.StringArrayVar(&f.skip, "skip", nil, "do not receive entries matching this glob (repeatable; wins over --only)")
	fs.BoolVar(&f.pick, "pick", false, "list the offer's top-level entries and ask which to receive (needs a terminal; instead of --only/--skip)")
	cmd.Long += selectHelp
	cmd.Example += selectExamples
}

// selection validates the patterns once, here; the engine gets the typed value.
func (f *selectFlags) selection() (engine.Selection, error) {
	if f.pick && (len(f.only) > 0 || len(f.skip) > 0) {
		return engine.Selection{}, usageError{errors.New("--pick asks which entries to receive: not with --only or --skip")}
	}
	s, err := engine.NewSelection(f.only, f.skip)
	if err != nil {
		return engine.Selection{}, usageError{err}
	}
	return s, nil
}

// selectionFlags says a selection as the flags that make it; the rules of a
// joined selection are separated by " + ".
func selectionFlags(s engine.Selection) string {
	var rules []string
	for _, r := range s.Rules() {
		var w []string
		for _, p := range r.Only {
			w = append(w, "--only "+shellQuote(p))
		}
		for _, p := range r.Skip {
			w = append(w, "--skip "+shellQuote(p))
		}
		rules = append(rules, strings.Join(w, " "))
	}
	return strings.Join(rules, " + ")
}

// selectionJSON is a selection in JSON events: a list of rules, null for none.
func selectionJSON(s engine.Selection) []map[string][]string {
	if s.IsZero() {
		return nil
	}
	var out []map[string][]string
	for _, r := range s.Rules() {
		out = append(out, map[string][]string{"only": nonNil(r.Only), "skip": nonNil(r.Skip)})
	}
	return out
}

// offerSelection writes the offer's selection lines (nothing without one).
func offerSelection(w io.Writer, o engine.Offer) {
	if o.Selection.IsZero() {
		return
	}
	fmt.Fprintf(w, "    selected: %d of %s, %s of %s (%s)\n", o.SelectedFiles, plural(int64(o.Files), "file"),
		humanBytes(o.SelectedBytes), humanBytes(o.TotalBytes), escape(selectionFlags(o.Selection)))
	switch {
	case o.RecordedSelection.IsZero():
	case o.RecordedSelection.Equal(o.Selection):
		fmt.Fprintf(w, "    continuing the selection recorded by an earlier run of this receive\n")
	default:
		fmt.Fprintf(w, "    adding to the selection recorded by an earlier run (%s)\n", escape(selectionFlags(o.RecordedSelection)))
	}
}

// nothingSelectedAdvice follows an error for a selection that matched nothing.
const nothingSelectedAdvice = "Nothing was written, and the sender keeps offering. Patterns match whole paths from the top of\n" +
	"the offer: use '**/NAME' for a name at any depth (see 'pcp receive --help')."
