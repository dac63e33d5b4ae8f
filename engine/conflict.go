package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/pcp-p2p/pcp/manifest"
)

// Resolution is the receiver's answer to an offer whose files differ from
// what is already at the destination.
type Resolution int

const (
	// ResolveCancel declines the offer; nothing is written.
	ResolveCancel Resolution = iota
	// ResolveReplace replaces the differing files (as Overwrite does).
	ResolveReplace
	// ResolveSkip leaves the differing entries as they are and receives
	// the rest: they are not requested, not written and not recorded.
	ResolveSkip
)

// resolveConflicts settles an offer with conflicts: SkipExisting skips them,
// Overwrite has already replaced every file it can, else Resolve is asked.
// It returns ErrDeclined for a cancel and ErrExists when nothing settles
// them (no answer possible, or conflicts that replacing cannot cure: a file
// where the offer has a directory, a differing symlink).
func (r *receiver) resolveConflicts(ctx context.Context, p *plan) error {
	choice := ResolveCancel
	switch {
	case r.opts.SkipExisting:
		choice = ResolveSkip
	case r.opts.Overwrite:
		choice = ResolveReplace
	case r.opts.Resolve != nil:
		choice = r.opts.Resolve(p.offer)
	default:
		return existsError(p.offer, "use --overwrite to replace them or --skip-existing to keep them")
	}
	switch choice {
	case ResolveSkip:
		return r.skipConflicts(p)
	case ResolveReplace:
		if err := r.replaceConflicts(ctx, p); err != nil {
			return err
		}
		if p.offer.ConflictCount > 0 {
			return existsError(p.offer, "these cannot be replaced; use --skip-existing to keep them")
		}
		return nil
	}
	return ErrDeclined
}

func existsError(o Offer, advice string) error {
	return fmt.Errorf("%w: %s (%s)", ErrExists, listSome(o.Conflicts, o.ConflictCount, 5), advice)
}

// skipConflicts marks every conflicting entry skipped.
func (r *receiver) skipConflicts(p *plan) error {
	for i, s := range p.state {
		if s != stConflict {
			continue
		}
		p.state[i] = stSkipped
		e, err := r.t.Entry(i)
		if err != nil {
			return err
		}
		if e.Kind == manifest.KindFile {
			p.skipFiles++
			p.skipBytes += e.Size
		}
	}
	return nil
}

// replaceConflicts plans again, as with Overwrite, every conflicting file;
// what stays in conflict is listed again.
func (r *receiver) replaceConflicts(ctx context.Context, p *plan) error {
	r.opts.Overwrite = true
	resolved := map[string]bool{}
	for i, s := range p.state {
		if s != stConflict {
			continue
		}
		e, err := r.t.Entry(i)
		if err != nil {
			return err
		}
		if e.Kind != manifest.KindFile {
			continue
		}
		st, err := r.dest.Lstat(e.Path)
		exists := err == nil
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			continue // under a conflicting directory: stays with it
		}
		// planFile counted the file in the offer already; only its bytes
		// now at the destination are added.
		ns, err := r.planFile(ctx, i, &e, st, exists, p)
		if err != nil {
			return err
		}
		if ns == stConflict {
			continue
		}
		p.state[i] = ns
		switch ns {
		case stPresent, stComplete:
			p.already++
		default:
			p.fetch++
		}
		resolved[e.Path] = true
	}
	if len(resolved) == 0 {
		return nil
	}
	p.offer.ConflictCount -= len(resolved)
	kept := p.offer.Conflicts[:0]
	for _, c := range p.offer.Conflicts {
		name := c
		if k := strings.LastIndex(c, " ("); k >= 0 {
			name = c[:k]
		}
		if !resolved[name] {
			kept = append(kept, c)
		}
	}
	p.offer.Conflicts = kept
	return nil
}

// listSome lists up to n of the first names of a list of total names,
// quoted (a name may hold any character).
func listSome(s []string, total, n int) string {
	k := min(n, len(s))
	q := make([]string, k)
	for i, name := range s[:k] {
		if j := strings.LastIndex(name, " ("); j >= 0 && strings.HasSuffix(name, ")") {
			q[i] = strconv.Quote(name[:j]) + name[j:]
		} else {
			q[i] = strconv.Quote(name)
		}
	}
	out := strings.Join(q, ", ")
	if more := total - k; more > 0 {
		out += fmt.Sprintf(" and %d more", more)
	}
	return out
}
