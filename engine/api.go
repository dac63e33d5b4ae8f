package engine

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/pcp-p2p/pcp/auth"
	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/manifest"
)

// Errors callers branch on. cmd maps them to exit codes.
var (
	// ErrWrongPassphrase: the PAKE handshake failed (the peer used other words).
	ErrWrongPassphrase = auth.ErrWrongPassphrase
	// ErrTooManyFailures: the sender saw too many failed handshakes and stopped.
	ErrTooManyFailures = auth.ErrTooManyFailures
	// ErrPeerNotFound: discovery found no peer that passed authentication in time.
	ErrPeerNotFound = errors.New("peer not found")
	// ErrNoPath: the sender was found and authenticated, but only through
	// a relay whose circuits are limited (a public relay: for meeting, not
	// for data), and neither a hole punch nor a relay that can carry data
	// gave another path within NoPathWait.
	ErrNoPath = errors.New("found and authenticated the sender, but no direct path and no relay that can carry data")
	// ErrInterrupted: the transfer stopped before completion; the resume log holds
	// what was verified, and a new run for the same data continues from there.
	ErrInterrupted = errors.New("transfer interrupted")
	// ErrDeclined: the receiver declined the offer.
	ErrDeclined = errors.New("transfer declined")
	// ErrExists: files at the destination differ from the offer and Overwrite is off.
	ErrExists = errors.New("destination has differing files")
	// ErrPeerMisbehaving: the peer kept sending chunks that fail verification, or
	// broke the protocol.
	ErrPeerMisbehaving = errors.New("peer misbehaving")
	// ErrVerifyFailed: a tree on disk does not match its manifest.
	ErrVerifyFailed = errors.New("verification failed")
	// ErrNoSpace: the offer (its manifest in the state directory, or its
	// missing file bytes at the destination) does not fit in the free space.
	// It comes wrapped with ErrInterrupted: nothing is lost, and the same
	// sender still waits for a new run once there is room.
	ErrNoSpace = errors.New("no space left")
	// ErrSourceChanged: a file on the sender changed after it was hashed, so
	// the sender refused to send it (see SourceChangedPath). Resumable: what
	// the receiver verified is kept; the sender must hash again.
	ErrSourceChanged = wire.ErrSourceChanged
	// ErrNothingToSend: every path given to Send was skipped (SkippedEvent
	// names each), e.g. a FIFO alone.
	ErrNothingToSend = manifest.ErrNothingToSend
)

// MaxStreams is the most data streams a sender serves at once for one
// receiver; a receiver asking for more gets the rest refused (wire.ErrBusy).
const MaxStreams = 16

// NetworkOptions choose how peers are found and reached. The zero value listens
// on all interfaces (TCP and QUIC, random ports), runs mDNS and the DHT with
// the public bootstrap peers.
type NetworkOptions struct {
	ListenAddrs []string // multiaddrs; nil = all interfaces, random ports
	Bootstrap   []string // DHT bootstrap multiaddrs (with /p2p/); nil = public IPFS bootstrap peers
	Relays      []string // circuit relay v2 multiaddrs to use; nil = none pinned
	Direct      []string // receiver: dial these multiaddrs and skip discovery
	MDNSOnly    bool
	DHTOnly     bool
	// NoDiscovery turns mDNS and the DHT off: a sender is reachable only by
	// its addresses, a receiver needs Direct.
	NoDiscovery bool
	// FindTimeout bounds how long a receiver searches before ErrPeerNotFound.
	// 0 = 2 minutes.
	FindTimeout time.Duration
	// NoPortMap stops the host asking the local router for a port mapping
	// (UPnP IGD or NAT-PMP). By default it asks, and announces the mapped
	// address, so a peer behind any NAT can dial it directly.
	NoPortMap bool
	// private, set only by this package's tests, makes a host with relays
	// private from the start, as behind a NAT: on loopback, AutoNAT would
	// never say so, and nothing would be reserved.
	private bool
}

