// Package swarm is the receiver's multi-source scheduler: it fetches one
// manifest's chunks from several authenticated sources at once. It knows
// no transport and no file: a source is a Source (one method, Fetch), and
// what to do with a chunk is the caller's Verify. One source or ten look
// the same to it.
//
// # Terms
//
// A chunk is named by its global index: the manifest's chunks numbered in
// entry order, from 0 to Want.Total-1 (Index maps an index to a wire.Ref
// and back; a manifest of 2^32 chunks or more cannot be swarmed). A source's have-map is a Set of the chunks it holds, built
// from wire.HaveMap frames and grown by wire.HaveUpdate frames through
// Peer.HaveMap and Peer.Have. A chunk is waiting (needed, in flight
// nowhere), in flight (asked of one source, or of two in the endgame), or
// done (verified).
//
// # Invariants
//
//   - Same root: Add refuses a source whose root is not Want.Root with
//     ErrOtherRoot. Chunks of two offers are never mixed.
//   - A source is asked only for chunks its have-map holds, and not again
//     for a chunk that failed verification from it while another live
//     source that has not failed it holds it (a chunk only one source can
//     give is asked of it again; MaxBad bounds how often).
//   - Verify before done: a chunk is done only when Verify returned true
//     for it, which happens exactly once per needed chunk. Verify never runs
//     twice at once for one chunk; a second copy (endgame) is discarded
//     unverified.
//   - Nothing is lost: a chunk that fails verification, and every chunk in
//     flight at a source that fails, leaves or is dropped, waits again for
//     the other sources.
//   - A source whose chunks fail verification MaxBad times (3) is dropped.
//   - Run returns nil only when every needed chunk is done. When chunks are
//     missing, nothing is in flight, no source left may be asked for any
//     of them and no Hold is outstanding (a search that may add sources, a
//     have-map that may grow), it returns a *NoSourceError (ErrNoSource)
//     with the count.
//   - Run returns only after every Fetch call it made has returned.
//
// # Order
//
// Chunks are handed out in index order, lowest first: each source gets
// first the lowest waiting chunks that only it holds among the live
// sources, then the lowest of the rest. In order suits files: the
// receiver's committer finishes files front to back. Only-it-holds first
// keeps a sender that serves many receivers from sending what re-seeders
// could give (they hold prefixes; the sender holds everything). When no
// chunk waits, an idle source (nothing of its own in flight) may be asked
// for one chunk in flight at exactly one other source, the one asked of it
// last (the endgame): the first verified copy wins, so a stalled source
// cannot hold the end of the transfer back.
//
// # Windows and bounds
//
// Every chunk in flight is charged its Want.Cost to a global window
// (Options.Window, 32 MiB by default, never below two chunks) and to its
// source's window, from when it is asked until its copy was verified or
// discarded. The bytes in flight never exceed the global window, however
// many sources there are: the receiver's chunk memory is bounded by it.
//
// A source's window adapts: it starts at Options.SourceWindow (2 chunks),
// grows by the cost of each chunk verified from it (slow start: it doubles
// every time a window's worth arrives), up to the global window and to
// about a second of what the source has delivered since it was first asked
// (a shared, slow uplink is not asked for more than it can send before
// another source could give the same chunks), and halves when a chunk from
// it fails verification or when another source delivered first a chunk it
// had been asked for. It never falls below two chunks while it is the only
// source, one while others serve too. A source that delivers faster
// therefore holds more of the global window. A source gets a new batch (at
// most Options.MaxBatch chunks and half its window) once half its window
// is free, so a source has about two batches in flight: requests pipeline.
// A Fetch call whose chunks all came (some from other sources) is
// cancelled, so that its source stops sending copies nobody wants; it does
// not count against the source.
//
// Memory per source is its have-map (Total/8 bytes) and a few counters;
// the scheduler's own state is two Sets of Total bits (waiting, done),
// one record per chunk in flight (bounded by the window), and the list of
// sources each failed chunk came from (at most MaxBad per source). Handing
// out a batch scans the waiting set from its lowest word: O(Total/64) at
// worst.
package swarm
