package engine

import (
	"context"
	"errors"

	"github.com/pcp-p2p/pcp/manifest"
	"github.com/pcp-p2p/pcp/store"
)

// Verifying a partial receive: the entries outside the selection recorded
// for the transfer are not checked (VerifyTarget counts them), so that a
// tree holding just the selected part matches.

// recordedSelection is the selection the resume log at logPath records for
// root; zero if none (or no log).
func recordedSelection(logPath string, root manifest.Hash) (Selection, error) {
	l, err := store.OpenResumeLog(logPath)
	if err != nil {
		return Selection{}, err
	}
	defer l.Close()
	rules, err := l.Selection(root)
	if errors.Is(err, store.ErrNotFound) {
		return Selection{}, nil
	}
	if err != nil {
		return Selection{}, err
	}
	return selectionFromStore(rules)
}

// selectedTable is the manifest of the entries of t that sel selects (and
// the directories above them), with the files and bytes it leaves out.
// It is nil when sel selects nothing of t.
func selectedTable(ctx context.Context, t *manifest.Table, sel Selection, tmpDir string) (*manifest.Table, int, int64, error) {
	mask := make([]uint8, t.Len())
	c, err := markSelection(ctx, t, sel, mask, 1)
	if err != nil {
		return nil, 0, 0, err
	}
	if c.entries == 0 {
		return nil, c.unselFiles, c.unselBytes, nil
	}
	st, err := filterTable(ctx, t, tmpDir, func(i int, _ *manifest.Entry) bool { return mask[i] == 0 })
	if err != nil {
		return nil, 0, 0, err
	}
	return st, c.unselFiles, c.unselBytes, nil
}

// verifyPart narrows t, the manifest of root, to the selection the resume
// log records for root (none for a manifest file), and says so in tgt. It
// returns the table to check, nil when nothing of t is selected, and a
// func that closes what it made.
func verifyPart(ctx context.Context, t *manifest.Table, opts VerifyOptions, root manifest.Hash, tmpDir string, tgt *VerifyTarget) (*manifest.Table, func(), error) {
	nop := func() {}
	if opts.ManifestFile != "" {
		return t, nop, nil
	}
	sel, err := recordedSelection(opts.ResumeLogPath, root)
	if err != nil || sel.IsZero() {
		return t, nop, err
	}
	st, files, bytes, err := selectedTable(ctx, t, sel, tmpDir)
	if err != nil {
		return nil, nop, err
	}
	tgt.Selection, tgt.NotSelectedFiles, tgt.NotSelectedBytes = sel, files, bytes
	if st == nil {
		return nil, nop, nil
	}
	return st, func() { st.Close() }, nil
}