// SendOptions configure Send. Zero values are sane defaults.
type SendOptions struct {
	Paths []string
	// Text, if not "", is sent as a short message instead of Paths (at
	// most MaxTextSize bytes; see text.go): the receiver prints it.
	Text string
	// Stdin, if not nil, is offered as a stream (pcp send -; see
	// streamsend.go) instead of Paths, which must be empty: its chunks
	// are announced as they are read, and receivers fetch them meanwhile.
	Stdin io.Reader
	// StreamName is what a receiver that writes the stream to a file
	// calls it: one path component; "" = "stdin".
	StreamName string
	// NoSpool keeps no copy of the stream on disk, only a window of
	// chunks in memory: a receiver that drops cannot resume, and a second
	// receiver cannot start once the first chunks are gone.
	NoSpool bool
	// SpoolMax bounds the spool, the stream's copy in the state directory
	// (beside HashCachePath, else os.TempDir()); 0 = the free space there
	// less a reserve. A stream that outgrows it ends Send with ErrSpoolFull.
	SpoolMax   int64
	Passphrase auth.Passphrase
	// MaxAuthFailures stops the sender after this many failed handshakes; 0 = 3.
	MaxAuthFailures int
	// ChunkSize; 0 = manifest.DefaultChunkSize.
	ChunkSize uint32
	// HashCachePath is the sender's hash cache (bbolt); "" = no cache.
	HashCachePath string
	// IdentityPath is the sender's key file, created (0600) if absent; ""
	// = a fresh identity. With the same key (and words) a restarted sender
	// is the same peer, and a waiting receiver continues with it.
	IdentityPath string
	// ManifestOut, if set, receives the manifest's canonical encoding once
	// hashing is done (for `pcp verify --manifest`).
	ManifestOut string
	// Exclude, if not nil, leaves entries out of the manifest (see
	// manifest.WalkOptions.Exclude).
	Exclude func(path string, dir bool) bool
	// RateLimit caps the chunk bytes sent per second over all data
	// streams; 0 = no limit.
	RateLimit int64
	// Receivers is how many complete receivers Send serves before it
	// returns: 0 or 1 = the first (the default), N > 1 = N, -1 = until
	// ctx ends (then Send returns the summary, nil, if any receiver
	// completed). Receivers are served at the same time, each in its own
	// session. One that declines or fails does not count. Once the count
	// is reached no new receiver is taken, and Send returns when the
	// sessions still running end: they are not cut off mid-transfer (each
	// is bounded by its own progress, or by ctx).
	Receivers int
	Network   NetworkOptions
	Events    func(Event) // nil = none; called synchronously, keep it fast
	Logger    *slog.Logger

	// tamper, set only by this package's tests, alters chunk data after it
	// is read, to prove the receiver's verification.
	tamper func(ref wire.Ref, data []byte)
	// timeouts, set only by this package's tests, shorten the sender's
	// stream deadlines (zero fields keep the defaults).
	timeouts serverTimeouts
	// stream holds what only this package's tests set for a stream offer
	// (streamsend.go).
	stream streamTestHooks
}

