package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"testing"
)

// haveOf builds a HaveMap of [start, start+span) holding the listed chunks.
func haveOf(start, span uint32, held ...uint32) HaveMap {
	h := HaveMap{Start: start, Span: span, Bits: make([]byte, bitmapLen(span))}
	for _, i := range held {
		j := i - start
		h.Bits[j/8] |= 0x80 >> (j % 8)
	}
	return h
}

func TestHaveMapRoundTrip(t *testing.T) {
	alt := haveOf(0, 64)
	for j := uint32(0); j < 64; j += 2 {
		alt.Bits[j/8] |= 0x80 >> (j % 8)
	}
	full := haveOf(0, 1000)
	for i := range full.Bits {
		full.Bits[i] = 0xff
	}
	full.Bits[len(full.Bits)-1] = 0xff // stray bits past 1000: never encoded
	for _, tc := range []struct {
		name  string
		total uint32
		h     HaveMap
		form  uint8
	}{
		{"nothing", 10, haveOf(0, 10), haveRuns},
		{"one chunk", 1, haveOf(0, 1, 0), haveBitmap},
		{"everything", 1000, full, haveRuns},
		{"alternating", 64, alt, haveBitmap},
		{"a span inside", 5000, haveOf(4000, 900, 4000, 4001, 4899), haveRuns},
		{"max span", MaxHaveSpan + 3, haveOf(3, MaxHaveSpan, 3, MaxHaveSpan+2), haveRuns},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := AppendHaveMap(nil, tc.total, tc.h)
			must(t, err)
			if p[12] != tc.form {
				t.Errorf("form %d, want %d", p[12], tc.form)
			}
			if max, _ := HaveMaxPayload(THaveMap); len(p) > max {
				t.Fatalf("%d bytes exceed the bound %d", len(p), max)
			}
			got, err := DecodeHaveMap(p, tc.total)
			must(t, err)
			if got.Start != tc.h.Start || got.Span != tc.h.Span {
				t.Fatalf("span [%d+%d), want [%d+%d)", got.Start, got.Span, tc.h.Start, tc.h.Span)
			}
			for i := tc.h.Start; i < tc.h.Start+tc.h.Span; i++ {
				if got.Has(i) != tc.h.Has(i) {
					t.Fatalf("chunk %d: has %v, want %v", i, got.Has(i), tc.h.Has(i))
				}
			}
			if got.Has(tc.h.Start+tc.h.Span) || (tc.h.Start > 0 && got.Has(tc.h.Start-1)) {
				t.Fatal("Has is true outside the span")
			}
		})
	}
}

func TestHaveMapRejects(t *testing.T) {
	good, err := AppendHaveMap(nil, 20, haveOf(0, 20, 1, 2, 3))
	must(t, err)
	bitmap, err := AppendHaveMap(nil, 12, haveOf(0, 12, 0, 2, 4, 6, 8, 10))
	must(t, err)
	if bitmap[12] != haveBitmap {
		t.Fatal("want a bitmap-form sample")
	}
	head := func(total, start, span uint32, form uint8) []byte {
		b := binary.BigEndian.AppendUint32(nil, total)
		b = binary.BigEndian.AppendUint32(b, start)
		b = binary.BigEndian.AppendUint32(b, span)
		return append(b, form)
	}
	for _, tc := range []struct {
		name  string
		p     []byte
		total uint32
	}{
		{"empty", nil, 20},
		{"short head", good[:12], 20},
		{"other total", good, 21},
		{"zero span", head(20, 0, 0, haveBitmap), 20},
		{"past total", append(head(20, 19, 2, haveBitmap), 0), 20},
		{"start overflows", append(head(20, 1<<32-1, 2, haveBitmap), 0), 20},
		{"span over the bound", head(MaxHaveSpan+1, 0, MaxHaveSpan+1, haveRuns), MaxHaveSpan + 1},
		{"unknown form", append(head(8, 0, 8, 2), 0), 8},
		{"bitmap too short", bitmap[:len(bitmap)-1], 12},
		{"bitmap too long", append(bytes.Clone(bitmap), 0), 12},
		{"bits past span", append(head(12, 0, 12, haveBitmap), 0, 0x01), 12},
		{"runs short of span", append(head(20, 0, 20, haveRuns), 0, 19), 20},
		{"runs past span", append(head(20, 0, 20, haveRuns), 0, 21), 20},
		{"zero run after first", append(head(20, 0, 20, haveRuns), 5, 0, 15), 20},
		{"trailing after runs", append(head(20, 0, 20, haveRuns), 20, 1), 20},
		{"truncated varint", append(head(200, 0, 200, haveRuns), 0x80), 200},
		{"no runs", head(20, 0, 20, haveRuns), 20},
	} {
		if _, err := DecodeHaveMap(tc.p, tc.total); !errors.Is(err, ErrFrame) {
			t.Errorf("%s: err = %v, want ErrFrame", tc.name, err)
		}
	}
	if _, err := AppendHaveMap(nil, 20, HaveMap{Start: 0, Span: 20, Bits: make([]byte, 2)}); !errors.Is(err, ErrFrame) {
		t.Errorf("encoding a short bitmap: err = %v, want ErrFrame", err)
	}
	if _, err := AppendHaveMap(nil, 20, haveOf(10, 11)); !errors.Is(err, ErrFrame) {
		t.Errorf("encoding a span past total: err = %v, want ErrFrame", err)
	}
}

