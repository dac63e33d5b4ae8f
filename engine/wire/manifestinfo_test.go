package wire

import (
	"bytes"
	"errors"
	"testing"
)

func TestManifestInfoRoundTrip(t *testing.T) {
	in := ManifestInfo{Entries: 3, Encoded: 1 << 40, FileBytes: 1<<64 - 1}
	var b bytes.Buffer
	must(t, WriteFrame(&b, TManifestInfo, in.Append(nil)))
	p, err := NewReader(&b).Expect(TManifestInfo)
	must(t, err)
	out, err := DecodeManifestInfo(p)
	must(t, err)
	if out != in {
		t.Fatalf("got %+v, want %+v", out, in)
	}
}

func TestManifestInfoRejectsOtherLengths(t *testing.T) {
	for _, n := range []int{0, 23, 25} {
		if _, err := DecodeManifestInfo(make([]byte, n)); !errors.Is(err, ErrFrame) {
			t.Errorf("%d bytes: err = %v, want ErrFrame", n, err)
		}
	}
	// The reader refuses an oversized ManifestInfo before reading it.
	hdr := []byte{byte(TManifestInfo), 0, 0, 0, 26}
	if _, _, err := NewReader(bytes.NewReader(hdr)).Next(); !errors.Is(err, ErrFrame) {
		t.Fatalf("oversized ManifestInfo: err = %v, want ErrFrame", err)
	}
}

func TestManifestInfoFlags(t *testing.T) {
	plain := ManifestInfo{Entries: 1, Encoded: 60, FileBytes: 5}
	if n := len(plain.Append(nil)); n != 24 {
		t.Fatalf("a plain ManifestInfo encodes in %d bytes, want 24 (as before flags)", n)
	}
	text := ManifestInfo{Entries: 1, Encoded: 60, FileBytes: 5, Flags: FlagText}
	p := text.Append(nil)
	if len(p) != 25 {
		t.Fatalf("a text ManifestInfo encodes in %d bytes, want 25", len(p))
	}
	out, err := DecodeManifestInfo(p)
	must(t, err)
	if out != text || !out.Text() || plain.Text() {
		t.Fatalf("got %+v (text %v), want %+v", out, out.Text(), text)
	}
	// A zero flags byte (never encoded) and unknown bits are refused.
	for _, f := range []byte{0, 4, 0x81} {
		q := append(plain.Append(nil), f)
		if _, err := DecodeManifestInfo(q); !errors.Is(err, ErrFrame) {
			t.Errorf("flags %#x: err = %v, want ErrFrame", f, err)
		}
	}
}

// FlagManifestStream round-trips, alone and with FlagText.
func TestManifestInfoManifestStreamFlag(t *testing.T) {
	for _, f := range []uint8{FlagManifestStream, FlagManifestStream | FlagText} {
		in := ManifestInfo{Entries: 3, Encoded: 200, FileBytes: 9, Flags: f}
		out, err := DecodeManifestInfo(in.Append(nil))
		if err != nil || out != in {
			t.Errorf("flags %#x: got %+v, %v; want %+v", f, out, err, in)
		}
	}
}

func TestWaitIsEmpty(t *testing.T) {
	var b bytes.Buffer
	must(t, WriteFrame(&b, TWait, nil))
	if err := WriteFrame(&b, TWait, []byte{1}); !errors.Is(err, ErrFrame) {
		t.Fatalf("Wait with a payload: err = %v, want ErrFrame", err)
	}
	typ, p, err := NewReader(&b).Next()
	must(t, err)
	if typ != TWait || len(p) != 0 {
		t.Fatalf("got %v with %d bytes", typ, len(p))
	}
}

// FuzzDecodeManifestInfo: no panic, and what decodes re-encodes to the same
// bytes.
func FuzzDecodeManifestInfo(f *testing.F) {
	f.Add(ManifestInfo{Entries: 1, Encoded: 60, FileBytes: 5}.Append(nil))
	f.Add(ManifestInfo{Entries: 1, Encoded: 60, FileBytes: 5, Flags: FlagText}.Append(nil))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, p []byte) {
		m, err := DecodeManifestInfo(p)
		if err != nil {
			return
		}
		if !bytes.Equal(m.Append(nil), p) {
			t.Fatalf("ManifestInfo re-encodes differently")
		}
	})
}
