package engine

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// ErrBadPath: a path given to send cannot be offered (it does not exist,
// cannot be read, or shares its name with another path given).
var ErrBadPath = errors.New("cannot offer this path")

// CheckPaths checks what can be checked of the paths to send before the
// words are shown: each exists (a named symlink is followed) and its top
// level can be read (a file opened, a directory listed), and no two have
// the same base name (they would be the same top-level entry). Entries
// deeper in a tree that cannot be read are skipped during the walk
// (SkippedEvent). Errors name the paths as given.
func CheckPaths(paths []string) error {
	seen := make(map[string]string, len(paths))
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrBadPath, p, err)
		}
		name := filepath.Base(abs)
		if other, dup := seen[name]; dup {
			return fmt.Errorf("%w: %s and %s have the same name %q (rename one, or send their parent)", ErrBadPath, other, p, name)
		}
		seen[name] = p
		st, err := os.Stat(abs)
		if err != nil {
			return fmt.Errorf("%w: %s: %s", ErrBadPath, p, osText(err))
		}
		if !st.IsDir() && !st.Mode().IsRegular() {
			continue // a special file: the walk skips it and says so
		}
		f, err := os.Open(abs)
		if err != nil {
			return fmt.Errorf("%w: cannot read %s: %s", ErrBadPath, p, osText(err))
		}
		if st.IsDir() {
			_, err = f.ReadDir(1)
			if err == io.EOF {
				err = nil
			}
		}
		f.Close()
		if err != nil {
			return fmt.Errorf("%w: cannot read %s: %s", ErrBadPath, p, osText(err))
		}
	}
	return nil
}
