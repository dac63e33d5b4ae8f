package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// TestReadBuildVersion: where the version comes from, for each way pcp is
// built.
func TestReadBuildVersion(t *testing.T) {
	vcs := func(rev, tm, mod string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev},
			{Key: "vcs.time", Value: tm}, {Key: "vcs.modified", Value: mod}}
	}
	const rev = "819aeba22c3347bce0eaabc9e9ff5ec08f4e8afe"
	for _, c := range []struct {
		name    string
		stamped string
		bi      *debug.BuildInfo
		want    buildVersion
		line    string
	}{
		{"go install module@version", "", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}},
			buildVersion{Version: "v1.2.3"}, "v1.2.3 (go1.26.0, linux/amd64)"},
		{"checkout at a tag, clean", "", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}, Settings: vcs(rev, "2026-12-02T00:04:49Z", "false")},
			buildVersion{Version: "v1.2.3", Revision: rev, Time: "2026-12-02T00:04:49Z"},
			"v1.2.3 (go1.26.0, linux/amd64, rev 819aeba22c33, 2026-12-02T00:04:49Z)"},
		{"checkout, edited", "", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261202000449-819aeba22c33+dirty"}, Settings: vcs(rev, "2026-12-02T00:04:49Z", "true")},
			buildVersion{Version: "v0.0.0-20261202000449-819aeba22c33+dirty", Revision: rev, Time: "2026-12-02T00:04:49Z", Modified: true},
			"v0.0.0-20261202000449-819aeba22c33+dirty (go1.26.0, linux/amd64, rev 819aeba22c33, 2026-12-02T00:04:49Z, modified)"},
		{"no VCS stamping (-buildvcs=false)", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}},
			buildVersion{Version: "devel"}, "devel (go1.26.0, linux/amd64)"},
		{"release build, -ldflags -X", "v2.0.0", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs(rev, "2026-12-02T00:04:49Z", "false")},
			buildVersion{Version: "v2.0.0", Revision: rev, Time: "2026-12-02T00:04:49Z"},
			"v2.0.0 (go1.26.0, linux/amd64, rev 819aeba22c33, 2026-12-02T00:04:49Z)"},
		{"no build info", "", nil, buildVersion{Version: "devel"}, "devel (go1.26.0, linux/amd64)"},
	} {
		got := readBuildVersion(c.stamped, c.bi)
		if got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
		if l := got.line("go1.26.0", "linux", "amd64"); l != c.line {
			t.Errorf("%s: line %q, want %q", c.name, l, c.line)
		}
	}
}

// TestVersionOfBinary: `pcp --version` and `pcp version` print the same
// line, made of what the binary's build info holds (as `go version -m`
// reads it), and a version stamped with -ldflags wins.
func TestVersionOfBinary(t *testing.T) {
	state := t.TempDir()
	flag, cmd := runPCP(t, state, "", "--version"), runPCP(t, state, "", "version")
	if flag.code != 0 || cmd.code != 0 || flag.stdout != cmd.stdout || flag.stderr != "" {
		t.Fatalf("--version: %d %q %q; version: %d %q", flag.code, flag.stdout, flag.stderr, cmd.code, cmd.stdout)
	}
	out, err := exec.Command("go", "version", "-m", pcpBin).Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	want := buildVersion{Version: "devel"}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[0] == "mod" && f[2] != "(devel)":
			want.Version = f[2]
		case len(f) == 2 && f[0] == "build":
			k, v, _ := strings.Cut(f[1], "=")
			switch k {
			case "vcs.revision":
				want.Revision = v
			case "vcs.time":
				want.Time = v
			case "vcs.modified":
				want.Modified = v == "true"
			}
		}
	}
	if w := "pcp " + want.line(runtime.Version(), runtime.GOOS, runtime.GOARCH) + "\n"; flag.stdout != w {
		t.Errorf("pcp --version = %q, want %q (from go version -m)", flag.stdout, w)
	}
	j := runPCP(t, state, "", "--version", "--json")
	var ev map[string]any
	if err := json.Unmarshal([]byte(j.stdout), &ev); err != nil || ev["event"] != "version" || ev["version"] != want.Version ||
		ev["revision"] != want.Revision || ev["modified"] != want.Modified {
		t.Errorf("--version --json: %q (%v), want version %q revision %q", j.stdout, err, want.Version, want.Revision)
	}

	// A release build names its version.
	stamped := filepath.Join(t.TempDir(), "pcp")
	if out, err := exec.Command("go", "build", "-trimpath", "-ldflags", "-X main.version=v9.8.7", "-o", stamped, ".").CombinedOutput(); err != nil {
		t.Fatalf("building with -ldflags: %v\n%s", err, out)
	}
	if out, err := exec.Command(stamped, "--version").Output(); err != nil || !strings.HasPrefix(string(out), "pcp v9.8.7 (") {
		t.Errorf("stamped build: %q (%v), want pcp v9.8.7 (…)", out, err)
	}
}
