package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// version is set by release builds that name their version:
// go build -ldflags "-X main.version=v1.2.3". Empty, the build info says.
var version string

// buildVersion is what pcp knows of its own build.
type buildVersion struct {
	Version  string // a tag or pseudo-version; "devel" when nothing says
	Revision string // VCS revision, in full; "" when not stamped
	Time     string // VCS commit time (RFC 3339); "" when not stamped
	Modified bool   // the work tree had uncommitted changes
}

// readBuildVersion takes the version from stamped (-ldflags), else from
// the build info: the module version for `go install module@version`,
// and for a build in a checkout the version the go command derives from
// the VCS (a tag, or a pseudo-version; Go 1.24 and later), with the VCS
// revision, time and modified flag, when stamped (-buildvcs).
func readBuildVersion(stamped string, bi *debug.BuildInfo) buildVersion {
	v := buildVersion{Version: stamped}
	if bi != nil {
		if v.Version == "" && bi.Main.Version != "(devel)" {
			v.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Revision = s.Value
			case "vcs.time":
				v.Time = s.Value
			case "vcs.modified":
				v.Modified = s.Value == "true"
			}
		}
	}
	if v.Version == "" {
		v.Version = "devel"
	}
	return v
}

// currentVersion is this binary's buildVersion.
func currentVersion() buildVersion {
	bi, _ := debug.ReadBuildInfo()
	return readBuildVersion(version, bi)
}

// line is the version as one line, without the program's name:
// "v1.2.3 (go1.26.0, linux/amd64, rev 0123456789ab, 2026-01-02T03:04:05Z, modified)".
func (v buildVersion) line(goVersion, goos, goarch string) string {
	parts := []string{goVersion, goos + "/" + goarch}
	if v.Revision != "" {
		parts = append(parts, "rev "+v.Revision[:min(12, len(v.Revision))])
	}
	if v.Time != "" {
		parts = append(parts, v.Time)
	}
	if v.Modified {
		parts = append(parts, "modified")
	}
	return v.Version + " (" + strings.Join(parts, ", ") + ")"
}

func (a *app) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print pcp's version",
		Example: "  pcp version\n  pcp --version\n  pcp version --json",
		Args:    usageArgs(cobra.NoArgs),
		RunE:    func(*cobra.Command, []string) error { return a.printVersion() },
	}
}

// printVersion prints the version (pcp version, pcp --version).
func (a *app) printVersion() error {
	v := currentVersion()
	u := a.newUI("")
	u.json("version", map[string]any{"version": v.Version, "revision": v.Revision, "time": v.Time,
		"modified": v.Modified, "go": runtime.Version(), "os": runtime.GOOS, "arch": runtime.GOARCH})
	if u.mode != modeJSON {
		fmt.Fprintln(u.out, "pcp "+v.line(runtime.Version(), runtime.GOOS, runtime.GOARCH))
	}
	return nil
}
