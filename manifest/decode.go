package manifest

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/zeebo/blake3"
)

// hashBatch is how many chunk hashes the decoder reads per call: 32 KiB.
const hashBatch = 1024

// reader reads exact byte counts from r (never more than the encoding, so
// the caller may keep using r after the trailer), hashes every byte and,
// if tee is set, copies it there.
type reader struct {
	r   io.Reader
	h   hash.Hash
	tee *bufio.Writer // DecodeTable's encoding file; nil for Decode
	off int64
	buf []byte
}

func newReader(r io.Reader, tee *bufio.Writer) *reader {
	return &reader{r: r, h: blake3.New(), tee: tee, buf: make([]byte, 0, 256)}
}

// next reads exactly n bytes into the reused buffer and returns them.
func (d *reader) next(n int) ([]byte, error) {
	if cap(d.buf) < n {
		d.buf = make([]byte, n)
	}
	b := d.buf[:n]
	if _, err := io.ReadFull(d.r, b); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: truncated at byte %d", ErrMalformed, d.off)
		}
		return nil, fmt.Errorf("manifest: reading at byte %d: %w", d.off, err)
	}
	d.h.Write(b)
	if d.tee != nil {
		d.tee.Write(b) // errors are sticky; the sink checks them per entry
	}
	d.off += int64(n)
	return b, nil
}

func (d *reader) root() Hash {
	var h Hash
	d.h.Sum(h[:0])
	return h
}

// sink receives what the decoder reads. Decode's sink builds a Manifest in
// memory; DecodeTable's writes an index (the encoding itself goes through
// reader.tee) and keeps only totals.
type sink interface {
	// keepHashes reports whether entries passed to entry carry their
	// chunk hashes.
	keepHashes() bool
	// entry takes one validated entry whose tag byte is at offset off of
	// the encoding, and which has chunks chunk hashes (in e.Chunks if
	// keepHashes). e is reused for the next entry: copy what must stay.
	entry(off int64, e *Entry, chunks int64) error
}

// manifestSink is Decode's sink.
type manifestSink struct{ m Manifest }

func (s *manifestSink) keepHashes() bool { return true }
func (s *manifestSink) entry(_ int64, e *Entry, _ int64) error {
	s.m.Entries = append(s.m.Entries, *e)
	return nil
}

// Decode reads one canonical encoding from r, validating as it goes (see
// Validate) and hashing the bytes as they are read. It returns the manifest
// and its root hash. It reads r with io.ReadFull only and never past the
// trailer, so r may carry more data after the manifest; it makes several
// small reads per entry, so give it a buffered reader if r is slow to call.
// Memory grows only with what has been read: no length or count from the
// input is used to allocate beyond a small bound. DecodeTable is the same
// decoder keeping the manifest on disk instead.
//
// lim bounds what is accepted; a zero field takes DefaultLimits'. Any failure
// returns no manifest and an error wrapping ErrMalformed (byte format),
// ErrInvalid (semantic rule) or ErrTooLarge (a limit), naming the offending
// path where there is one; I/O errors from r are wrapped as they are.
func Decode(r io.Reader, lim Limits) (*Manifest, Hash, error) {
	d := newReader(r, nil)
	s := &manifestSink{}
	cs, err := decode(d, lim, s)
	if err != nil {
		return nil, Hash{}, err
	}
	s.m.ChunkSize = cs
	return &s.m, d.root(), nil
}

