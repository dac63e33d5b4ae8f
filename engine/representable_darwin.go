package engine

import "github.com/pcp-p2p/pcp/manifest"

// localRules are the naming rules of this OS's file systems (APFS, HFS+:
// case-insensitive by default, which destRules probes; always
// normalization-insensitive). Names arrive in NFC and are written as they
// are: APFS keeps them, HFS+ stores its own decomposed form.
var localRules = manifest.RulesDarwin
