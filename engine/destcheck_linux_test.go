package engine

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckDestination: a destination that cannot be written is refused,
// named as given; /sys is read-only even for root.
func TestCheckDestination(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	writeFile(t, file, []byte("x"))
	for _, d := range []string{file, filepath.Join(file, "sub"), "/sys/pcp-no-such-dir"} {
		err := CheckDestination(d)
		if !errors.Is(err, ErrDestination) {
			t.Errorf("CheckDestination(%s) = %v, want ErrDestination", d, err)
			continue
		}
		if !strings.Contains(err.Error(), d) {
			t.Errorf("error %q does not name %s", err, d)
		}
	}
	for _, d := range []string{dir, filepath.Join(dir, "new", "deeper")} {
		if err := CheckDestination(d); err != nil {
			t.Errorf("CheckDestination(%s) = %v", d, err)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("the probe left %d entries", len(ents))
	}
}
