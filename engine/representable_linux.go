package engine

import "github.com/pcp-p2p/pcp/manifest"

// localRules are the naming rules of this OS's file systems; destRules
// adjusts them by probing the destination.
var localRules = manifest.RulesLinux
