package engine

import "github.com/pcp-p2p/pcp/store"

// A file's identity (store.FileID) is what the receiver records of a file
// it puts in place, so that a later run can tell whether anyone touched it
// since (see store.FileID). It comes from the platform: fileID reads it
// from a stat, fileIDAt and idOf from the file system (fsys_GOOS.go).
//
// noIdentity is what fileID gives where a stat carries no identity
// (Windows: the stat has neither the file index nor a change time). No
// recorded identity equals it, since a recorded one has a real size: a
// file with no identity is never taken for one this transfer put in place,
// and is compared chunk by chunk instead (planFile), the fallback of
// re-hashing that costs time and never trusts a changed file.
var noIdentity = store.FileID{Size: -1}
