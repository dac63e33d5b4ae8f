package engine

import (
	"errors"
	"io/fs"
	"os"
	"strings"
)

// skipText says why a local entry was left out of the manifest, for a
// SkippedEvent, which names the entry itself: the failing system call and
// the path ("open /x/y: permission denied") are cut down to what happened
// ("permission denied"), and the manifest package's prefix goes.
func skipText(err error) string {
	s := skipReason(err)
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Err != nil {
		s = strings.Replace(s, pe.Error(), pe.Err.Error(), 1)
	}
	var se *os.SyscallError
	if errors.As(err, &se) && se.Err != nil {
		s = strings.Replace(s, se.Error(), se.Err.Error(), 1)
	}
	return s
}
