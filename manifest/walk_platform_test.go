package manifest

import (
	"errors"
	"testing"
)

// TestWindowsLinkTarget: a Windows sender gives the manifest slash-separated
// relative targets, and never an absolute one in disguise ("C:/x" would
// pass validateTarget as a directory named "C:").
func TestWindowsLinkTarget(t *testing.T) {
	for _, c := range []struct {
		in, want string
		escapes  bool
	}{
		{`x.txt`, "x.txt", false},
		{`..\big.bin`, "../big.bin", false},
		{`deeper\x.txt`, "deeper/x.txt", false},
		{`a/b`, "a/b", false},
		{`C:\Windows\notepad.exe`, "", true},
		{`C:relative`, "", true},
		{`\rooted`, "", true},
		{`\\server\share\f`, "", true},
		{`\\?\C:\x`, "", true},
		{`\??\C:\x`, "", true},
		{`/x`, "", true},
	} {
		got, err := windowsLinkTarget("l", c.in)
		if c.escapes {
			if !errors.Is(err, ErrSymlinkEscapes) {
				t.Errorf("%q: %q, %v; want ErrSymlinkEscapes", c.in, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q: %q, %v; want %q", c.in, got, err, c.want)
		}
		if err := validateTarget("d/e/l", got, DefaultLimits.MaxPathLen); err != nil {
			t.Errorf("%q: the manifest refuses the converted target: %v", c.in, err)
		}
	}
}

// TestStableIndexFS: only NTFS's file index is trusted as an identity;
// elsewhere the hash cache keys on path, size and mtime alone.
func TestStableIndexFS(t *testing.T) {
	for name, want := range map[string]bool{
		"NTFS": true, "ntfs": true, "FAT": false, "FAT32": false, "exFAT": false, "ReFS": false, "": false,
	} {
		if got := stableIndexFS(name); got != want {
			t.Errorf("stableIndexFS(%q) = %v, want %v", name, got, want)
		}
	}
}
