package engine

import (
	"fmt"

	"github.com/pcp-p2p/pcp/manifest"
)

// SymlinkSkippedEvent (receiver): the symlink at manifest path Path (to
// Target) was not created, because this receiver cannot create symlinks
// at its destination (Reason says why: a file system without them, or on
// Windows a user without the privilege). Nothing was written in its place,
// not even its target as a file; the rest of the transfer finishes.
type SymlinkSkippedEvent struct {
	Path   string
	Target string
	Reason string
}

func (SymlinkSkippedEvent) isEvent() {}

// finishSymlink creates the symlink e, unless it is already there, and
// sets its own mtime. If the destination cannot hold symlinks at all
// (hostSymlinkRules), it reports that and skips e.
func (r *receiver) finishSymlink(e *manifest.Entry) error {
	if target, err := readSymlink(r.dest, e.Path); err != nil || target != e.Target {
		if err := makeSymlink(r.dest, e.Target, e.Path); err != nil {
			if why := hostSymlinkRules.refusal(err); why != "" {
				r.log.Warn("symlink skipped", "path", e.Path, "err", err)
				emit(r.opts.Events, SymlinkSkippedEvent{Path: e.Path, Target: e.Target, Reason: why})
				return nil
			}
			return fmt.Errorf("creating symlink %s: %w", e.Path, err)
		}
	}
	if err := lchtimes(r.dest, e.Path, e.MTime); err != nil {
		return fmt.Errorf("setting mtime of symlink %s: %w", e.Path, err)
	}
	return nil
}
