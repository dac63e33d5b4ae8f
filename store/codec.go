package store

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"time"

	"github.com/pcp-p2p/pcp/manifest"
)

// Record format versions (first byte of every record).
const (
	infoVersion  = 2
	cacheVersion = 1
)

// info is the stored transfer record; TransferInfo is built from it.
type info struct {
	created, updated int64 // Unix ns
	entries          int64 // manifest entries (at most math.MaxUint32)
	files            int64
	totalBytes       int64
	doneBytes        int64
	totalChunks      int64
	doneChunks       int64
	finished         bool
	pending          bool // Begin has not finished storing the manifest
	chunkSize        uint32
	dest             string
}

// Flag bits of the transfer record.
const (
	flagFinished = 1 << 0
	flagPending  = 1 << 1
	flagsKnown   = flagFinished | flagPending
)

const (
	infoCounters = 8                  // created .. doneChunks
	infoFlags    = 1 + 8*infoCounters // offset of the flags byte
	infoFixedLen = infoFlags + 1 + 4  // then chunkSize u32, then dest

	maxEntries  = int64(^uint32(0)) // entries are addressed by a u32
	wordBits    = 64                // bits per bitset word
	maxSegValue = segWords * 8      // bytes of a full bitset segment
	entryKeyLen = 4                 // entry u32 BE
	segKeyLen   = entryKeyLen + 4   // entry u32 BE | segment u32 BE
	intervalLen = 4                 // end entry u32 BE
	partKeyLen  = 8                 // u64 BE
)

func encodeInfo(in *info) []byte {
	b := make([]byte, infoFixedLen, infoFixedLen+len(in.dest))
	b[0] = infoVersion
	for i, v := range [infoCounters]int64{in.created, in.updated, in.entries, in.files, in.totalBytes, in.doneBytes, in.totalChunks, in.doneChunks} {
		binary.BigEndian.PutUint64(b[1+8*i:], uint64(v))
	}
	if in.finished {
		b[infoFlags] |= flagFinished
	}
	if in.pending {
		b[infoFlags] |= flagPending
	}
	binary.BigEndian.PutUint32(b[infoFlags+1:], in.chunkSize)
	return append(b, in.dest...)
}

func decodeInfo(b []byte) (*info, error) {
	if len(b) < infoFixedLen {
		return nil, fmt.Errorf("%w: transfer record of %d bytes", ErrCorrupt, len(b))
	}
	if b[0] != infoVersion {
		return nil, fmt.Errorf("%w: transfer record version %d", ErrCorrupt, b[0])
	}
	var v [infoCounters]int64
	for i := range v {
		v[i] = int64(binary.BigEndian.Uint64(b[1+8*i:]))
		if i >= 2 && v[i] < 0 {
			return nil, fmt.Errorf("%w: negative counter in transfer record", ErrCorrupt)
		}
	}
	flags := b[infoFlags]
	if flags&^flagsKnown != 0 {
		return nil, fmt.Errorf("%w: transfer record flags %#x", ErrCorrupt, flags)
	}
	in := &info{
		created: v[0], updated: v[1], entries: v[2], files: v[3],
		totalBytes: v[4], doneBytes: v[5], totalChunks: v[6], doneChunks: v[7],
		finished:  flags&flagFinished != 0,
		pending:   flags&flagPending != 0,
		chunkSize: binary.BigEndian.Uint32(b[infoFlags+1:]),
		dest:      string(b[infoFixedLen:]),
	}
	if in.entries > maxEntries {
		return nil, fmt.Errorf("%w: %d entries in transfer record", ErrCorrupt, in.entries)
	}
	if in.doneBytes > in.totalBytes || in.doneChunks > in.totalChunks {
		return nil, fmt.Errorf("%w: done counters exceed totals", ErrCorrupt)
	}
	return in, nil
}

func (in *info) transferInfo(root manifest.Hash) TransferInfo {
	return TransferInfo{
		Root:        root,
		Dest:        in.dest,
		Created:     time.Unix(0, in.created),
		Updated:     time.Unix(0, in.updated),
		Files:       in.files,
		TotalBytes:  in.totalBytes,
		DoneBytes:   in.doneBytes,
		TotalChunks: in.totalChunks,
		DoneChunks:  in.doneChunks,
		Finished:    in.finished,
	}
}

// Bitset segments. A file's done set is cut into segments of segChunks
// chunks, so that marking a batch of a huge file rewrites a few KiB, not the
// file's whole set.
const (
	segShift  = 14
	segChunks = 1 << segShift // chunks per segment
	segWords  = segChunks / 64
)

// segKey is the chunks/ key of segment seg of entry: entry u32 BE | seg u32
// BE, so key order is manifest order.
func segKey(entry, seg uint32) []byte {
	k := make([]byte, segKeyLen)
	binary.BigEndian.PutUint32(k, entry)
	binary.BigEndian.PutUint32(k[entryKeyLen:], seg)
	return k
}

func decodeSegKey(k []byte) (entry, seg uint32, err error) {
	if len(k) != segKeyLen {
		return 0, 0, fmt.Errorf("%w: chunk set key of %d bytes", ErrCorrupt, len(k))
	}
	seg = binary.BigEndian.Uint32(k[entryKeyLen:])
	if uint64(seg) > uint64(^uint32(0))>>segShift {
		return 0, 0, fmt.Errorf("%w: chunk set segment %d", ErrCorrupt, seg)
	}
	return binary.BigEndian.Uint32(k), seg, nil
}

// encodeSeg encodes the words of one segment (bit c%64 of word c/64 is
// chunk seg*segChunks+c) as u64 BE words without the trailing zero words.
// An empty set encodes to nil: its key is deleted, never stored empty.
func encodeSeg(words []uint64) []byte {
	n := len(words)
	for n > 0 && words[n-1] == 0 {
		n--
	}
	if n == 0 {
		return nil
	}
	b := make([]byte, 8*n)
	for i := range n {
		binary.BigEndian.PutUint64(b[8*i:], words[i])
	}
	return b
}

