//go:build !linux

package store

import bolt "go.etcd.io/bbolt"

// dropMapped is a no-op where MADV_DONTNEED's meaning for shared file
// mappings is not known to match Linux's.
func dropMapped(*bolt.Tx) {}
