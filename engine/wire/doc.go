// Package wire is the byte format of pcp's transfer protocol: protocol IDs,
// frame types, their encodings and the bound on every length. It imports no
// network code: frames are read from an io.Reader and written to an io.Writer.
//
// # Streams
//
// One libp2p protocol, ProtocolID ("/pcp/transfer/3.0.0"), carries every
// stream. The receiver opens all streams. The previous version,
// OldProtocolID ("/pcp/transfer/2.0.0"), is not spoken: a sender accepts
// its streams only to reset them at once (and tell its user), and a
// receiver that meets a peer speaking only it stops with a clear "older
// pcp" error instead of searching on. One sender serves any number of
// receivers, each in its own session (its own PAKE, its own session id).
// The first frame of a stream says what the stream is:
//
//   - Open{Kind: KindControl}: the PAKE handshake (package auth, its own
//     framing) follows at once on the raw stream. On success the sender, as
//     long as it is still hashing, sends Wait at least every WaitEvery
//     (10 s); then ManifestInfo, the manifest as Manifest frames whose
//     payloads add up to exactly ManifestInfo.Encoded bytes, and
//     ManifestEnd{root}. The receiver answers Accept or Decline. The control
//     stream then closes. The receiver checks ManifestInfo against its limits
//     and free space before it stores a manifest byte, and fails a manifest
//     that differs from it (entries, encoded bytes, file bytes) or makes too
//     little progress (the engine's manifest deadline).
//   - Open{Kind: KindManifest, Session: id}: when ManifestInfo has
//     FlagManifestStream (the control stream runs on a relay circuit that is
//     for meeting only, whose limit would cut the manifest), the manifest
//     does not follow on the control stream: the receiver opens this stream
//     once it has a path that can carry data, and the sender sends the
//     Manifest frames and ManifestEnd on it, once per session, to the peer
//     of the session only. The decision still goes on the control stream.
//   - Open{Kind: KindHave, Session: id}: which chunks the source holds, for
//     a receiver that fetches from several sources at once. The source sends
//     HaveMap frames that cover chunks [0, T) in order, each starting where
//     the last ended; then, while it gains chunks (a receiver that re-seeds),
//     HaveUpdate frames, and Wait at least every WaitEvery while it has none;
//     it closes the stream once it holds every chunk. A sender holds them
//     all: it sends the maps and closes. The receiver asks a source only for
//     chunks its maps and updates hold.
//   - Open{Kind: KindData, Session: id}: a data stream of the authenticated
//     session id. The sender accepts it only from the peer ID that passed
//     PAKE for that session. The receiver sends Request frames; the sender
//     answers every requested chunk, in request order, with a Chunk frame (or
//     an Error frame). A Done frame from the receiver ends the session; the
//     sender answers DoneAck.
//
// # Streams of standard input
//
// A stream offer (pcp send -) has no manifest up front: the sender reads
// its input while receivers fetch it. On the control stream, after PAKE, the
// sender sends ManifestInfo with FlagStream (entries, encoded and file bytes
// all 0) and then StreamInfo; the receiver answers Accept or Decline, and
// the control stream closes. The receiver then opens Open{KindManifest,
// session} (at once on a connection that can carry data; on a meeting-only
// one, once it has such a path, as for a manifest), and the sender sends on
// it, from chunk 0:
//
//	Announce{first, hashes}...  StreamEnd{size, root}
//
// Announce frames name consecutive chunks: the first frame starts at chunk
// 0 and each next one where the last stopped. While its input is idle the
// sender sends Wait at least every WaitEvery. Every announced chunk has
// exactly StreamInfo.ChunkSize bytes, except the stream's last, which has 1
// to ChunkSize; StreamEnd follows the last announcement, its size must fit
// the announced count (manifest.StreamChunks), and its root must be
// manifest.StreamRoot of the announced hashes and size. A receiver may open
// a new KindManifest stream of the session at any time (after a dropped
// connection); it gets every announcement again from chunk 0 and must find
// them equal to what it already holds. Data streams work as for files, with
// Ref{Entry: 0, Chunk: i} for announced chunks only; a chunk's rawLen may
// be below ChunkSize only for the stream's last chunk.
//
// The receiver fails the session as a protocol violation when an Announce
// does not start at the next chunk, when a chunk arrives that does not hash
// to its announcement, when StreamEnd's size or root disagrees, or when a
// second sight of the announcements differs from the first. A sender
// without StreamSpooled may answer a request for a chunk it no longer holds
// with Error CodeGone: the receiver cannot resume that stream.
//
//	StreamInfo  (22) id [32]byte | chunk size u32 | flags u8 | n u8 | name (n bytes)   <= 38 + 255
//	Announce    (23) first u32 | count u16 | count x hash [32]byte                    <= 6 + 32*MaxAnnounce
//	StreamEnd   (24) size u64 | root [32]byte                                           = 40
//
// StreamInfo's id is random per send (a receiver resuming into a file checks
// it is the same stream); its name is one path component (manifest.ValidatePath,
// at most MaxStreamName bytes, no slash) that a receiver writing a file may
// use; flags: StreamSpooled (1). MaxAnnounce is 1024; count is 1 to it, and
// first+count <= 2^32.
//
// # Frames
//
// Every frame is
//
//	type u8 | length u32 big-endian | payload (length bytes)
//
// A reader checks length against the type's bound (MaxPayload) before it
// allocates or reads the payload; an unknown type or an oversized length is
// ErrFrame. Payloads, all integers big-endian:
//
//	Open        (1)  kind u8 | session [32]byte (KindData, KindManifest) <= 33
//	Manifest    (2)  a piece of the manifest's canonical encoding         <= 1 MiB
//	ManifestEnd (3)  root [32]byte                                          = 32
//	Accept      (4)  empty                                                  = 0
//	Decline     (5)  empty                                                  = 0
//	Request     (6)  count u16 | count x (entry u32 | chunk u32)          <= 2 + 8*MaxRefs
//	Chunk       (7)  entry u32 | chunk u32 | enc u8 | rawLen u32 | data   <= 13 + MaxChunkData
//	Error       (8)  code u16 | message (UTF-8, never a local path)        <= 2 + 1024
//	Done        (9)  [flags u8: DoneSelected (1), a selection]              <= 1
//	DoneAck     (10) empty                                                  = 0
//	Wait        (11) empty                                                  = 0
//	ManifestInfo (12) entries u64 | encoded u64 | file bytes u64 [| flags u8]  24 or 25
//
// ManifestInfo's flags byte is present only when it is not 0 (so a plain
// offer is 24 bytes, as before flags existed). FlagText (1) marks a text
// offer (pcp send --text): its manifest must be exactly one regular file,
// at the top level, of at most MaxText (64 KiB) bytes, or the receiver
// fails it as a protocol violation. The receiver fetches that file like any
// other, into a private directory, prints it and removes it: a text offer
// never writes into the receiver's destination and asks no question.
// FlagManifestStream (2): the manifest comes on a KindManifest stream (see
// Streams). FlagStream (4): a stream of standard input (see Streams of
// standard input). Unknown flag bits are ErrFrame. A receiver older than flags rejects a
// text offer's 25-byte ManifestInfo as ErrFrame: it stores nothing, and
// the sender keeps offering.
//
// In a Chunk, enc is EncRaw (data is the chunk) or EncZstd (data is one zstd
// frame that decodes to exactly rawLen bytes). rawLen never exceeds the
// manifest's chunk size; the receiver checks it against the manifest before
// decompressing, and decompresses with a limit of rawLen.
//
// Have-map frames (havemap.go; on KindHave streams) say which chunks a
// source holds, by global chunk index (the manifest's chunks numbered in
// entry order, 0 to its chunk count T - 1):
//
//	HaveMap    (20) T u32 | start u32 | span u32 | form u8 | body     <= 13 + MaxHaveSpan/8
//	HaveUpdate (21) count u16 | count x index u32 (strictly increasing) <= 2 + 4*MaxHaveUpdate
//
// A HaveMap covers chunks [start, start+span), 1 <= span <= MaxHaveSpan
// (2^20), start+span <= T; a larger manifest takes several. Form 0: a bitmap
// of ceil(span/8) bytes, chunk start+j at bit 7-j%8 of byte j/8, unused
// bits 0. Form 1: uvarint run lengths, alternately absent and held starting
// with absent (only the first may be 0), adding up to exactly span. A
// HaveUpdate names 1 to MaxHaveUpdate (1024) newly held chunks, each < T.
// The decoders take T from the manifest and refuse any other (ErrFrame).
//
// Error codes, and what the receiver does with each:
//
//	1 Internal       the sender failed for its own reasons: the session ends
//	2 BadRequest     the receiver asked for what the manifest lacks: the session ends
//	3 SourceChange   the sender's file changed since hashing; the message is
//	                 the file's manifest path: ErrSourceChanged, resumable
//	4 UnknownSession a data stream named no authenticated session: the session ends
//	5 Busy           the sender serves as many data streams as it allows
//	                 (per session and in all): transient, retried with backoff
//	6 Gone           a stream's chunk the sender no longer holds (it keeps
//	                 no spool): the stream cannot be resumed
//	7 NotHeld        a chunk the source does not hold (a re-seeder asked for
//	                 a chunk its have-map lacks, or one it can no longer
//	                 verify): that source is dropped, others are asked
//
// Any other code, or an Error frame where none belongs, is a protocol
// violation.
package wire
