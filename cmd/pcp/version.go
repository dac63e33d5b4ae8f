package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/pcp-p2p/pcp/engine"
)

func (a *app) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print pcp's version",
		Example: "  pcp version\n  pcp version --json",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			rev := ""
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" && len(s.Value) >= 12 {
						rev = s.Value[:12]
					}
				}
			}
			u := a.newUI("")
			u.json("version", map[string]any{"version": engine.Version, "revision": rev,
				"go": runtime.Version(), "os": runtime.GOOS, "arch": runtime.GOARCH})
			if u.mode != modeJSON {
				s := fmt.Sprintf("pcp %s (%s, %s/%s", engine.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
				if rev != "" {
					s += ", " + rev
				}
				fmt.Fprintln(u.out, s+")")
			}
			return nil
		},
	}
}
