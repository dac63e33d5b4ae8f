package store

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/pcp-p2p/pcp/manifest"
)

// The selection of a transfer: which part of the offer the receiver takes
// (pcp receive --only/--skip). It is stored under keySelection in the
// transfer's bucket, so that a later run of the same receive continues
// with it; Delete removes it with the transfer. A transfer without the key
// receives everything.
//
// Encoding (all integers big-endian):
//
//	u8  version (1)
//	u16 rule count (1..MaxSelectionRules)
//	per rule: two pattern lists, only then skip; each:
//	    u16 pattern count (0..MaxSelectionPatterns)
//	    per pattern: u16 length (1..MaxPatternLen), the pattern's bytes
//
// The store keeps the patterns as text; it neither parses nor matches them.

// Bounds on a stored selection; a record past them is ErrCorrupt.
const (
	selectionVersion     = 1
	MaxSelectionRules    = 64
	MaxSelectionPatterns = 256
	MaxPatternLen        = 4096
)

// SelectionRule is one rule of a selection: the entries matching any Only
// pattern (all, if Only is empty), less those matching any Skip pattern.
// An entry is selected when any rule of the selection selects it.
type SelectionRule struct {
	Only, Skip []string
}

// SetSelection records rules as the selection of root's transfer; no rules
// removes the record (the transfer receives everything).
func (l *ResumeLog) SetSelection(root manifest.Hash, rules []SelectionRule) error {
	var enc []byte
	if len(rules) > 0 {
		var err error
		if enc, err = encodeSelection(rules); err != nil {
			return fmt.Errorf("store: selection %s: %w", root.Short(), err)
		}
	}
	now := l.now().UnixNano()
	err := l.db.Update(func(tx *bolt.Tx) error {
		b, in, err := transfer(tx, root)
		if err != nil {
			return err
		}
		in.updated = now
		if err := putInfo(b, in); err != nil {
			return err
		}
		if enc == nil {
			return b.Delete(keySelection)
		}
		return b.Put(keySelection, enc)
	})
	if err != nil {
		return fmt.Errorf("store: selection %s: %w", root.Short(), err)
	}
	return nil
}

// Selection returns the selection recorded for root's transfer; nil means
// none (everything). An absent or pending root: ErrNotFound.
func (l *ResumeLog) Selection(root manifest.Hash) ([]SelectionRule, error) {
	var rules []SelectionRule
	err := l.db.View(func(tx *bolt.Tx) error {
		b, _, err := transfer(tx, root)
		if err != nil {
			return err
		}
		v := b.Get(keySelection)
		if v == nil {
			return nil
		}
		rules, err = decodeSelection(v)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: selection %s: %w", root.Short(), err)
	}
	return rules, nil
}

func encodeSelection(rules []SelectionRule) ([]byte, error) {
	if len(rules) > MaxSelectionRules {
		return nil, fmt.Errorf("%d rules: at most %d", len(rules), MaxSelectionRules)
	}
	b := []byte{selectionVersion}
	b = binary.BigEndian.AppendUint16(b, uint16(len(rules)))
	for _, r := range rules {
		for _, list := range [][]string{r.Only, r.Skip} {
			if len(list) > MaxSelectionPatterns {
				return nil, fmt.Errorf("%d patterns: at most %d", len(list), MaxSelectionPatterns)
			}
			b = binary.BigEndian.AppendUint16(b, uint16(len(list)))
			for _, p := range list {
				if len(p) == 0 || len(p) > MaxPatternLen {
					return nil, fmt.Errorf("pattern of %d bytes: 1 to %d", len(p), MaxPatternLen)
				}
				b = binary.BigEndian.AppendUint16(b, uint16(len(p)))
				b = append(b, p...)
			}
		}
	}
	return b, nil
}

func decodeSelection(b []byte) ([]SelectionRule, error) {
	bad := func(what string) ([]SelectionRule, error) {
		return nil, fmt.Errorf("%w: selection: %s", ErrCorrupt, what)
	}
	if len(b) < 3 || b[0] != selectionVersion {
		return bad("bad header")
	}
	n := int(binary.BigEndian.Uint16(b[1:]))
	if n == 0 || n > MaxSelectionRules {
		return bad(fmt.Sprintf("%d rules", n))
	}
	b = b[3:]
	u16 := func() (int, bool) {
		if len(b) < 2 {
			return 0, false
		}
		v := int(binary.BigEndian.Uint16(b))
		b = b[2:]
		return v, true
	}
	rules := make([]SelectionRule, n)
	for i := range rules {
		for _, list := range []*[]string{&rules[i].Only, &rules[i].Skip} {
			k, ok := u16()
			if !ok || k > MaxSelectionPatterns {
				return bad("bad pattern count")
			}
			for range k {
				m, ok := u16()
				if !ok || m == 0 || m > MaxPatternLen || m > len(b) {
					return bad("bad pattern length")
				}
				*list = append(*list, string(b[:m]))
				b = b[m:]
			}
		}
	}
	if len(b) != 0 {
		return bad("trailing bytes")
	}
	return rules, nil
}
