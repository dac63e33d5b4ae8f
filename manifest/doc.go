// Package manifest describes a transfer: the list of paths, their kinds,
// permission bits, modification times, sizes and per-chunk BLAKE3 hashes,
// with one canonical byte encoding whose BLAKE3 hash is the root that both
// peers agree on. It walks local trees into manifests (Walk), hashes chunks
// (HashChunk, HashChunks), encodes and decodes (Encoder, Encode, Decode,
// DecodeTable), validates hostile input (Validate, ValidatePath), keeps
// manifests of any size on disk (Table), and compares data on disk with a
// manifest (Table.CompareFile, VerifyTree), opens walked files for reading
// (OpenLocal), and says which file systems can hold a manifest's paths
// (Rules, CheckTable). It is pure: no network,
// no libp2p, no bbolt; it imports only the standard library,
// github.com/zeebo/blake3, golang.org/x/sync, golang.org/x/text/unicode/norm
// and, for the walk's file identity on Windows, golang.org/x/sys/windows.
//
// # Terms
//
//   - Entry: one path: a regular file, a directory or a symlink.
//   - Chunk: a file is cut into ChunkCount(size, ChunkSize) chunks of
//     ChunkSize bytes, the last one shorter (ChunkLen). An empty file has
//     no chunks. A chunk's hash is BLAKE3-256 of its bytes.
//   - Root: BLAKE3-256 of the whole canonical encoding, header to trailer.
//   - Component order (ComparePaths): paths compared as sequences of
//     "/"-separated components, each compared as bytes; equivalently, byte
//     order after mapping "/" to 0x00. A directory's whole subtree comes
//     right after it: "a", "a/x", "a/y/z", "a.txt", "b" (byte order would
//     put "a.txt" before "a/x").
//   - Table: a validated manifest kept in an unlinked temporary file, read
//     on demand (see Memory).
//
// # Invariants of a valid manifest (Validate, and Decode and DecodeTable as they read)
//
//   - ChunkSize is a power of two in [MinChunkSize, MaxChunkSize].
//   - Paths are relative, slash-separated and clean: non-empty, at most
//     Limits.MaxPathLen bytes, no NUL, no leading "/", no empty, "." or ".."
//     component, path.Clean(p) == p, and in Unicode NFC (see "Unicode
//     normalization"). They are bytes, not necessarily UTF-8; a backslash
//     is an ordinary byte.
//   - Entries are strictly increasing by path in component order (so no
//     duplicates), and the parent of every non-top-level entry is an earlier
//     entry of kind dir. Hence nothing lies below a file or a symlink. In
//     component order every entry between a directory and one of its
//     children lies inside that directory, so the check needs only the stack
//     of the current entry's ancestors: pop every directory that is not a
//     prefix of the entry; the parent must then be on top.
//   - Mode has no bits outside 0o777. Dirs and symlinks have size 0 and no
//     chunks; a file has exactly ChunkCount(Size, ChunkSize) chunk hashes.
//   - A symlink target is non-empty, has no NUL, is in NFC, is at most MaxPathLen bytes,
//     is relative, and path.Join(path.Dir(link), target) is neither ".." nor
//     below it; for a link below a top-level entry it stays inside that
//     top-level entry (the sender's tree). Also, ".." may appear only before every other component of
//     the target, because the kernel resolves ".." after a symlinked
//     component physically: with "a/b/s" -> "..", the lexically harmless
//     "a/b/t" -> "s/../.." would resolve to the tree's parent. Receivers
//     should still create and write everything through os.Root.
//   - Sizes and counts stay within Limits (zero fields mean DefaultLimits).
//
// # Encoding, version 2
//
// All integers are big-endian, fixed width:
//
//	header : magic "PCPM" (4 bytes) | version u8 (=2) | chunkSize u32
//	entry  : tag u8 (=1) | kind u8 | pathLen u16 | path bytes | mode u32 | mtime i64 (unix ns)
//	         then by kind:  file    (1) -> size u64 | ChunkCount(size) hashes of 32 bytes each
//	                        dir     (2) -> nothing
//	                        symlink (3) -> targetLen u16 | target bytes
//	trailer: tag u8 (=0) | entryCount u64
//
// Entries come in component order. Version 1 had the same layout with
// entries in byte order; it is refused, as is any other version.
//
// There is exactly one encoding of each manifest, so Root identifies it.
// Decode reads with io.ReadFull only and never past the trailer, checks
// every length against Limits before allocating, appends chunk hashes in
// batches as they arrive (a hostile size costs nothing until its hashes
// are sent), and returns either a fully valid manifest or none at all.
// Failures wrap ErrMalformed (bytes), ErrInvalid (rules) or ErrTooLarge
// (limits) and name the offending path. DecodeTable is the same decoder
// with another sink: it accepts and refuses exactly what Decode does, with
// the same errors.
//
// # Memory
//
// A manifest in memory costs about 150 bytes per entry plus 32 per chunk,
// so pcp keeps them out of core: Manifest, Encode and Decode remain for
// tests and small tools, everything else goes through a Table.
//
//   - Validation keeps the previous path and the ancestor stack (the
//     deepest directory's path and one length per level): O(depth), never
//     a set of all directories.
//   - DecodeTable copies every byte it reads (chunk hashes included, batch
//     by batch) through a 64 KiB buffer into an unlinked temporary file,
//     and the offset of each entry's tag byte (u64) through another into a
//     second one: 8 bytes of disk per entry, nothing in memory. Decoding
//     300,000 streamed entries grows the heap by about 0.25 MiB (the
//     in-memory Decode: about 43 MiB); 1,000,000 small entries decode in
//     0.4 to 0.6 s (BenchmarkDecodeTable, 2 shared cores, load about 6).
//   - Table.Entry reads the index and then the record with ReadAt; a cache
//     of the last 8 entries, one 4 KiB block of the index, one 16 KiB
//     block of the encoding and one 4 KiB block of chunk hashes makes the
//     engine's pattern (the same entry once per chunk, then the next) cost
//     tens of nanoseconds; a random entry costs two preads (a few µs).
//     Table.ChunkHash reads one hash (or its block) at the record's offset
//     plus the head plus 32 bytes per chunk. Table.Scan reads the encoding
//     sequentially.
//
// # Chunk size
//
// DefaultChunkSize is 1 MiB. The end-to-end pipeline on the reference
// machine (2 cores, libp2p TCP+TLS, 4 streams, BLAKE3 verify, O_DIRECT
// writes, bbolt log) measured 676 MB/s at 1 MiB against 531 MB/s at 256 KiB
// and 565 MB/s at 4 MiB. Hashing alone does not decide it:
// BenchmarkHashChunkSizes (256 MiB of random data, one goroutine, one reused
// buffer; go test -run XXX -bench HashChunkSizes -benchtime 5x -count 3 on
// 2 cores shared with other jobs, load average about 5) gave 256 KiB
// 1234/1820/1845 MB/s, 1 MiB 1578/1369/1490 MB/s, 4 MiB 1115/1447/1183 MB/s,
// and an earlier run of the same benchmark ranked them the other way round:
// the differences are within the noise of the shared machine. So the choice
// follows the pipeline figure (presumably per-chunk costs elsewhere, such as
// requests and log records, weigh at small sizes, and coarser pipelining at
// large ones). A 1 MiB chunk costs 32 bytes of manifest per MiB of data
// (32 MiB per TiB).
//
// # Walking
//
// Walk scans first (stat only, so totals are known), then walks the trees
// depth-first in component order, one directory's names at a time, hashing
// files with a fixed number of workers, each reusing one chunk buffer (a
// file of 8 chunks or more is hashed by as many goroutines at once, each
// with a buffer: the transfer waits for the root, and one core hashed
// 1 GiB in ~0.5 s where two take ~0.33), and streams the entries through
// an Encoder into a temporary file that DecodeTable turns into the
// Source's Table: memory depends neither on file sizes nor on the number
// of files. A HashCache keyed by FileKey (path, size, mtime, inode,
// device, chunk size) lets an unchanged file skip hashing.
//
// # Unicode normalization
//
// Names travel in NFC. What is normalized, and where:
//
//   - Walk (the sender) names each entry by the NFC form of its local name,
//     top-level names included, and normalizes symlink targets, which name
//     entries. It still opens every file by its on-disk name: Source keeps a
//     map from entry path to local path for the names that changed (none
//     on most Linux and Windows trees; on macOS, HFS+ stores every name
//     decomposed, and APFS keeps what programs wrote), and Source.Local
//     looks there first. Children are sorted by their NFC names, so the
//     manifest stays in component order. Two local names of one directory
//     that are one name in NFC (possible on Linux, where they are two
//     files) cannot both travel: the first in byte order is sent and the
//     other is given to OnSkip with ErrNameClash.
//   - Validate, Decode and DecodeTable (the one validation boundary, on the
//     receiver too) refuse a path or symlink target that is not in NFC.
//     Invalid UTF-8 is not text, so NFC leaves it as it is, and it passes.
//   - The receiver writes names as they arrive. Linux and Windows file
//     systems store them as given; APFS keeps them and finds them in either
//     form; HFS+ stores its own decomposed form. Nothing is converted on
//     the way in.
//
// # Receive-path rules
//
// A valid manifest is valid everywhere; whether a file system can hold its
// paths is a separate question, answered by pure functions that do not
// depend on the GOOS running them (pathrules.go): Rules describe a family
// (RulesLinux, RulesDarwin, RulesWindows, RulesFAT, RulesUnix), Rules.Check
// gives the Reason one path breaks them, and CheckTable runs every entry
// against several families at once, collisions across the whole manifest
// included (names that differ only in case or normalization, with two
// directories merging rather than colliding). A receiver uses its own
// family's rules, adjusted by probing its destination.
package manifest
