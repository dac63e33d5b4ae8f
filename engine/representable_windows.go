package engine

import "github.com/pcp-p2p/pcp/manifest"

// localRules are the naming rules of this OS's file systems (NTFS through
// Win32: device names, trailing dots and spaces, ':' and the other
// forbidden characters, case-insensitive unless destRules finds a
// case-sensitive directory).
var localRules = manifest.RulesWindows
