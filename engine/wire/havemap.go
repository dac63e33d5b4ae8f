package wire

import (
	"encoding/binary"
	"fmt"
)

// Have-map frames: which chunks a source holds, by global chunk index (the
// manifest's chunks numbered in entry order, 0 to the manifest's chunk
// count - 1; the receiver maps an index to a Ref with the manifest).
const (
	THaveMap    Type = 20
	THaveUpdate Type = 21
)

// Have-map bounds.
const (
	// MaxHaveSpan is the most chunks one HaveMap frame covers: a bitmap of
	// 128 KiB. A larger manifest is described by several frames.
	MaxHaveSpan = 1 << 20
	// MaxHaveUpdate is the most indexes in one HaveUpdate frame.
	MaxHaveUpdate = 1024
	haveMapHead   = 13 // total u32 | start u32 | span u32 | form u8
)

// HaveMap body forms.
const (
	haveBitmap uint8 = 0
	haveRuns   uint8 = 1
)

// HaveMaxPayload is MaxPayload for the have-map frame types, and false for
// any other type.
func HaveMaxPayload(t Type) (int, bool) {
	switch t {
	case THaveMap:
		return haveMapHead + MaxHaveSpan/8, true
	case THaveUpdate:
		return 2 + 4*MaxHaveUpdate, true
	}
	return 0, false
}

// HaveMap says which of the chunks [Start, Start+Span) a source holds.
// Bits has one bit per chunk, most significant bit first: chunk Start+j is
// bit 7-j%8 of Bits[j/8]. Bits past Span are zero.
type HaveMap struct {
	Start, Span uint32
	Bits        []byte
}

// Has reports whether the map says chunk i is held; false outside the span.
func (h HaveMap) Has(i uint32) bool {
	if i < h.Start || uint64(i) >= uint64(h.Start)+uint64(h.Span) {
		return false
	}
	j := i - h.Start
	return h.Bits[j/8]&(0x80>>(j%8)) != 0
}

// AppendHaveMap encodes h for a manifest of total chunks, as a bitmap or as
// runs, whichever is shorter.
func AppendHaveMap(b []byte, total uint32, h HaveMap) ([]byte, error) {
	if err := checkSpan(total, h.Start, h.Span); err != nil {
		return b, err
	}
	if len(h.Bits) != bitmapLen(h.Span) {
		return b, fmt.Errorf("%w: HaveMap of %d chunks with %d bitmap bytes", ErrFrame, h.Span, len(h.Bits))
	}
	b = binary.BigEndian.AppendUint32(b, total)
	b = binary.BigEndian.AppendUint32(b, h.Start)
	b = binary.BigEndian.AppendUint32(b, h.Span)
	if runs := appendRuns(nil, h); len(runs) < len(h.Bits) {
		return append(append(b, haveRuns), runs...), nil
	}
	b = append(b, haveBitmap)
	b = append(b, h.Bits...)
	if r := h.Span % 8; r != 0 {
		b[len(b)-1] &= 0xff << (8 - r) // no stray bits past the span
	}
	return b, nil
}

// appendRuns encodes h's bits as uvarint run lengths, alternately absent
// and held, starting with absent (the first run may be 0).
func appendRuns(b []byte, h HaveMap) []byte {
	held := false
	var run uint64
	for j := uint32(0); j < h.Span; j++ {
		if (h.Bits[j/8]&(0x80>>(j%8)) != 0) != held {
			b = binary.AppendUvarint(b, run)
			held, run = !held, 0
		}
		run++
	}
	return binary.AppendUvarint(b, run)
}

