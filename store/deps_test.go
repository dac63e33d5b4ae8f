package store

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImports keeps the package's direction: store may import only the
// standard library, bbolt, BLAKE3 (to check a stored manifest against its
// root) and manifest.
func TestImports(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	out, err := exec.CommandContext(t.Context(), goBin, "list", "-f", `{{join .Imports "\n"}}`, ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range strings.Fields(string(out)) {
		first, _, _ := strings.Cut(imp, "/")
		switch {
		case !strings.Contains(first, "."): // standard library
		case imp == "go.etcd.io/bbolt", strings.HasPrefix(imp, "go.etcd.io/bbolt/"):
		case imp == "github.com/zeebo/blake3", strings.HasPrefix(imp, "github.com/zeebo/blake3/"):
		case imp == "github.com/pcp-p2p/pcp/manifest":
		default:
			t.Errorf("store imports %s", imp)
		}
	}
}
