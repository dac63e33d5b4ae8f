package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/pcp-p2p/pcp/engine"
)

type verifyFlags struct {
	manifest string
	root     string
}

func (a *app) verifyCmd() *cobra.Command {
	var f verifyFlags
	cmd := &cobra.Command{
		Use:   "verify DIR",
		Short: "Re-check a received tree against its manifest; report every difference",
		Long: `Hash every file under DIR again and compare it with the manifest of the transfer
that was received into DIR (kept in the resume log), or with a manifest file
written by 'pcp send --manifest-out'. DIR may be the destination directory or one
of the top-level directories that were received into it.

Every missing, truncated or modified file is listed. After a receive with
--only/--skip, only the part received is checked: the files outside it are
counted as not selected, and do not fail. Exit 0: the tree matches;
exit 6: it differs; exit 1: no manifest was found or DIR cannot be read.`,
		Example: `  pcp verify ~/Downloads                 # the -o DIR of an earlier receive
  pcp verify ~/Downloads/photos
  pcp verify --manifest tree.pcpm ./dataset-copy
  pcp verify --root 3f2a9c1b ~/Downloads  # pick a transfer listed by 'pcp status'`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.verify(cmd.Context(), args[0], &f)
		},
	}
	cmd.Flags().StringVar(&f.manifest, "manifest", "", "manifest file from 'pcp send --manifest-out' (default: the resume log)")
	cmd.Flags().StringVar(&f.root, "root", "", "the transfer's root (hex prefix, see 'pcp status'); default: the one received into DIR")
	return cmd
}

func (a *app) verify(ctx context.Context, dir string, f *verifyFlags) error {
	if f.manifest != "" && f.root != "" {
		return usageError{errors.New("--manifest and --root exclude each other")}
	}
	if f.root != "" && !engine.ValidRootPrefix(f.root) {
		return usageError{fmt.Errorf("--root %q is not hex", f.root)}
	}
	if fi, err := os.Stat(dir); err != nil {
		return usageError{err}
	} else if !fi.IsDir() {
		return usageError{fmt.Errorf("%s is not a directory", dir)}
	}
	u := a.newUI("verify")
	var target engine.VerifyTarget
	var hashed atomic.Int64
	var lastPrint time.Time
	progress := func(n int64) {
		b := hashed.Add(n)
		u.mu.Lock()
		defer u.mu.Unlock()
		now := u.now()
		switch u.mode {
		case modeTTY:
			if u.bar != nil && !u.bar.IsFinished() {
				_ = u.bar.Set64(min(b, u.barMax))
			}
		case modePlain:
			if now.Sub(lastPrint) >= plainEvery {
				lastPrint = now
				fmt.Fprintf(u.out, "verifying: %s of %s (%s)\n", humanBytes(b), humanBytes(target.Bytes), percent(b, target.Bytes))
			}
		case modeJSON:
			if now.Sub(u.lastJSON) >= jsonEvery {
				u.lastJSON = now
				u.jsonLocked("progress", map[string]any{"bytes": b, "total_bytes": target.Bytes})
			}
		}
	}
	diffs, err := engine.Verify(ctx, dir, engine.VerifyOptions{
		ResumeLogPath: a.statePath(engine.ResumeLogFile),
		ManifestFile:  f.manifest,
		Root:          f.root,
		Result: func(t engine.VerifyTarget) {
			target = t
			lastPrint = u.now() // the first plain line after 2 s, not at 0 bytes
			u.json("verifying", map[string]any{"root": t.Root, "dir": t.Dir, "files": t.Files, "bytes": t.Bytes,
				"selection": selectionJSON(t.Selection), "not_selected_files": t.NotSelectedFiles, "not_selected_bytes": t.NotSelectedBytes})
			u.say("Verifying %s (%s) in %s against manifest %s…", plural(int64(t.Files), "file"), humanBytes(t.Bytes), escape(t.Dir), shortRoot(t.Root))
			if !t.Selection.IsZero() {
				u.say("not selected:  %s (%s) outside the part received (%s): not checked",
					plural(int64(t.NotSelectedFiles), "file"), humanBytes(t.NotSelectedBytes), escape(selectionFlags(t.Selection)))
			}
			if u.mode == modeTTY && t.Bytes > 0 {
				u.mu.Lock()
				u.bar, u.barMax = u.newBar(t.Bytes, "verifying"), t.Bytes
				u.mu.Unlock()
			}
		},
	}, progress)
	if err != nil {
		return err
	}
	u.mu.Lock()
	u.finishBars(true)
	u.mu.Unlock()
	for _, d := range diffs {
		f := map[string]any{"path": d.Path, "problem": d.Problem}
		if len(d.BadChunks) > 0 {
			f["bad_chunks"] = d.BadChunks
		}
		u.json("difference", f)
		if len(d.BadChunks) > 0 {
			u.say("%-14s %s (%s)", d.Problem, escape(d.Path), chunkList(d.BadChunks))
		} else {
			u.say("%-14s %s", d.Problem, escape(d.Path))
		}
	}
	u.json("verified", map[string]any{"ok": len(diffs) == 0, "root": target.Root, "files": target.Files,
		"bytes": target.Bytes, "differences": len(diffs), "not_selected_files": target.NotSelectedFiles})
	if len(diffs) > 0 {
		a.reported = true
		u.fail(fmt.Sprintf("%v: %d of %s differ", engine.ErrVerifyFailed, len(diffs), plural(int64(target.Files), "file")), exitVerify)
		return fmt.Errorf("%w: %d differences", engine.ErrVerifyFailed, len(diffs))
	}
	if !target.Selection.IsZero() {
		u.say("OK: all %s (%s) of the part received match; %d not selected.", plural(int64(target.Files), "file"),
			humanBytes(target.Bytes), target.NotSelectedFiles)
		return nil
	}
	u.say("OK: all %s (%s) match.", plural(int64(target.Files), "file"), humanBytes(target.Bytes))
	return nil
}

// chunkList describes differing chunk indexes, briefly.
func chunkList(c []int64) string {
	if len(c) == 1 {
		return fmt.Sprintf("chunk %d", c[0])
	}
	if len(c) <= 5 {
		return fmt.Sprintf("chunks %v", c)
	}
	return fmt.Sprintf("%d chunks, first %v", len(c), c[:5])
}
