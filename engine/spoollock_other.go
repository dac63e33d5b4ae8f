//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly || windows)

package engine

import "os"

// lockSpool cannot lock on this platform: spools left by a process that
// died are not recognised, and never swept.
func lockSpool(*os.File) error { return nil }

const spoolLocks = false
