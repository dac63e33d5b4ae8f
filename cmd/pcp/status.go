package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pcp-p2p/pcp/engine"
)

func (a *app) statusCmd() *cobra.Command {
	var prune, all bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "List resumable and finished transfers in the resume log",
		Long: `List the transfers this computer has received or started to receive: their root,
state (resumable or finished), progress, last activity, the sender's peer ID,
the top-level names offered and the destination. Transfers recorded by an
older pcp show "-" for the peer and the names.

--prune deletes finished transfers from the log (their files stay where they
are, but 'pcp verify' then needs --manifest). --prune --all deletes resumable
ones too: they would start from scratch.`,
		Example: `  pcp status
  pcp status --json
  pcp status --prune          # forget finished transfers
  pcp status --prune --all    # forget everything`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if all && !prune {
				return usageError{fmt.Errorf("--all only goes with --prune")}
			}
			logPath := a.statePath(engine.ResumeLogFile)
			u := a.newUI("status")
			if prune {
				n, err := engine.PruneTransfers(logPath, all)
				if err != nil {
					return err
				}
				u.json("pruned", map[string]any{"count": n})
				u.say("Pruned %s.", plural(int64(n), "transfer"))
				return nil
			}
			list, err := engine.ListTransfers(logPath)
			if err != nil {
				return err
			}
			for _, t := range list {
				u.json("transfer", map[string]any{"root": t.Root, "dest": t.Dest, "state": transferState(t),
					"files": t.Files, "total_bytes": t.TotalBytes, "done_bytes": t.DoneBytes,
					"total_chunks": t.TotalChunks, "done_chunks": t.DoneChunks,
					"created": t.Created.UTC().Format(time.RFC3339), "updated": t.Updated.UTC().Format(time.RFC3339),
					"names": nonNil(t.Names), "name_count": t.NameCount, "peer": t.Peer})
			}
			if u.mode == modeJSON {
				return nil
			}
			if len(list) == 0 {
				fmt.Fprintln(u.out, "No transfers in", logPath)
				return nil
			}
			tw := tabwriter.NewWriter(u.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ROOT\tSTATE\tDONE\tFILES\tUPDATED\tPEER\tNAMES\tDEST")
			for _, t := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s of %s\t%d\t%s\t%s\t%s\t%s\n", shortRoot(t.Root), transferState(t),
					humanBytes(t.DoneBytes), humanBytes(t.TotalBytes), t.Files,
					t.Updated.Local().Format("2006-01-02 15:04"), orDash(escape(shortPeer(t.Peer))),
					orDash(statusNames(t)), escape(t.Dest))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&prune, "prune", false, "delete finished transfers from the resume log")
	cmd.Flags().BoolVar(&all, "all", false, "with --prune: delete resumable transfers too")
	return cmd
}

func transferState(t engine.TransferInfo) string {
	if t.Finished {
		return "finished"
	}
	return "resumable"
}

// statusNames is the first few top-level names of t, escaped (they are
// the sender's), with "and N more".
func statusNames(t engine.TransferInfo) string {
	if len(t.Names) == 0 {
		return ""
	}
	return listNames(escapeAll(t.Names), max(t.NameCount, len(t.Names)), 3)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
