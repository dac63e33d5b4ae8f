package store

// Every bucket and fixed key name of both files, in one place. A change of
// layout gets a new version in the name ("pcp/v3/..."), never a silent
// reinterpretation of old bytes.

// Resume log file (receiver).
var (
	// bucketTransfers holds one sub-bucket per transfer, keyed by the 32-byte
	// manifest root. v2: manifest parts in batches, per-file chunk bitsets,
	// complete files as intervals, pending transfers. v3: the identity of
	// every file put in place (ident/). A file written by an older pcp keeps
	// its pcp/v1 or pcp/v2 transfers bucket, which is never read.
	bucketTransfers = []byte("pcp/v3/transfers")

	// Inside a transfer's bucket:
	keyInfo        = []byte("info")     // the transfer record (see encodeInfo)
	bucketManifest = []byte("manifest") // u64 BE batch -> bucket: u64 BE part number -> <= maxPart bytes of the encoding
	bucketChunks   = []byte("chunks")   // entry u32 BE | segment u32 BE -> bitset of done chunks (see encodeSeg)
	bucketComplete = []byte("complete") // first entry u32 BE -> end entry u32 BE (exclusive)
	bucketIdent    = []byte("ident")    // entry u32 BE -> identity of the file put in place (see encodeIdent)

	// The part of the offer received, when not all (see store/selection.go).
	keySelection = []byte("selection")
	// What pcp status shows of the offer (see store/meta.go).
	keyMeta = []byte("meta")
)

// Hash cache file (sender).
var (
	// bucketHashes maps an absolute local path to a cache record (see
	// encodeCacheRec).
	bucketHashes = []byte("pcp/v1/hashcache")
)
