package auth

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the package's direction true: auth runs over an
// io.ReadWriter and must not pull in libp2p, bbolt, the network stack or
// any other pcp package.
func TestDependencies(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not in PATH")
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("implausible dependency list: %q", deps)
	}
	for _, d := range deps {
		switch {
		case d == "net", strings.HasPrefix(d, "net/"),
			strings.Contains(d, "libp2p"), strings.Contains(d, "multiformats"),
			strings.Contains(d, "bbolt"),
			strings.HasPrefix(d, "github.com/pcp-p2p/pcp/") && d != "github.com/pcp-p2p/pcp/auth":
			t.Errorf("auth depends on %s", d)
		}
	}
}
