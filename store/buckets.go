package store

// Every bucket and fixed key name of both files, in one place. A change of
// layout gets a new version in the name ("pcp/v2/..."), never a silent
// reinterpretation of old bytes.

// Resume log file (receiver).
var (
	// bucketTransfers holds one sub-bucket per transfer, keyed by the 32-byte
	// manifest root.
	bucketTransfers = []byte("pcp/v1/transfers")

	// Inside a transfer's bucket:
	keyInfo        = []byte("info")     // the transfer record (see encodeInfo)
	bucketManifest = []byte("manifest") // u64 BE part number -> <= maxPart bytes of the canonical encoding
	bucketDone     = []byte("done")     // entry u32 BE | chunk u32 BE -> empty
	bucketComplete = []byte("complete") // entry u32 BE -> empty
)

// Hash cache file (sender).
var (
	// bucketHashes maps an absolute local path to a cache record (see
	// encodeCacheRec).
	bucketHashes = []byte("pcp/v1/hashcache")
)
