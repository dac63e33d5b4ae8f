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
//	pcp/v3/transfers/                  bucket
//	  <root: 32 bytes>/                bucket, one per transfer
//	    "info"                         transfer record, see below
//	    manifest/                      bucket: u64 BE batch number -> bucket:
//	      <u64 BE part number>         -> part of the encoding (1..1 MiB)
//	    chunks/                        bucket: entry u32 BE | segment u32 BE -> bitset
//	    complete/                      bucket: first entry u32 BE -> end entry u32 BE
//	    ident/                         bucket: entry u32 BE -> identity (see below)
//	    "selection"                    the part of the offer received, if not all (selection.go)
//
// The manifest is stored in its canonical encoding (what hashes to the
// root), cut into parts of 1 MiB (the last may be shorter) numbered from 0
// without gaps. Begin writes them in batches, one write transaction and one
// batch bucket (numbered from 0) per partsPerTx parts, so that it holds a
// few MiB whatever the manifest's size and bbolt never rewrites, nor reads
// back, a part stored earlier. ReadManifest copies one part at a time out of
// its own read transaction, and then drops the file's pages from the
// process's mapping (Linux), so that reading the manifest does not leave it
// resident.
//
// A file's done set is a bitset of its chunks, cut into segments of 16384
// chunks (2 KiB): bit c%64 of word c/64 of segment s is chunk s*16384+c.
// A segment is stored as u64 BE words without its trailing zero words; an
// empty segment has no key. Complete files are a set of disjoint, never
// adjacent intervals [first, end) of entries.
//
// The transfer record ("info") is, big-endian:
//
//	version u8 (=2) | created i64 | updated i64 (Unix ns) | entries i64 |
//	files i64 | totalBytes i64 | doneBytes i64 | totalChunks i64 |
//	doneChunks i64 | flags u8 (bit 0 finished, bit 1 pending) |
//	chunkSize u32 | dest (the rest of the value)
//
// An identity record (FileID) is what a file looked like right after the
// receiver put it in place, big-endian:
//
//	version u8 (=1) | size i64 | mtime i64 (Unix ns) | inode u64 | ctime i64 (Unix ns)
//
// The receiver trusts a file in place as its own only while it still has
// exactly that identity: an edit, even one that puts size and mtime back,
// changes the ctime.
//
// Invariants of the resume log:
//   - A transfer is pending from the first write transaction of Begin to
//     its last; until then it holds part of the manifest and no state, and
//     every method but Begin treats it as absent. Begin deletes pending
//     transfers (left by a crash), whatever their root.
//   - A bit in a done set means: that chunk was verified against its hash
//     AND its bytes were durable on disk before the bit was committed. The
//     order is always data fsync, then log commit. The log never claims a
//     chunk the disk may not have; the disk may have chunks the log lacks.
//   - One MarkDone, Forget or MarkFileComplete call is one write
//     transaction: after a crash the log holds whole batches only.
//   - An entry in complete/ means the file was renamed into place with its
//     mode and mtime. An entry in ident/ exists only for a complete file:
//     MarkFileComplete without identities and Forget of a complete file's
//     chunk drop it. Its done set is dropped when it is recorded complete:
//     all its chunks are done by definition. An interval may also cover
//     directories and symlinks between complete files (at most 64 in a
//     row), so that a tree completed in order is one interval. Forget of a
//     chunk of a complete file removes the file from its interval and clears
//     finished.
//   - doneChunks and doneBytes count, for every file, all of its chunks if
//     it is complete, else the chunks in its done set. So DoneBytes ==
//     TotalBytes once every file is complete, and a done set marked on a
//     complete file (a repair) changes no counter. Every write keeps them so
//     in the same transaction.
//   - MarkDone, Forget and MarkFileComplete need the manifest (the sizes of
//     the entries) and take it from Begin, which must have run in the same
//     handle: the log keeps no per-entry data in memory itself.
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
