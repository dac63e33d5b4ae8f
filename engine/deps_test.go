package engine

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyDirections keeps the layering true: the pure packages must not
// pull in the network, libp2p or bbolt.
func TestDependencyDirections(t *testing.T) {
	forbidden := map[string][]string{
		"github.com/pcp-p2p/pcp/manifest":    {"net", "github.com/libp2p/", "go.etcd.io/bbolt", "github.com/pcp-p2p/pcp/"},
		"github.com/pcp-p2p/pcp/engine/wire": {"net", "github.com/libp2p/", "go.etcd.io/bbolt", "github.com/pcp-p2p/pcp/auth", "github.com/pcp-p2p/pcp/store"},
		"github.com/pcp-p2p/pcp/auth":        {"net", "github.com/libp2p/", "go.etcd.io/bbolt", "github.com/pcp-p2p/pcp/"},
		"github.com/pcp-p2p/pcp/store":       {"net", "github.com/libp2p/", "github.com/pcp-p2p/pcp/engine", "github.com/pcp-p2p/pcp/auth"},
		// The scheduler knows no transport and no file (engine/swarm's doc).
		"github.com/pcp-p2p/pcp/engine/swarm": {"net", "github.com/libp2p/", "go.etcd.io/bbolt", "github.com/pcp-p2p/pcp/engine",
			"github.com/pcp-p2p/pcp/auth", "github.com/pcp-p2p/pcp/store", "github.com/pcp-p2p/pcp/discovery"},
	}
	for pkg, bad := range forbidden {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if dep == pkg || dep == "github.com/pcp-p2p/pcp/manifest" && pkg != "github.com/pcp-p2p/pcp/manifest" && pkg != "github.com/pcp-p2p/pcp/auth" {
				continue
			}
			for _, b := range bad {
				if dep == b || strings.HasSuffix(b, "/") && strings.HasPrefix(dep, b) {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		}
	}
}
