package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/pcp-p2p/pcp/manifest"
)

// Refusing what the destination cannot hold. Before the plan looks at the
// destination, and so before the offer is shown or accepted, the receiver
// checks every entry against its own rules: its OS family's
// (representable_GOOS.go), under the destination's path, adjusted by one
// probe of the destination. If any entry cannot be created there, or would
// collide there with another (A.txt and a.txt on a case-insensitive file
// system), the whole offer is refused and nothing is written.
//
// Why all or nothing: the manifest's root covers every entry, and a
// receive that skipped some would finish "complete" without them, or leave
// a tree whose symlinks and directories point at what is missing. The
// user learns every refused entry at once (the offer lists them, escaped,
// with the reason) and can receive elsewhere or have the sender rename.

// ErrUnrepresentable: the destination cannot hold some entries of the
// offer (see RefusedError); nothing was written.
var ErrUnrepresentable = errors.New("the destination cannot hold some entries")

// Refusal is one entry of an offer that the destination cannot hold.
// Path and Other are the sender's names: escape them for a terminal.
type Refusal struct {
	Path   string
	Reason manifest.Reason
	Other  string // for a collision (Reason.Collision()): the entry it would become
}

// String says the refusal in words, with the raw names.
func (r Refusal) String() string {
	if r.Reason.Collision() {
		return r.Path + ": " + r.Reason.String() + " " + r.Other
	}
	return r.Path + ": " + r.Reason.String()
}

// RefusedError is the receiver refusing an offer before accepting it. Its
// Offer has the manifest's totals and top-level names, and Refused (at
// most 100; RefusedCount has them all); nothing of the destination was
// inspected for conflicts or present data.
type RefusedError struct{ Offer Offer }

func (e *RefusedError) Error() string {
	return fmt.Sprintf("%v: %s", ErrUnrepresentable, listSome(refusalText(e.Offer.Refused), e.Offer.RefusedCount, 5))
}

func (e *RefusedError) Unwrap() error { return ErrUnrepresentable }

func refusalText(rs []Refusal) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.String()
	}
	return out
}

// refuse checks every entry against the destination's rules (destRules).
// It returns a *RefusedError if any entry cannot be held there, nil if all
// can. It writes nothing but the probe's two files, removed at once.
func (r *receiver) refuse(ctx context.Context) error {
	rules := destRules(r.dest, localRules)
	var o Offer
	err := manifest.CheckTable(ctx, r.t, []manifest.Rules{rules}, func(p manifest.Problem) error {
		o.RefusedCount++
		if len(o.Refused) < maxListed {
			o.Refused = append(o.Refused, Refusal{Path: p.Path, Reason: p.Reason, Other: p.Other})
		}
		return nil
	})
	if err != nil || o.RefusedCount == 0 {
		return err
	}
	o.Root = r.root.String()
	o.Files, o.Dirs, o.TotalBytes = int(r.t.Files()), int(r.t.Dirs()), r.t.TotalSize()
	err = r.t.Scan(ctx, func(_ int, e *manifest.Entry) error {
		if path.Dir(e.Path) == "." {
			o.TopLevelCount++
			if len(o.TopLevel) < maxListed {
				o.TopLevel = append(o.TopLevel, e.Path)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	r.log.Debug("refusing the offer", "refused", o.RefusedCount, "case_insensitive", rules.CaseInsensitive,
		"forbidden_chars", rules.ForbiddenChars)
	return &RefusedError{Offer: o}
}

// destRules returns the rules of the destination dest: base, the rules of
// this OS's family, under dest's path, with its case sensitivity as probed
// (a Linux receiver writing to an exFAT stick folds case; a macOS one on a
// case-sensitive APFS volume does not) and, where ':' cannot be created,
// the NTFS/FAT characters and trailing dots refused too. If the probe
// cannot write (a read-only destination), the family's defaults stand.
func destRules(dest *os.Root, base manifest.Rules) manifest.Rules {
	r := base.Under(dest.Name())
	p := probeDest(dest, !r.ForbiddenChars)
	if p.caseKnown {
		r.CaseInsensitive = p.caseInsensitive
	}
	if p.colonRefused {
		r.ForbiddenChars, r.TrailingDotSpace = true, true
	}
	return r
}

// probe is what probeDest found.
type probe struct {
	caseKnown, caseInsensitive bool
	colonRefused               bool
}

// probeDest creates a file with a mixed-case name in dest, holding a random
// token, reads it by the name with every letter's case swapped, and
// removes it. With colon
// set, it then tries to create a name holding ':' (never where ':' is known
// to be forbidden: on NTFS it would name an alternate data stream of a
// file). Both names are under manifest.ReservedPrefix, which no entry may
// use.
func probeDest(dest *os.Root, colon bool) probe {
	var b [8]byte
	_, _ = rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	name := manifest.ReservedPrefix + "Probe-" + token
	f, err := dest.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return probe{}
	}
	_, werr := f.WriteString(token)
	if err := f.Close(); werr != nil || err != nil {
		_ = dest.Remove(name)
		return probe{}
	}
	defer dest.Remove(name)
	// The other case names the same file if it reads back the token (inode
	// numbers cannot tell: FUSE file systems may give each name its own).
	var p probe
	switch got, err := dest.ReadFile(swapCase(name)); {
	case err == nil:
		p.caseKnown, p.caseInsensitive = true, string(got) == token
	case errors.Is(err, fs.ErrNotExist):
		p.caseKnown = true
	}
	if colon {
		c := name + "-a:b"
		f, err := dest.OpenFile(c, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			p.colonRefused = true
		} else {
			f.Close()
			_ = dest.Remove(c)
		}
	}
	return p
}

// swapCase swaps the case of every ASCII letter of s.
func swapCase(s string) string {
	return strings.Map(func(c rune) rune {
		switch {
		case 'a' <= c && c <= 'z':
			return c - 'a' + 'A'
		case 'A' <= c && c <= 'Z':
			return c - 'A' + 'a'
		}
		return c
	}, s)
}
