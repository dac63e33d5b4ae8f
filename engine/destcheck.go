package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrDestination: the destination directory cannot be written (it is not
// a directory, or creating a file in it, or in its nearest existing parent
// when it does not exist yet, failed).
var ErrDestination = errors.New("destination not writable")

// CheckDestination checks, before anything is searched for, that a
// receive into dir can write there: dir, or its nearest existing parent
// when dir does not exist yet, is a directory in which a file can be
// created (a probe, removed at once). Errors name dir as given.
func CheckDestination(dir string) error {
	if dir == "" {
		dir = "."
	}
	d, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrDestination, dir, err)
	}
	for {
		st, err := os.Stat(d)
		if err == nil {
			if !st.IsDir() {
				if d == filepath.Clean(mustAbs(dir)) {
					return fmt.Errorf("%w: %s is not a directory", ErrDestination, dir)
				}
				return fmt.Errorf("%w: %s cannot be created: %s is not a directory", ErrDestination, dir, d)
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: %s: %v", ErrDestination, dir, osText(err))
		}
		parent := filepath.Dir(d)
		if parent == d {
			return fmt.Errorf("%w: %s: no existing parent directory", ErrDestination, dir)
		}
		d = parent
	}
	f, err := os.CreateTemp(d, ".pcp-probe-*")
	if err != nil {
		if d == filepath.Clean(mustAbs(dir)) {
			return fmt.Errorf("%w: cannot write in %s: %v", ErrDestination, dir, osText(err))
		}
		return fmt.Errorf("%w: %s cannot be created: cannot write in %s: %v", ErrDestination, dir, d, osText(err))
	}
	name := f.Name()
	f.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("%w: cannot remove files in %s: %v", ErrDestination, d, osText(err))
	}
	return nil
}

func mustAbs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

// osText is an OS error without the operation and path it names (the
// probe's internal name), e.g. "permission denied".
func osText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