// decode reads and validates one encoding from d, handing every entry to s,
// and returns the chunk size.
func decode(d *reader, lim Limits, s sink) (uint32, error) {
	b, err := d.next(headerLen)
	if err != nil {
		return 0, err
	}
	if string(b[:4]) != magic {
		return 0, fmt.Errorf("%w: bad magic %q", ErrMalformed, b[:4])
	}
	if b[4] != Version {
		return 0, fmt.Errorf("%w: unsupported version %d", ErrMalformed, b[4])
	}
	cs := binary.BigEndian.Uint32(b[5:9])
	v, err := newValidator(lim, cs)
	if err != nil {
		return 0, err
	}
	keep := s.keepHashes()
	var e Entry // reused: sinks copy what they keep
	for {
		// tag | kind | pathLen, or tag(=0) | first 3 bytes of the count:
		// either way 4 bytes, so this never reads past a valid trailer.
		b, err := d.next(4)
		if err != nil {
			return 0, err
		}
		off := d.off - 4
		switch b[0] {
		case tagEnd:
			var cnt [8]byte
			copy(cnt[:3], b[1:4])
			rest, err := d.next(5)
			if err != nil {
				return 0, err
			}
			copy(cnt[3:], rest)
			if err := v.end(binary.BigEndian.Uint64(cnt[:])); err != nil {
				return 0, err
			}
			return cs, nil
		case tagEntry:
		default:
			return 0, fmt.Errorf("%w: unknown tag %d at byte %d", ErrMalformed, b[0], off)
		}
		kind := Kind(b[1])
		plen := int(binary.BigEndian.Uint16(b[2:4]))
		if err := v.pathLen(plen); err != nil {
			return 0, err
		}
		if b, err = d.next(plen + headFixed(kind)); err != nil {
			return 0, err
		}
		e = Entry{
			Path:  string(b[:plen]),
			Kind:  kind,
			Mode:  binary.BigEndian.Uint32(b[plen:]),
			MTime: int64(binary.BigEndian.Uint64(b[plen+4:])),
		}
		if err := v.begin(e.Path, e.Kind, e.Mode); err != nil {
			return 0, err
		}
		var chunks int64
		switch kind {
		case KindFile:
			size := binary.BigEndian.Uint64(b[plen+12:])
			if size > uint64(v.lim.MaxFileSize) {
				return 0, fmt.Errorf("%w: %q: size %d exceeds %d", ErrTooLarge, e.Path, size, v.lim.MaxFileSize)
			}
			e.Size = int64(size)
			if err := v.fileSize(e.Path, e.Size); err != nil {
				return 0, err
			}
			chunks = ChunkCount(e.Size, cs)
			if e.Chunks, err = readHashes(d, chunks, keep); err != nil {
				return 0, fmt.Errorf("%q: %w", e.Path, err)
			}
		case KindSymlink:
			tlen := int(binary.BigEndian.Uint16(b[plen+12:]))
			if tlen > v.lim.MaxPathLen {
				return 0, fmt.Errorf("%w: %q: symlink target of %d bytes exceeds %d", ErrTooLarge, e.Path, tlen, v.lim.MaxPathLen)
			}
			t, err := d.next(tlen)
			if err != nil {
				return 0, err
			}
			e.Target = string(t)
		}
		if err := v.finish(&e, chunks); err != nil {
			return 0, err
		}
		if err := s.entry(off, &e, chunks); err != nil {
			return 0, err
		}
	}
}

// headFixed is the width of the fixed fields that follow an entry's path:
// mode and mtime, plus the kind's own (a file's size, a symlink's target
// length).
func headFixed(k Kind) int {
	switch k {
	case KindFile:
		return 4 + 8 + 8
	case KindSymlink:
		return 4 + 8 + 2
	}
	return 4 + 8
}

// readHashes reads n hashes in batches. With keep it appends them as it
// goes, so a hostile count costs memory only for hashes actually received;
// without, it keeps none (DecodeTable's tee stores them).
func readHashes(d *reader, n int64, keep bool) ([]Hash, error) {
	if n == 0 {
		return nil, nil
	}
	var hs []Hash
	if keep {
		hs = make([]Hash, 0, min(n, hashBatch))
	}
	for n > 0 {
		k := min(n, hashBatch)
		b, err := d.next(int(k) * HashSize)
		if err != nil {
			return nil, err
		}
		if keep {
			for i := range int(k) {
				hs = append(hs, Hash(b[i*HashSize:(i+1)*HashSize]))
			}
		}
		n -= k
	}
	return hs, nil
}
