package manifest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"

	"lukechampine.com/blake3"
)

// hashBatch is how many chunk hashes Decode reads per call: 32 KiB.
const hashBatch = 1024

// reader reads exact byte counts from r (never more than the encoding, so
// the caller may keep using r after the trailer) and hashes every byte.
type reader struct {
	r   io.Reader
	h   hash.Hash
	off int64
	buf []byte
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
	d.off += int64(n)
	return b, nil
}

// Decode reads one canonical encoding from r, validating as it goes (see
// Validate) and hashing the bytes as they are read. It returns the manifest
// and its root hash. It reads r with io.ReadFull only and never past the
// trailer, so r may carry more data after the manifest; it makes several
// small reads per entry, so give it a buffered reader if r is slow to call.
// Memory grows only with what has been read: no length or count from the
// input is used to allocate beyond a small bound.
//
// lim bounds what is accepted; a zero field takes DefaultLimits'. Any failure
// returns no manifest and an error wrapping ErrMalformed (byte format),
// ErrInvalid (semantic rule) or ErrTooLarge (a limit), naming the offending
// path where there is one; I/O errors from r are wrapped as they are.
func Decode(r io.Reader, lim Limits) (*Manifest, Hash, error) {
	d := &reader{r: r, h: blake3.New(HashSize, nil), buf: make([]byte, 0, 256)}
	m, err := decode(d, lim)
	if err != nil {
		return nil, Hash{}, err
	}
	var root Hash
	d.h.Sum(root[:0])
	return m, root, nil
}

func decode(d *reader, lim Limits) (*Manifest, error) {
	b, err := d.next(headerLen)
	if err != nil {
		return nil, err
	}
	if string(b[:4]) != magic {
		return nil, fmt.Errorf("%w: bad magic %q", ErrMalformed, b[:4])
	}
	if b[4] != Version {
		return nil, fmt.Errorf("%w: unsupported version %d", ErrMalformed, b[4])
	}
	m := &Manifest{ChunkSize: binary.BigEndian.Uint32(b[5:9])}
	v, err := newValidator(lim, m.ChunkSize)
	if err != nil {
		return nil, err
	}
	for {
		// tag | kind | pathLen, or tag(=0) | first 3 bytes of the count:
		// either way 4 bytes, so this never reads past a valid trailer.
		b, err := d.next(4)
		if err != nil {
			return nil, err
		}
		switch b[0] {
		case tagEnd:
			var cnt [8]byte
			copy(cnt[:3], b[1:4])
			rest, err := d.next(5)
			if err != nil {
				return nil, err
			}
			copy(cnt[3:], rest)
			if err := v.end(binary.BigEndian.Uint64(cnt[:])); err != nil {
				return nil, err
			}
			return m, nil
		case tagEntry:
		default:
			return nil, fmt.Errorf("%w: unknown tag %d at byte %d", ErrMalformed, b[0], d.off-4)
		}
		kind := Kind(b[1])
		plen := int(binary.BigEndian.Uint16(b[2:4]))
		if err := v.pathLen(plen); err != nil {
			return nil, err
		}
		// path | mode | mtime, plus the kind's fixed-width field.
		fixed := 4 + 8
		switch kind {
		case KindFile:
			fixed += 8
		case KindSymlink:
			fixed += 2
		}
		if b, err = d.next(plen + fixed); err != nil {
			return nil, err
		}
		e := Entry{
			Path:  string(b[:plen]),
			Kind:  kind,
			Mode:  binary.BigEndian.Uint32(b[plen:]),
			MTime: int64(binary.BigEndian.Uint64(b[plen+4:])),
		}
		if err := v.begin(e.Path, e.Kind, e.Mode); err != nil {
			return nil, err
		}
		switch kind {
		case KindFile:
			size := binary.BigEndian.Uint64(b[plen+12:])
			if size > uint64(v.lim.MaxFileSize) {
				return nil, fmt.Errorf("%w: %q: size %d exceeds %d", ErrTooLarge, e.Path, size, v.lim.MaxFileSize)
			}
			e.Size = int64(size)
			if err := v.fileSize(e.Path, e.Size); err != nil {
				return nil, err
			}
			if e.Chunks, err = readHashes(d, ChunkCount(e.Size, m.ChunkSize)); err != nil {
				return nil, fmt.Errorf("%q: %w", e.Path, err)
			}
		case KindSymlink:
			tlen := int(binary.BigEndian.Uint16(b[plen+12:]))
			if tlen > v.lim.MaxPathLen {
				return nil, fmt.Errorf("%w: %q: symlink target of %d bytes exceeds %d", ErrTooLarge, e.Path, tlen, v.lim.MaxPathLen)
			}
			t, err := d.next(tlen)
			if err != nil {
				return nil, err
			}
			e.Target = string(t)
		}
		if err := v.finish(&e); err != nil {
			return nil, err
		}
		m.Entries = append(m.Entries, e)
	}
}

// readHashes reads n hashes in batches, appending as it goes, so a hostile
// count costs memory only for hashes actually received.
func readHashes(d *reader, n int64) ([]Hash, error) {
	if n == 0 {
		return nil, nil
	}
	hs := make([]Hash, 0, min(n, hashBatch))
	for n > 0 {
		k := min(n, hashBatch)
		b, err := d.next(int(k) * HashSize)
		if err != nil {
			return nil, err
		}
		for i := range int(k) {
			hs = append(hs, Hash(b[i*HashSize:(i+1)*HashSize]))
		}
		n -= k
	}
	return hs, nil
}
