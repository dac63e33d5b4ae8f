// Package engine moves a tree of files from a sender to a receiver over
// libp2p, verified chunk by chunk, and resumes after any interruption.
//
// # The flow
//
// A path on the sender becomes a manifest (package manifest: walk, BLAKE3
// per 1 MiB chunk, canonical encoding, root hash). The receiver finds the
// sender (package discovery), opens a control stream and runs PAKE (package
// auth) bound to both peer IDs. The sender then streams the manifest; the
// receiver validates it completely before acting on it, plans against its
// destination and the resume log, shows the offer, and accepts. Data then
// moves on Streams parallel data streams (package engine/wire has the byte
// layout):
//
//	sender.go   serve: read chunk -> compress if it pays (compress.go) -> write frame
//	receiver.go schedule: feeder walks the plan -> queue -> requests bounded by bytes in flight
//	            -> read frame -> decompress -> verify BLAKE3 -> WriteAt into a staging file
//	commit.go   syncfs -> resume-log commit -> rename complete files into place
//	plan.go     what is present, resumable, conflicting; staging; final tree metadata
//	session.go  hosts, discovery, PAKE, re-dial with patience; Send and Receive
//
// # Invariants
//
//   - Nothing from a peer is acted on before it is validated: the manifest in
//     full (paths, sizes, bounds), every chunk by its BLAKE3 hash.
//   - All destination access goes through os.Root: no path from a peer, no
//     symlink at the destination, can make the receiver write outside it.
//   - A chunk recorded in the resume log is durable on disk; a file recorded
//     complete is in place with its mode and mtime.
//   - An existing file that differs from the offer is never replaced unless
//     ReceiveOptions.Overwrite is set, or it is a file this transfer put
//     there earlier (repair).
//   - Memory is bounded by the in-flight window (MaxInFlight) and one chunk
//     buffer per stream, not by the tree: the manifest is a manifest.Table
//     on disk (a temporary file beside the state files), the plan keeps
//     one byte per entry, the feeder hands out chunks in manifest order a
//     file at a time, and the fileTable and committer hold only files in
//     flight. Offers list at most 100 names (with exact counts).
//   - Only cmd prints: the engine reports through Events.
//
// # Defaults
//
// DefaultStreams = 4 and 1 MiB chunks follow the end-to-end measurements in
// the project's performance notes (4 streams over TCP+TLS+yamux: 676 MB/s
// against 665 for 1 and 680 for 8; 1 MiB chunks against 531/565 MB/s for
// 256 KiB/4 MiB). DefaultMaxInFlight = 16 MiB keeps each of 4 streams two
// 2 MiB request batches deep. It was 32 MiB, but the requested bytes wait
// in yamux's stream buffers on the Go heap whenever the receiver writes
// slower than the sender reads (small files: a file creation each), and
// 32 MiB of them plus the engine's own ~10 MiB pushed the heap into
// MemoryLimit: the collector ran without pause (10k x 4 KiB: receiver RSS
// 66 MiB, a fifth of its CPU in GC). At 16 MiB the receiver peaks near
// 48 MiB and 1 GiB random is no slower (pcp-bench, PCP_BENCH_WINDOW_MIB).
// `make bench` measures the current figures.
//
// # Resume and reconnect
//
// Within a session, a dropped connection sends every requested-but-unreceived
// chunk back to the queue; the receiver re-dials the sender's known addresses
// with backoff for Patience and continues on new streams of the same
// session. Across processes, the resume log (package store) keyed by the
// manifest root tells a new session which chunks are durable; only the rest
// is requested. At most the in-flight window plus one uncommitted batch
// (commitBytes) is ever fetched twice.
package engine
