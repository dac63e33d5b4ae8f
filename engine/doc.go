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
//	sender.go       authenticate (guard slot, PAKE), send ManifestInfo + manifest, read the decision
//	servedata.go    serve: read chunk -> check its BLAKE3 -> compress if it pays (compress.go) -> write
//	servelimits.go  data streams per session and per sender; pooled chunk buffers and encoders
//	receivers.go    many receivers at once: receiver IDs, per-session counters, sessions ending
//	sendcount.go    the count of complete receivers Send waits for (SendOptions.Receivers)
//	oldpeer.go      a peer of an older pcp (the previous protocol ID): refused, said clearly
//	receive.go      find the sender, PAKE, read the manifest (recvmanifest.go), plan, offer; Receive
//	renew.go        a sender that restarted: authenticate again, continue if the root is the same
//	follow.go       while the sender is unreachable, search the channel again (new address, new peer)
//	text.go         a text offer (send --text): one small file the receiver prints, never stores
//	coalesce.go     a data stream's small frames gathered into one write
//	receiver.go     schedule: feeder walks the plan -> queue -> requests bounded by bytes in flight
//	                -> read frame -> decompress -> verify BLAKE3 -> WriteAt into a staging file
//	streamworker.go one data stream's life: violations end the session (failure.go), transient failures back off (reopening)
//	commit.go       make staged data durable (commit_GOOS.go: syncfs, or fsync per file and dir)
//	                -> resume-log commit -> no-clobber rename of complete files into place
//	fsys_GOOS.go    the platform's file operations: identity, O_DIRECT, times, rename (oserr.go: rules)
//	punch.go        the sender keeps punching holes while a receiver is reached only by relay
//	manifeststream.go  on a meeting-only relay, the manifest waits for a path and its own stream
//	swarmrecv.go    from several sources at once (issue 14, behind a test switch until it carries
//	                every single-source case): a swarm.Scheduler over peersource.go's sources
//	                replaces the queue; gather.go finds and authenticates the other sources,
//	                havestream.go carries their have-maps; same committer, same guarantees
//	seed.go         a receiver serving what it holds (seedchunks.go: verified, through os.Root)
//	                to later receivers of the offer, with have-map updates as it goes
//	plan.go         what is present, complete, resumable, conflicting
//	selection.go    the part of an offer to receive (--only/--skip); selectplan.go marks it in the plan
//	pick.go         the offer's top-level entries, and a selection of some of them (--pick)
//	stage.go        the staging directory: opened without following links, cleaned, repairs copied
//	finish.go       a run: the committer beside the fetch, then modes, times and symlinks once every file is in place
//	send.go         Send: host, discovery, the walk, shutdown
//	streamsend.go   send -: standard input read, hashed and kept (spool.go on disk, streamring.go
//	                in memory without a spool), announced and served (streamserve.go)
//
// # Invariants
//
//   - Nothing from a peer is acted on before it is validated: the manifest in
//     full (paths, sizes, bounds, against what the sender declared in
//     ManifestInfo and against free space), every chunk by its BLAKE3 hash.
//     A protocol violation ends the session as ErrPeerMisbehaving at once.
//   - Every read of a peer that has not proved the passphrase has a deadline,
//     and so does the manifest (an inactivity deadline). Ending a send resets
//     every stream and closes the host before anything waits for handlers.
//   - At most Guard.Limit wrong guesses are judged per offer, whichever
//     peers make them: a handshake takes a guard slot of the offer's one
//     guard before PAKE starts; an exhausted guard starts none.
//   - All destination access goes through os.Root: no path from a peer, no
//     symlink at the destination, can make the receiver write outside it.
//   - No manifest path can name the staging directory (".pcp-" is reserved
//     at the top level). A staging file is trusted only while the resume log
//     records its chunks and it is a regular file; otherwise it is replaced,
//     created exclusively, never through a symlink.
//   - A chunk recorded in the resume log is durable on disk; a file recorded
//     complete is in place with its mode and mtime, and its identity (size,
//     mtime, inode, ctime) is recorded with it.
//   - An existing file that differs from the offer is never replaced unless
//     ReceiveOptions.Overwrite is set, or it still has the identity recorded
//     when this transfer completed it (repair). Replacement is by rename: the
//     receiver never writes into an inode it did not create.
//   - The sender never sends a chunk that does not match the manifest: a
//     source changed since hashing ends the transfer with ErrSourceChanged,
//     naming the manifest path.
//   - Memory is bounded by the in-flight window (MaxInFlight), not by the
//     tree or by what a peer does: the sender serves at most MaxStreams data
//     streams per session from a fixed pool of chunk buffers and encoders;
//     the pool and the limit on data streams in all are the sender's, shared
//     by every receiver, and each session keeps O(1) state (a few counters)
//     until it ends (Done, Decline, failure, or no stream for sessionIdle);
//     the manifest is a manifest.Table on disk (a temporary file beside the
//     state files), the plan keeps one byte per entry, the feeder hands out
//     chunks in manifest order a file at a time, and the fileTable and
//     committer hold only files in flight. Offers list at most 100 names
//     (with exact counts).
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
// Bulk data goes over TCP where a peer offers TCP and QUIC: the host dials
// TCP first (p2p.DialRanker), since QUIC costs three times the CPU. The
// path found by mDNS went from QUIC at 3.3-4.4 CPU-s per 256 MiB random to
// TCP at 1.6-1.7, as --direct. Summary.Transport reports it. Compression
// is chosen per stream by measurement (compress.go, compresspolicy.go).
//
// # Speed
//
// 1 GiB of random data over the default path (mDNS, TCP, two network
// namespaces; PCP_BENCH_CPUPROFILE of cmd/pcp-bench), both peers on one
// 2-core machine shared with other work: CPU-seconds of that run, and the
// share of each side's samples:
//
//	sender, 3.5 s                  receiver, 2.9 s
//	BLAKE3 (two passes)  1.05 30%  BLAKE3 verify          0.60 20%
//	socket write(2)      0.61 17%  socket read(2)         0.53 18%
//	AES-GCM + TLS copy   0.46 13%  AES-GCM                0.39 13%
//	pread                0.33  9%  TLS -> yamux copy      0.23  8%
//	read (manifest hash) 0.19  5%  yamux -> frame copy    0.25  9%
//	yamux frame copy     0.15  4%  pwrite                 0.26  9%
//	GC                   0.11  3%  GC + malloc            0.16  5%
//
// What stays, and why. The sender hashes every byte twice (the manifest,
// then each chunk again before it is sent, so a file changed in place is
// never served) and the receiver once: that is the guarantee. TLS costs
// AES and a copy into each 16 KiB record. crypto/tls wrote each record
// with a write(2) of its own, four per yamux frame; now the records of
// one frame go out together (p2p/tlsbatch.go): 66,879 writes at the
// sender of 1 GiB became 18,078, and one yamux stream between two hosts
// (p2p BenchmarkDirectStream, 4 interleaved runs each) went from 939-1160
// MB/s at 1.5-1.9 CPU-s per GiB to 1271-1475 MB/s at 1.2-1.4. In pcp's
// own 1 GiB row the change is inside the noise (default path, 6 paired
// runs: 386-447 MB/s before, 394-464 after): hashing, the file I/O and
// the copies weigh more there. The transfer waits for the manifest's
// root, and the walk hashed one large file on one core; a file of 8 chunks
// or more is now hashed on Workers goroutines (manifest hashChunksAt): the
// walk of 1 GiB took 490-517 ms, now 307-355, and pcp's 1 GiB row (4
// paired runs) 407-480 MB/s before, 428-469 after, direct 411-437 and
// 428-451. yamux
// copies each frame on both sides (its API reads into the caller's
// buffer from its own). pcp copies chunk data once on each side (file to
// frame buffer, stream to frame buffer) and allocates nothing per chunk
// on the sender's serve path. Chunk hashes are computed on the calling
// goroutine by github.com/zeebo/blake3 (manifest's sum256: AVX2, eight
// 1 KiB BLAKE3 chunks at once): 1.7 GB/s on 4 KiB and 3.9 GB/s on 1 MiB,
// where lukechampine.com/blake3 (its AVX-512 kernel under a serial tree)
// gave 0.47 and 3.3 (manifest BenchmarkSum256). GC is 1-3%. Both ends
// together need 4.5-5 CPU-s per GiB on a quiet machine (7 on a busy one)
// against rsync's 1.3 (no encryption, no strong hash per block): when they
// share two cores, at most ~450 MB/s, where rsync's daemon moves 500-1200
// MB/s.
//
// Small files cost system calls, not bytes. 10k x 4 KiB, counted with
// strace -c on each child of pcp-bench: the sender made 24 calls per file
// and the receiver 19. os.OpenFile and os.Root.OpenFile registered every
// file with the network poller (four fcntl and a failing epoll_ctl each:
// 10 of the sender's 24, two opens per file), the plan's Lstat of each
// file below a directory not there yet failed one openat, and every chunk
// was its own yamux frame, TLS record and write(2). Now files are opened
// with open(2)/openat(2) and os.NewFile (manifest.OpenLocal and the
// walk's openRead; fsys_unix.go: createIn), the plan looks nothing up
// below an absent directory, and small frames go out together, up to 64
// KiB per write (coalesce.go): 15 calls per file at the sender, 13 at the
// receiver. Paired pcp-bench runs (-only small, tmpfs, with the BLAKE3
// change): 0.87-0.99 s and 1.39-1.59 CPU-s before, 0.53-0.74 s and
// 0.84-1.21 CPU-s after. Then the walk stopped handing each file to a hash
// worker in a rendezvous (a goroutine switch per file: 0.64-0.77 s before,
// 0.49-0.64 s after), and the manifest table kept two blocks, not one, for
// its two readers (31,900 preads to 8,555). What is left, on the
// receiver's clock: process start, mDNS and PAKE 25-40 ms; the sender's
// walk 110-150 ms (a stat-only scan for the progress totals, then lstat,
// open, fstat, read, fstat, close per file); plan 20 ms; fetch and commit
// ~400 ms, CPU-bound on two cores shared by both peers (per file: create,
// pwrite, fchmod, utimensat, close at the fetch; rename and two fstatat
// in the committer; ~0.5 CPU-s a side in all).
//
// On a slow link the wire bytes decide. 1 MiB chunks of Go source, each
// compressed alone: 0.209 of the raw size at zstd's fastest level, 0.194
// at the default, 0.182 at better, 0.168 at best; one zstd stream per
// data stream with a window across chunks would save 2-6% more (0.204,
// 0.187, 0.171), not worth chunks that decode only in stream order. rsync
// -z sends 0.175. At 200 Mbit with 256 MiB of source, pcp's streams move
// to the default level (compresspolicy.go) and put 51 MB on the wire
// against rsync's 47 (58-70 MB while a stream's start could make it
// measure raw: compress.go, warmingUp), plus mDNS and hashing before the
// first byte: 122 MB/s against rsync's 134, 0.91x.
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
