// Package store keeps pcp's local state in two bbolt files: the receiver's
// resume log (ResumeLog) and the sender's hash cache (HashCache). They are
// separate files so that a sender and a receiver on one machine never wait
// on each other's file lock.
//
// # Opening
//
// Both files are opened with a 1 s lock timeout. bbolt takes an exclusive
// flock on the file; flock locks belong to the open file description, so a
// second open of the same path fails even inside one process. Either way the
// open fails with an error wrapping ErrLocked. Parent directories are created
// 0700, files 0600.
//
// # Resume log layout
//
// All bucket names live in buckets.go and carry a version.
//
//	pcp/v1/transfers/                  bucket
//	  <root: 32 bytes>/                bucket, one per transfer
//	    "info"                         transfer record, see below
//	    manifest/                      bucket: u64 BE part number -> part
//	    done/                          bucket: entry u32 BE | chunk u32 BE -> ""
//	    complete/                      bucket: entry u32 BE -> ""
//
// The manifest is stored in its canonical encoding (manifest.Encode), cut
// into parts of at most 1 MiB numbered from 0, so that no manifest needs one
// giant value. Begin checks that the encoding hashes to the root it is filed
// under; Manifest decodes the parts and checks it again.
//
// The transfer record ("info") is, big-endian:
//
//	version u8 (=1) | created i64 | updated i64 (Unix ns) | files i64 |
//	totalBytes i64 | doneBytes i64 | totalChunks i64 | doneChunks i64 |
//	finished u8 (0/1) | chunkSize u32 | dest (the rest of the value)
//
// Invariants of the resume log:
//   - A chunk key in done/ means: that chunk was verified against its hash
//     AND its bytes were durable on disk before the key was committed. The
//     order is always data fsync, then log commit. The log never claims a
//     chunk the disk may not have; the disk may have chunks the log lacks.
//   - One MarkDone call is one write transaction: after a crash the done set
//     holds whole batches only.
//   - doneChunks is the number of keys in done/ and doneBytes the sum of
//     their lengths; MarkDone and Forget keep them so in the same transaction
//     (marking twice counts once, forgetting an absent chunk counts nothing).
//   - An entry in complete/ means the file was renamed into place with its
//     mode and mtime. Forget of any chunk of an entry removes the entry from
//     complete/ and clears finished.
//
// # Hash cache layout
//
//	pcp/v1/hashcache/                  bucket
//	  <absolute path>                  cache record
//
// A cache record is, big-endian:
//
//	version u8 (=1) | size i64 | mtime i64 | inode u64 | dev u64 |
//	chunkSize u32 | lastUsed i64 (Unix ns) | hashes (32 bytes each, the rest)
//
// A lookup hits only if size, mtime, inode, dev and chunk size all match and
// the number of hashes is manifest.ChunkCount(size, chunkSize). The cache is
// advisory: Store never fails the caller; write errors are logged and kept
// for Err. Stores are held in memory (where Lookup sees them) and written in
// one transaction per HashCacheOptions.BatchSize entries, on Flush, Prune and
// Close. lastUsed is refreshed by a hit at most once per hour per path, in
// the same batches, and is what Prune goes by.
//
// # Concurrency
//
// Both types are safe for concurrent use by several goroutines.
package store