// decodeSeg decodes a stored segment into words (len segWords), zeroing the
// words the value leaves out. Only what encodeSeg produces is accepted.
func decodeSeg(v []byte, words []uint64) error {
	if len(v) == 0 || len(v)%8 != 0 || len(v) > maxSegValue {
		return fmt.Errorf("%w: chunk set of %d bytes", ErrCorrupt, len(v))
	}
	n := len(v) / 8
	for i := range n {
		words[i] = binary.BigEndian.Uint64(v[8*i:])
	}
	if words[n-1] == 0 {
		return fmt.Errorf("%w: chunk set with a trailing zero word", ErrCorrupt)
	}
	clear(words[n:segWords])
	return nil
}

// segCount returns how many chunks the words of segment seg hold, and
// their bytes, for a file of size bytes; bits past the file's last chunk
// are not counted.
func segCount(words []uint64, seg uint32, size int64, cs uint32) (chunks, bytes int64) {
	n := manifest.ChunkCount(size, cs)
	base := int64(seg) << segShift
	for w, word := range words {
		first := base + int64(w)*wordBits
		if first >= n {
			break
		}
		if rest := n - first; rest < wordBits {
			word &= 1<<rest - 1
		}
		chunks += int64(bits.OnesCount64(word))
	}
	bytes = chunks * int64(cs)
	// Every chunk but the last is full.
	if last := n - 1; last >= base && last < base+segChunks {
		i := last - base
		if words[i/wordBits]&(1<<(i%wordBits)) != 0 {
			bytes -= int64(cs) - manifest.ChunkLen(size, cs, last)
		}
	}
	return chunks, bytes
}

func entryKey(e uint32) []byte {
	return binary.BigEndian.AppendUint32(make([]byte, 0, entryKeyLen), e)
}

// interval is a run of complete entries [start, end).
type interval struct{ start, end uint64 }

func encodeEnd(end uint64) []byte {
	return binary.BigEndian.AppendUint32(make([]byte, 0, intervalLen), uint32(end))
}

func decodeInterval(k, v []byte) (interval, error) {
	if len(k) != entryKeyLen || len(v) != intervalLen {
		return interval{}, fmt.Errorf("%w: complete interval of %d+%d bytes", ErrCorrupt, len(k), len(v))
	}
	iv := interval{uint64(binary.BigEndian.Uint32(k)), uint64(binary.BigEndian.Uint32(v))}
	if iv.end <= iv.start {
		return interval{}, fmt.Errorf("%w: complete interval [%d, %d)", ErrCorrupt, iv.start, iv.end)
	}
	return iv, nil
}

func partKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, partKeyLen), seq)
}

// cacheRec is one hash cache record.
type cacheRec struct {
	size, mtime int64
	inode, dev  uint64
	chunkSize   uint32
	lastUsed    int64
	hashes      []manifest.Hash
}

const cacheFixedLen = 1 + 8 + 8 + 8 + 8 + 4 + 8

func encodeCacheRec(r *cacheRec) []byte {
	b := make([]byte, cacheFixedLen, cacheFixedLen+len(r.hashes)*manifest.HashSize)
	b[0] = cacheVersion
	binary.BigEndian.PutUint64(b[1:], uint64(r.size))
	binary.BigEndian.PutUint64(b[9:], uint64(r.mtime))
	binary.BigEndian.PutUint64(b[17:], r.inode)
	binary.BigEndian.PutUint64(b[25:], r.dev)
	binary.BigEndian.PutUint32(b[33:], r.chunkSize)
	binary.BigEndian.PutUint64(b[37:], uint64(r.lastUsed))
	for i := range r.hashes {
		b = append(b, r.hashes[i][:]...)
	}
	return b
}

// decodeCacheRec decodes a record; with hashes false it skips copying the
// hashes (but still checks their length).
func decodeCacheRec(b []byte, hashes bool) (*cacheRec, error) {
	if len(b) < cacheFixedLen {
		return nil, fmt.Errorf("%w: cache record of %d bytes", ErrCorrupt, len(b))
	}
	if b[0] != cacheVersion {
		return nil, fmt.Errorf("%w: cache record version %d", ErrCorrupt, b[0])
	}
	rest := b[cacheFixedLen:]
	if len(rest)%manifest.HashSize != 0 {
		return nil, fmt.Errorf("%w: cache record hashes of %d bytes", ErrCorrupt, len(rest))
	}
	r := &cacheRec{
		size:      int64(binary.BigEndian.Uint64(b[1:])),
		mtime:     int64(binary.BigEndian.Uint64(b[9:])),
		inode:     binary.BigEndian.Uint64(b[17:]),
		dev:       binary.BigEndian.Uint64(b[25:]),
		chunkSize: binary.BigEndian.Uint32(b[33:]),
		lastUsed:  int64(binary.BigEndian.Uint64(b[37:])),
	}
	if r.size < 0 {
		return nil, fmt.Errorf("%w: negative size in cache record", ErrCorrupt)
	}
	if hashes {
		n := len(rest) / manifest.HashSize
		r.hashes = make([]manifest.Hash, n)
		for i := range n {
			r.hashes[i] = manifest.Hash(rest[i*manifest.HashSize:])
		}
	}
	return r, nil
}

// setCacheLastUsed returns a copy of the encoded record b with lastUsed set.
func setCacheLastUsed(b []byte, t int64) []byte {
	c := append([]byte(nil), b...)
	binary.BigEndian.PutUint64(c[37:], uint64(t))
	return c
}
