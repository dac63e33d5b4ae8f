//go:build !linux && !darwin && !windows

package engine

import "github.com/pcp-p2p/pcp/manifest"

// localRules are the naming rules of this OS's file systems (FreeBSD and
// other Unix systems: 255-byte names, 1024-byte paths).
var localRules = manifest.RulesUnix
