package manifest

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the package pure: no network, libp2p or bbolt.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	for dep := range strings.FieldsSeq(string(out)) {
		switch {
		case dep == "net", strings.HasPrefix(dep, "net/"),
			strings.Contains(dep, "libp2p"), strings.Contains(dep, "bbolt"):
			t.Errorf("manifest depends on %s", dep)
		case strings.Contains(dep, "."): // a module outside the standard library
			if !strings.HasPrefix(dep, "github.com/zeebo/blake3") && !strings.HasPrefix(dep, "golang.org/x/sync") &&
				!strings.HasPrefix(dep, "golang.org/x/text/") && // NFC (unicode/norm)
				!strings.HasPrefix(dep, "github.com/pcp-p2p/pcp/manifest") &&
				!strings.HasPrefix(dep, "github.com/klauspost/cpuid") { // blake3's own dependency
				t.Errorf("manifest depends on %s", dep)
			}
		}
	}
}