// ReceiveOptions configure Receive. Zero values are sane defaults.
type ReceiveOptions struct {
	Passphrase auth.Passphrase
	Dest       string // "" = current directory
	// Overwrite allows replacing existing files that differ from the offer.
	Overwrite bool
	// SkipExisting leaves existing entries that differ from the offer as
	// they are and receives the rest (Summary.SkippedFiles counts them).
	SkipExisting bool
	// Resolve is asked, with the offer, when entries at the destination
	// differ from it and neither Overwrite nor SkipExisting is set. nil =
	// refuse such an offer with ErrExists. An answer other than
	// ResolveCancel accepts the offer: Confirm is not asked then.
	Resolve func(Offer) Resolution
	// Confirm is asked before any file data moves; nil = accept.
	Confirm func(Offer) bool
	// Streams is the number of parallel data streams; 0 = DefaultStreams.
	Streams int
	// MaxInFlight bounds requested-but-unwritten bytes; 0 = DefaultMaxInFlight.
	MaxInFlight int64
	// ResumeLogPath is the bbolt resume log; "" = no resume across processes.
	ResumeLogPath string
	// Reverify re-hashes chunks the log says are done instead of trusting it.
	Reverify bool
	// Patience is how long the receiver re-dials a lost sender; 0 = 3 minutes.
	Patience time.Duration
	// RateLimit caps the bytes read per second over all data streams;
	// 0 = no limit.
	RateLimit int64
	// Select is the part of the offer to receive (see NewSelection); the
	// zero value takes all of it, or what an earlier run of the same
	// transfer selected (the resume log records it). A selection joins
	// the recorded one: what was selected stays selected.
	Select Selection
	// Pick, if set, chooses the selection once the manifest is in, from
	// the offer's top-level entries (pick.go): what it returns is used as
	// Select. An error declines the offer (wrap ErrDeclined to say so).
	Pick func(ctx context.Context, top []TopEntry) (Selection, error)
	// Stdout, if set, takes the offer's one file instead of a destination
	// directory (stdout.go): only verified bytes, in order, from byte 0.
	// The file is received into a private directory in the state
	// directory (beside ResumeLogPath), which needs room for all of it and
	// is removed once the receive succeeds. An offer that is not one
	// regular file is declined (NotOneFileError); a text offer is
	// reported as a TextEvent as always. Dest, Overwrite, SkipExisting,
	// Resolve and Select do not apply.
	Stdout io.Writer
	// MaxStream bounds a stream offer (pcp send -) written to a file, in
	// bytes: a stream that grows past it stops (ErrStreamTooLarge) before
	// a byte past it is written. 0 = no bound but the free space.
	MaxStream int64
	// Seed is how long the receiver goes on serving the offer to other
	// receivers of the same words once every file is in place (seed.go).
	// While it receives, it serves the chunks it has verified, unless
	// NoSeed. 0 = stop when done. Other receivers authenticate with PAKE
	// on the same words, as with the sender.
	Seed time.Duration
	// NoSeed serves nothing to other receivers, during or after.
	NoSeed  bool
	Network NetworkOptions
	Events  func(Event)
	Logger  *slog.Logger

	// stall, set only by this package's tests, replaces stallTimeout.
	stall time.Duration
	// swarm, set only by this package's tests, fetches from every peer
	// offering the same root (swarmrecv.go, gather.go) even where
	// swarmByDefault is off.
	swarm bool
	// runDone, set only by this package's tests, sees the receiver after
	// its run.
	runDone func(*receiver)
	// streamDone, set only by this package's tests, sees a stream
	// receive after its run (streamrecv.go).
	streamDone func(*streamRecv)
	// manifestIdle, set only by this package's tests, replaces manifestIdle.
	manifestIdle time.Duration
	// noPathWait, set only by this package's tests, replaces NoPathWait.
	noPathWait time.Duration
	// afterAuth, set only by this package's tests, runs once the sender has
	// passed PAKE. On loopback no hole punch can happen (there is no public
	// address to punch to), so a test dials the sender directly here to
	// stand in for one.
	afterAuth func(host.Host, peer.ID)
	// limit paces the data streams (RateLimit), shared by all of them.
	limit *rateLimit
	// freeSpace, set only by this package's tests, replaces freeSpace.
	freeSpace func(dir string) (int64, bool)
}

// Defaults, chosen by benchmark (see doc.go).
const (
	DefaultStreams     = 4
	DefaultMaxInFlight = 16 << 20
	DefaultPatience    = 3 * time.Minute

	// MemoryLimit is the soft limit (runtime/debug.SetMemoryLimit) a pcp
	// process should run with: the engine's own buffers are bounded by the
	// in-flight window and per-stream chunk buffers, and the limit keeps
	// the garbage collector from letting the heap double past them.
	MemoryLimit = 32 << 20
)

