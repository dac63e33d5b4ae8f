package store

import (
	"syscall"

	bolt "go.etcd.io/bbolt"
)

// dropMapped tells the kernel that this process no longer needs any page of
// bbolt's file mapping. tx must be a read transaction, during which the
// mapping cannot move (bbolt remaps only under a lock that read
// transactions hold shared). The pages stay in the page cache; only this
// process's references to them go, so they stop counting in its RSS, and a
// later access faults them back in from the cache.
//
// Reading a stored manifest needs it: every part read through the mapping
// would otherwise stay resident, and the whole manifest with it. Dropping
// just the part read is not enough, because the kernel maps a whole large
// folio around a faulting page: the next lookup maps much of the
// neighbouring parts again.
func dropMapped(tx *bolt.Tx) {
	if tx.Writable() {
		return
	}
	// Advice only: an error changes nothing the caller relies on.
	syscall.Syscall(syscall.SYS_MADVISE, tx.DB().Info().Data, uintptr(tx.Size()), syscall.MADV_DONTNEED)
}
