package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// linkErr is an error as os.Root.Symlink returns it, wrapping errno n of
// some platform.
func linkErr(n uintptr) error {
	return &os.LinkError{Op: "symlinkat", Old: "t", New: "l", Err: syscall.Errno(n)}
}

// TestSymlinkRefusal: for every platform, which errors from creating a
// symlink skip the entry (and why), and which fail the transfer.
func TestSymlinkRefusal(t *testing.T) {
	for _, c := range []struct {
		platform string
		rules    symlinkRules
		err      error
		want     string
	}{
		{"linux", symlinkRulesLinux, linkErr(1), reasonNoSymlinks},    // EPERM: vfat
		{"linux", symlinkRulesLinux, linkErr(38), reasonNoSymlinks},   // ENOSYS: exfat-fuse
		{"linux", symlinkRulesLinux, linkErr(95), reasonNoSymlinks},   // EOPNOTSUPP
		{"linux", symlinkRulesLinux, linkErr(13), ""},                 // EACCES: a failure
		{"linux", symlinkRulesLinux, linkErr(17), ""},                 // EEXIST
		{"linux", symlinkRulesLinux, linkErr(28), ""},                 // ENOSPC
		{"darwin", symlinkRulesDarwin, linkErr(45), reasonNoSymlinks}, // ENOTSUP: msdosfs
		{"darwin", symlinkRulesDarwin, linkErr(102), reasonNoSymlinks},
		{"darwin", symlinkRulesDarwin, linkErr(1), reasonNoSymlinks},
		{"darwin", symlinkRulesDarwin, linkErr(13), ""},
		{"darwin", symlinkRulesDarwin, linkErr(95), ""}, // not an errno of darwin's rules
		{"freebsd", symlinkRulesFreeBSD, linkErr(45), reasonNoSymlinks},
		{"freebsd", symlinkRulesFreeBSD, linkErr(102), ""},
		{"freebsd", symlinkRulesFreeBSD, linkErr(17), ""},
		{"windows", symlinkRulesWindows, linkErr(1314), reasonSymlinkPrivilege}, // ERROR_PRIVILEGE_NOT_HELD
		{"windows", symlinkRulesWindows, linkErr(50), reasonNoSymlinks},         // ERROR_NOT_SUPPORTED
		{"windows", symlinkRulesWindows, linkErr(1), reasonNoSymlinks},          // ERROR_INVALID_FUNCTION: FAT
		{"windows", symlinkRulesWindows, linkErr(5), ""},                        // ERROR_ACCESS_DENIED
		{"windows", symlinkRulesWindows, linkErr(183), ""},                      // ERROR_ALREADY_EXISTS
		{"windows", symlinkRulesWindows, fmt.Errorf("creating: %w", linkErr(1314)), reasonSymlinkPrivilege},
		{"any", symlinkRulesLinux, errors.New("not an errno"), ""},
		{"any", symlinkRulesWindows, nil, ""},
	} {
		if got := c.rules.refusal(c.err); got != c.want {
			t.Errorf("%s: refusal(%v) = %q, want %q", c.platform, c.err, got, c.want)
		}
	}
}

// TestRenameFallbacks: which errors of a no-clobber rename primitive make
// the receiver fall back to the next one, per platform. EEXIST never does:
// it is the answer the primitive exists to give.
func TestRenameFallbacks(t *testing.T) {
	for _, c := range []struct {
		name  string
		set   errnos
		errno uintptr
		want  bool
	}{
		{"linux renameat2 EINVAL", noReplaceUnsupportedLinux, 22, true},
		{"linux renameat2 ENOSYS", noReplaceUnsupportedLinux, 38, true},
		{"linux renameat2 EEXIST", noReplaceUnsupportedLinux, 17, false},
		{"linux renameat2 EXDEV", noReplaceUnsupportedLinux, 18, false},
		{"darwin RENAME_EXCL ENOTSUP", exclUnsupportedDarwin, 45, true},
		{"darwin RENAME_EXCL EEXIST", exclUnsupportedDarwin, 17, false},
		{"darwin link EPERM (msdosfs)", linkUnsupportedDarwin, 1, true},
		{"darwin link EOPNOTSUPP", linkUnsupportedDarwin, 102, true},
		{"darwin link EEXIST", linkUnsupportedDarwin, 17, false},
		{"darwin link EXDEV", linkUnsupportedDarwin, 18, false},
		{"freebsd link EOPNOTSUPP", linkUnsupportedFreeBSD, 45, true},
		{"freebsd link EMLINK", linkUnsupportedFreeBSD, 31, true},
		{"freebsd link EEXIST", linkUnsupportedFreeBSD, 17, false},
		{"freebsd link EACCES", linkUnsupportedFreeBSD, 13, false},
	} {
		if got := c.set.has(&os.LinkError{Op: "rename", Old: "a", New: "b", Err: syscall.Errno(c.errno)}); got != c.want {
			t.Errorf("%s: fall back = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestWindowsPaths: the destination's paths as the Win32 calls take them
// past MAX_PATH, and symlink targets in Windows's form and back.
func TestWindowsPaths(t *testing.T) {
	for in, want := range map[string]string{
		`C:\Users\me\in\a.txt`:  `\\?\C:\Users\me\in\a.txt`,
		`\\server\share\in\a`:   `\\?\UNC\server\share\in\a`,
		`\\?\C:\already\long`:   `\\?\C:\already\long`,
		`D:\` + longName + `\x`: `\\?\D:\` + longName + `\x`,
	} {
		if got := windowsExtendedPath(in); got != want {
			t.Errorf("windowsExtendedPath(%q) = %q, want %q", in, got, want)
		}
	}
	for _, target := range []string{"x.txt", "../big.bin", "deeper/x.txt", "../../a/b/c"} {
		w := windowsTarget(target)
		if w == target && target != "x.txt" {
			t.Errorf("windowsTarget(%q) kept the slashes", target)
		}
		if back := fromWindowsTarget(w); back != target {
			t.Errorf("fromWindowsTarget(windowsTarget(%q)) = %q", target, back)
		}
	}
}

const longName = "a-directory-name-that-makes-the-path-longer-than-max-path-" +
	"a-directory-name-that-makes-the-path-longer-than-max-path-" +
	"a-directory-name-that-makes-the-path-longer-than-max-path-" +
	"a-directory-name-that-makes-the-path-longer-than-max-path-" +
	"a-directory-name-that-makes-the-path-longer-than-max-path"

// TestNoIdentityMatchesNothing: a file whose stat has no identity
// (fileID on Windows) is never taken for one this transfer recorded, and
// the identities recorded are never noIdentity.
func TestNoIdentityMatchesNothing(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "f"), []byte("data"))
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	id, err := idOf(root, "f")
	if err != nil {
		t.Fatal(err)
	}
	if id == noIdentity || id.Size != 4 {
		t.Errorf("recorded identity %+v", id)
	}
	st, err := root.Lstat("f")
	if err != nil {
		t.Fatal(err)
	}
	// Where a stat carries the identity it is the one recorded; where it
	// does not (Windows), it is noIdentity.
	if got := fileID(st); got != id && got != noIdentity {
		t.Errorf("fileID of the stat %+v is neither the identity recorded %+v nor noIdentity", got, id)
	}
	if _, err := idOf(root, "."); err == nil {
		t.Error("idOf a directory: no error")
	}
}