// Offer is what a receiver is asked to accept.
type Offer struct {
	Root          string   // manifest root, hex
	TopLevel      []string // top-level names (at most 100; TopLevelCount has them all)
	TopLevelCount int
	Files         int
	Dirs          int
	TotalBytes    int64
	PresentBytes  int64    // already at the destination, identical
	ResumeBytes   int64    // verified in the resume log
	Conflicts     []string // at most 100 (ConflictCount has them all)
	ConflictCount int
	// Refused are entries the destination cannot hold (at most 100;
	// RefusedCount has them all). An offer with any is refused before it
	// is accepted: see RefusedError.
	Refused      []Refusal
	RefusedCount int
	Peer         string
	Path         string // "direct" or "relayed"
	// Selection is the part of the offer received: ReceiveOptions.Select
	// joined with RecordedSelection, the one an earlier run of this
	// transfer recorded (zero: none). Files, Dirs and TotalBytes count the
	// whole offer, SelectedFiles and SelectedBytes the selected part (all
	// of it, without a selection); PresentBytes, ResumeBytes and the
	// conflicts count only selected entries.
	Selection, RecordedSelection Selection
	SelectedFiles                int
	SelectedBytes                int64
	// Stream is set for a stream offer (pcp send -): one file of a size
	// known only at its end (streamrecv.go); nil for any other offer.
	Stream *StreamOffer
}

// Summary reports a finished (or stopped) transfer.
type Summary struct {
	Root            string
	Files           int
	ManifestBytes   int64 // bytes of file data in the manifest
	WireBytes       int64 // chunk payload bytes carried over the network (after compression)
	FetchedBytes    int64 // raw bytes of chunks received and verified in this run
	SkippedBytes    int64 // already present or verified in the log
	ChunksFetched   int64
	ChunksRefetched int64 // re-requested after failed verification
	Reconnects      int
	Duration        time.Duration
	Path            string // "direct" or "relayed"
	Transport       string // of the direct path: "tcp", "quic" or "" (see p2p.TransportOf)
	Streams         int
	// SkippedFiles (receiver) are files that differ at the destination
	// and were left as they are (SkipExisting or ResolveSkip).
	SkippedFiles int
	// Partial (receiver): a selection left entries out; SelectedFiles
	// of Files (SelectedBytes of ManifestBytes) were received. Without
	// one, they equal Files and ManifestBytes.
	Partial       bool
	SelectedFiles int
	SelectedBytes int64
	// Receivers (sender) is how many receivers completed; Selected how
	// many of them took a selection (Partial on their side), not all.
	Receivers int
	Selected  int
}

// Event is one of the *Event types below.
type Event interface{ isEvent() }

// HashingEvent reports the sender's scan and hash progress.
type HashingEvent struct {
	Phase             string // "scan" or "hash"
	Files, FilesTotal int64
	Bytes, BytesTotal int64
	Current           string
}

// ListeningEvent: the sender is reachable and advertising.
type ListeningEvent struct {
	PeerID string
	Addrs  []string
}

// ManifestEvent: the manifest is ready (sender) or received (receiver).
type ManifestEvent struct {
	Root  string
	Files int
	Bytes int64
}

// PeerFoundEvent: a candidate peer was found.
type PeerFoundEvent struct {
	Peer   string
	Source string // "mdns", "dht", "direct"
	Path   string // "direct" or "relayed"
}

// AuthFailedEvent: a handshake failed.
type AuthFailedEvent struct {
	Peer     string
	Failures int
	Max      int
	Err      error
}

// AuthenticatedEvent: PAKE succeeded with Peer.
type AuthenticatedEvent struct {
	Peer string
	Path string
	// Receiver (sender) is the receiver's ID in this send: "r1", "r2", ...
	Receiver string
}