// DecodeHaveMap decodes a HaveMap payload for a manifest of total chunks. A
// frame naming another total, a span that is empty, larger than
// MaxHaveSpan or past total, an unknown form, and a body that does not
// describe exactly span chunks are ErrFrame. It allocates at most
// MaxHaveSpan/8 bytes.
func DecodeHaveMap(p []byte, total uint32) (HaveMap, error) {
	var h HaveMap
	if len(p) < haveMapHead {
		return h, fmt.Errorf("%w: short HaveMap", ErrFrame)
	}
	if t := binary.BigEndian.Uint32(p); t != total {
		return h, fmt.Errorf("%w: HaveMap for %d chunks, the manifest has %d", ErrFrame, t, total)
	}
	h.Start = binary.BigEndian.Uint32(p[4:])
	h.Span = binary.BigEndian.Uint32(p[8:])
	if err := checkSpan(total, h.Start, h.Span); err != nil {
		return HaveMap{}, err
	}
	form, body := p[12], p[haveMapHead:]
	switch form {
	case haveBitmap:
		if len(body) != bitmapLen(h.Span) {
			return HaveMap{}, fmt.Errorf("%w: HaveMap bitmap of %d bytes for %d chunks", ErrFrame, len(body), h.Span)
		}
		if r := h.Span % 8; r != 0 && body[len(body)-1]&(0xff>>r) != 0 {
			return HaveMap{}, fmt.Errorf("%w: HaveMap bits set past its span", ErrFrame)
		}
		h.Bits = append([]byte(nil), body...)
	case haveRuns:
		bits, err := decodeRuns(body, h.Span)
		if err != nil {
			return HaveMap{}, err
		}
		h.Bits = bits
	default:
		return HaveMap{}, fmt.Errorf("%w: unknown HaveMap form %d", ErrFrame, form)
	}
	return h, nil
}

// decodeRuns expands run lengths into a bitmap of span bits. Every run but
// the first is at least 1, and the runs add up to exactly span.
func decodeRuns(body []byte, span uint32) ([]byte, error) {
	bits := make([]byte, bitmapLen(span))
	var at uint64
	held := false
	for first := true; len(body) > 0; first = false {
		run, n := binary.Uvarint(body)
		if n <= 0 {
			return nil, fmt.Errorf("%w: bad HaveMap run", ErrFrame)
		}
		body = body[n:]
		if (run == 0 && !first) || run > uint64(span)-at {
			return nil, fmt.Errorf("%w: HaveMap run of %d at %d of %d chunks", ErrFrame, run, at, span)
		}
		if held {
			for j := at; j < at+run; j++ {
				bits[j/8] |= 0x80 >> (j % 8)
			}
		}
		at += run
		held = !held
	}
	if at != uint64(span) {
		return nil, fmt.Errorf("%w: HaveMap runs cover %d of %d chunks", ErrFrame, at, span)
	}
	return bits, nil
}

func checkSpan(total, start, span uint32) error {
	if span == 0 || span > MaxHaveSpan || uint64(start)+uint64(span) > uint64(total) {
		return fmt.Errorf("%w: HaveMap of chunks [%d, %d+%d) in a manifest of %d", ErrFrame, start, start, span, total)
	}
	return nil
}

func bitmapLen(span uint32) int { return int((uint64(span) + 7) / 8) }

// AppendHaveUpdate encodes a HaveUpdate payload: indexes must be strictly
// increasing, and there must be 1 to MaxHaveUpdate of them.
func AppendHaveUpdate(b []byte, indexes []uint32) ([]byte, error) {
	if len(indexes) == 0 || len(indexes) > MaxHaveUpdate {
		return b, fmt.Errorf("%w: HaveUpdate of %d indexes", ErrFrame, len(indexes))
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(indexes)))
	for k, i := range indexes {
		if k > 0 && i <= indexes[k-1] {
			return b, fmt.Errorf("%w: HaveUpdate indexes not increasing", ErrFrame)
		}
		b = binary.BigEndian.AppendUint32(b, i)
	}
	return b, nil
}

// DecodeHaveUpdate decodes a HaveUpdate payload for a manifest of total
// chunks, appending to into[:0]. A count of 0 or above MaxHaveUpdate, a
// length that does not match the count, indexes that do not strictly
// increase, and an index at or past total are ErrFrame.
func DecodeHaveUpdate(p []byte, total uint32, into []uint32) ([]uint32, error) {
	if len(p) < 2 {
		return nil, fmt.Errorf("%w: short HaveUpdate", ErrFrame)
	}
	n := int(binary.BigEndian.Uint16(p))
	if n == 0 || n > MaxHaveUpdate || len(p) != 2+4*n {
		return nil, fmt.Errorf("%w: HaveUpdate of %d indexes in %d bytes", ErrFrame, n, len(p))
	}
	out := into[:0]
	for k := 0; k < n; k++ {
		i := binary.BigEndian.Uint32(p[2+4*k:])
		if i >= total || (k > 0 && i <= out[k-1]) {
			return nil, fmt.Errorf("%w: HaveUpdate index %d (manifest of %d chunks, or not increasing)", ErrFrame, i, total)
		}
		out = append(out, i)
	}
	return out, nil
}