func TestHaveUpdate(t *testing.T) {
	in := []uint32{0, 7, 8, 1 << 20}
	p, err := AppendHaveUpdate(nil, in)
	must(t, err)
	out, err := DecodeHaveUpdate(p, 1<<20+1, nil)
	must(t, err)
	if !slices.Equal(out, in) {
		t.Fatalf("got %v, want %v", out, in)
	}
	// The bound is one full frame.
	maxIdx := make([]uint32, MaxHaveUpdate)
	for i := range maxIdx {
		maxIdx[i] = uint32(i)
	}
	p2, err := AppendHaveUpdate(nil, maxIdx)
	must(t, err)
	if max, _ := HaveMaxPayload(THaveUpdate); len(p2) != max {
		t.Fatalf("a full HaveUpdate is %d bytes, bound %d", len(p2), max)
	}
	upd := func(n uint16, idx ...uint32) []byte {
		b := binary.BigEndian.AppendUint16(nil, n)
		for _, i := range idx {
			b = binary.BigEndian.AppendUint32(b, i)
		}
		return b
	}
	for _, tc := range []struct {
		name string
		p    []byte
	}{
		{"empty", nil},
		{"zero count", upd(0)},
		{"count over the bound", upd(MaxHaveUpdate + 1)},
		{"count without indexes", upd(2, 1)},
		{"trailing bytes", append(upd(1, 1), 0)},
		{"index at total", upd(1, 10)},
		{"repeated", upd(2, 3, 3)},
		{"decreasing", upd(2, 4, 3)},
	} {
		if _, err := DecodeHaveUpdate(tc.p, 10, nil); !errors.Is(err, ErrFrame) {
			t.Errorf("%s: err = %v, want ErrFrame", tc.name, err)
		}
	}
	for _, bad := range [][]uint32{nil, {2, 1}, make([]uint32, MaxHaveUpdate+1)} {
		if _, err := AppendHaveUpdate(nil, bad); !errors.Is(err, ErrFrame) {
			t.Errorf("encoding %d indexes: err = %v, want ErrFrame", len(bad), err)
		}
	}
}

// FuzzDecodeHaveMap: no panic, a decoded map is within its bounds, and it
// survives a round trip through the encoder unchanged.
func FuzzDecodeHaveMap(f *testing.F) {
	for _, s := range []struct {
		total uint32
		h     HaveMap
	}{{10, haveOf(0, 10, 3)}, {64, haveOf(0, 64, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18)}, {300, haveOf(100, 200, 150)}} {
		p, err := AppendHaveMap(nil, s.total, s.h)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(p, s.total)
	}
	f.Add([]byte{0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 8, 1, 0x80, 0x01}, uint32(8))
	f.Fuzz(func(t *testing.T, p []byte, total uint32) {
		h, err := DecodeHaveMap(p, total)
		if err != nil {
			return
		}
		if h.Span == 0 || h.Span > MaxHaveSpan || len(h.Bits) != bitmapLen(h.Span) || uint64(h.Start)+uint64(h.Span) > uint64(total) {
			t.Fatalf("decoded out of bounds: start %d span %d bits %d total %d", h.Start, h.Span, len(h.Bits), total)
		}
		q, err := AppendHaveMap(nil, total, h)
		if err != nil {
			t.Fatalf("re-encoding a decoded map: %v", err)
		}
		h2, err := DecodeHaveMap(q, total)
		if err != nil {
			t.Fatalf("decoding a re-encoded map: %v", err)
		}
		if h2.Start != h.Start || h2.Span != h.Span || !bytes.Equal(h2.Bits, h.Bits) {
			t.Fatal("round trip changed the map")
		}
	})
}

// FuzzDecodeHaveUpdate: no panic, and what decodes re-encodes to the same
// bytes.
func FuzzDecodeHaveUpdate(f *testing.F) {
	p, _ := AppendHaveUpdate(nil, []uint32{1, 5, 9})
	f.Add(p, uint32(10))
	f.Add([]byte{0, 1, 0, 0, 0, 0}, uint32(1))
	f.Fuzz(func(t *testing.T, p []byte, total uint32) {
		idx, err := DecodeHaveUpdate(p, total, nil)
		if err != nil {
			return
		}
		q, err := AppendHaveUpdate(nil, idx)
		if err != nil || !bytes.Equal(p, q) {
			t.Fatalf("HaveUpdate re-encodes differently (%v)", err)
		}
	})
}