// ResumedEvent: the receiver found data already verified.
type ResumedEvent struct {
	PresentBytes int64
	ResumeBytes  int64
	TotalBytes   int64
}

// ProgressEvent: throttled transfer progress (at most ~10 per second).
type ProgressEvent struct {
	Bytes, TotalBytes int64 // verified bytes including skipped, of total
	WireBytes         int64
	Files, FilesTotal int
	Current           string
	Path              string
	Transport         string // "tcp", "quic" or "" (see p2p.TransportOf)
	Streams           int
	// Sender: one event per receiver, Receiver its ID and Peer its peer
	// ID; Bytes, WireBytes, Files and Streams are that receiver's.
	// Receivers is how many sessions are running.
	Receiver, Peer string
	Receivers      int
	// StreamOpen (sender of a stream, pcp send -): the input has not
	// ended, so TotalBytes is what has been read of it so far. (On the
	// receiver of a stream: what has been announced so far.)
	StreamOpen bool
}

// ReconnectingEvent: the connection dropped and the receiver is re-dialing.
type ReconnectingEvent struct {
	Attempt int
	Err     error
	// Down is how long the sender has been unreachable; Patience is how
	// long the receiver keeps trying in all.
	Down, Patience time.Duration
}

// HolePunchEvent: one hole punch attempt with Peer ended; Direct reports
// whether it made a direct connection. While the peer is reached only
// through a relay, the sender punches again with backoff.
type HolePunchEvent struct {
	Peer   string
	Direct bool
	Err    error
}

// AdvertisedEvent (sender): the sender's record is in the DHT, with the
// addresses in Addrs (announced again whenever they change).
type AdvertisedEvent struct{ Addrs []string }

// DoneEvent: the transfer finished. On the sender, Receiver is the last
// receiver to complete and Summary.Receivers how many did;
// ReceiverDoneEvent reports each.
type DoneEvent struct {
	Summary  Summary
	Receiver string
}

// SourceChangedEvent (sender): the file at manifest path Path changed on
// disk after it was hashed; it was not sent and the transfer stops.
type SourceChangedEvent struct{ Path string }

// SkippedEvent (sender): a local path was left out of the manifest, e.g. a
// FIFO, socket or device, or a file that vanished or could not be read.
type SkippedEvent struct {
	Path   string // the local path
	Reason string
}

// SearchingEvent (receiver): still looking for the sender. Emitted once
// when the search starts and then about once a second until a sender
// authenticates or the search ends.
type SearchingEvent struct {
	Elapsed time.Duration
	Timeout time.Duration // the search gives up after this (FindTimeout)
	// Methods are what is being tried: "mdns" (the local network), "dht",
	// "direct" (the --direct addresses).
	Methods []string
	// Candidates counts peers found so far that did not (yet) pass.
	Candidates int
}

// DeclinedEvent (sender): a receiver declined the offer, or refused it (its
// destination holds differing files, or cannot hold some entries). The
// sender keeps offering to others.
type DeclinedEvent struct{ Peer, Receiver string }

func (DeclinedEvent) isEvent()      {}
func (HashingEvent) isEvent()       {}
func (SearchingEvent) isEvent()     {}
func (ListeningEvent) isEvent()     {}
func (ManifestEvent) isEvent()      {}
func (PeerFoundEvent) isEvent()     {}
func (AuthFailedEvent) isEvent()    {}
func (AuthenticatedEvent) isEvent() {}
func (ResumedEvent) isEvent()       {}
func (ProgressEvent) isEvent()      {}
func (ReconnectingEvent) isEvent()  {}
func (HolePunchEvent) isEvent()     {}
func (AdvertisedEvent) isEvent()    {}
func (DoneEvent) isEvent()          {}
func (SourceChangedEvent) isEvent() {}
func (SkippedEvent) isEvent()       {}
