package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/pcp-p2p/pcp/manifest"
)

// The selection in the plan: entries outside it get stUnselected before the
// plan looks at the destination, and every later step passes them by.

// selPart is the selection of a plan and what it takes of the offer.
type selPart struct {
	sel      Selection // received: the options' joined with the recorded one
	recorded Selection // in the resume log before this run
	count    selCount
}

// partial reports whether the selection leaves any entry out.
func (s *selPart) partial() bool { return !s.sel.IsZero() && s.count.unselEntries > 0 }

// selectPart settles the selection of this run with the resume log's and
// marks the entries it leaves out. A selection that matches nothing is
// ErrNothingSelected (wrapped with ErrDeclined).
func (r *receiver) selectPart(ctx context.Context, p *plan) error {
	rules, err := r.rlog.Selection(r.root)
	if err != nil {
		return err
	}
	rec, err := selectionFromStore(rules)
	if err != nil {
		return err
	}
	sel := r.opts.Select
	if r.opts.Pick != nil {
		top, err := topEntries(ctx, r.t)
		if err != nil {
			return err
		}
		if sel, err = r.opts.Pick(ctx, top); err != nil {
			return err
		}
	}
	switch {
	case rec.IsZero():
	case sel.IsZero():
		sel = rec
	default:
		// What this run adds must match something itself: joined with
		// the recorded selection, a mistyped pattern would go unnoticed.
		if ok, err := selectsAny(ctx, r.t, sel); err != nil || !ok {
			if err == nil {
				err = fmt.Errorf("%w: %w (%s), which would add to the selection recorded by an earlier run", ErrDeclined, ErrNothingSelected, describeSelection(sel))
			}
			return err
		}
		if sel, err = rec.union(sel); err != nil {
			return err
		}
	}
	p.part = selPart{sel: sel, recorded: rec}
	if sel.IsZero() {
		return nil
	}
	c, err := markSelection(ctx, r.t, sel, p.state, stUnselected)
	if err != nil {
		return err
	}
	p.part.count = c
	return nil
}

// describeSelection says sel's rules briefly, for an error message.
func describeSelection(sel Selection) string {
	s := ""
	for i, r := range sel.rules {
		if i > 0 {
			s += "; or "
		}
		if len(r.Only) > 0 {
			s += "only " + listSome(r.Only, len(r.Only), 5)
		}
		if len(r.Skip) > 0 {
			if len(r.Only) > 0 {
				s += ", "
			}
			s += "skip " + listSome(r.Skip, len(r.Skip), 5)
		}
	}
	return s
}

// selectsAny reports whether sel selects any entry of t.
func selectsAny(ctx context.Context, t *manifest.Table, sel Selection) (bool, error) {
	found := false
	err := t.Scan(ctx, func(_ int, e *manifest.Entry) error {
		if sel.selects(e.Path) {
			found = true
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return false, err
	}
	return found, nil
}

// countEntry counts e in the offer's totals.
func countEntry(o *Offer, e *manifest.Entry) {
	switch e.Kind {
	case manifest.KindDir:
		o.Dirs++
	case manifest.KindFile:
		o.Files++
		o.TotalBytes += e.Size
	}
}

// offerSelection fills in the offer's selection once the plan is made. A
// selection that matches nothing is ErrNothingSelected (wrapped with
// ErrDeclined).
func (p *plan) offerSelection() error {
	o := &p.offer
	o.Selection, o.RecordedSelection = p.part.sel, p.part.recorded
	o.SelectedFiles, o.SelectedBytes = o.Files, o.TotalBytes
	if p.part.sel.IsZero() {
		return nil
	}
	o.SelectedFiles, o.SelectedBytes = p.part.count.files, p.part.count.bytes
	if p.part.count.entries == 0 {
		return fmt.Errorf("%w: %w (%s); the offer holds %s", ErrDeclined, ErrNothingSelected,
			describeSelection(p.part.sel), listSome(o.TopLevel, o.TopLevelCount, 5))
	}
	return nil
}

// wantBytes is the bytes of the files this run receives or keeps: the
// selected ones, less those left as they are (skipped conflicts).
func (p *plan) wantBytes() int64 { return p.offer.SelectedBytes - p.skipBytes }

// wantFiles is the number of files wantBytes counts.
func (p *plan) wantFiles() int { return p.offer.SelectedFiles - p.skipFiles }

// summarize says in s what part of the offer was received.
func (p *plan) summarize(s *Summary) {
	s.Partial = p.part.partial()
	s.SelectedFiles, s.SelectedBytes = p.offer.SelectedFiles, p.offer.SelectedBytes
}

// recordSelection records this run's selection in the resume log, before
// the first chunk is requested, so that a later run continues it.
func (r *receiver) recordSelection() error {
	part := &r.plan.part
	if part.sel.Equal(part.recorded) {
		return nil
	}
	return r.rlog.SetSelection(r.root, part.sel.toStore())
}
