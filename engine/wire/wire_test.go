package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	refs := []Ref{{0, 0}, {7, 3}, {1 << 31, 1<<32 - 1}}
	big := bytes.Repeat([]byte{0xab}, 100_000)
	must(t, WriteFrame(&buf, TOpen, Open{Kind: KindData, Session: [32]byte{1, 2, 3}}.Append(nil)))
	must(t, WriteFrame(&buf, TRequest, AppendRequest(nil, refs)))
	must(t, WriteFrame(&buf, TChunk, append(AppendChunkHeader(nil, ChunkHeader{Ref{5, 6}, EncRaw, uint32(len(big))}), big...)))
	must(t, WriteFrame(&buf, TError, AppendError(nil, CodeSourceChange, "changed")))

	fr := NewReader(&buf)
	p, err := fr.Expect(TOpen)
	must(t, err)
	o, err := DecodeOpen(p)
	must(t, err)
	if o.Kind != KindData || o.Session != [32]byte{1, 2, 3} {
		t.Fatalf("open = %+v", o)
	}
	p, err = fr.Expect(TRequest)
	must(t, err)
	got, err := DecodeRequest(p, nil)
	must(t, err)
	if len(got) != len(refs) || got[1] != refs[1] || got[2] != refs[2] {
		t.Fatalf("refs = %v", got)
	}
	p, err = fr.Expect(TChunk)
	must(t, err)
	h, data, err := DecodeChunk(p)
	must(t, err)
	if h.Entry != 5 || h.Chunk != 6 || !bytes.Equal(data, big) {
		t.Fatalf("chunk header %+v, %d bytes", h, len(data))
	}
	_, err = fr.Expect(TDone)
	if !errors.Is(err, ErrSourceChanged) {
		t.Fatalf("remote error = %v, want ErrSourceChanged", err)
	}
	if _, _, err := fr.Next(); err != io.EOF {
		t.Fatalf("after last frame: %v", err)
	}
}

func TestOversizedFrameRejectedBeforeRead(t *testing.T) {
	// A header claiming 4 GiB must fail from the header alone: the reader
	// holds only 5 bytes, so a read of the payload would give EOF instead.
	for _, typ := range []Type{TOpen, TRequest, TChunk, TManifest, TError, TDone, 0, 99} {
		var h [HeaderSize]byte
		h[0] = byte(typ)
		binary.BigEndian.PutUint32(h[1:], 0xffffffff)
		_, _, err := NewReader(bytes.NewReader(h[:])).Next()
		if !errors.Is(err, ErrFrame) {
			t.Errorf("type %v: err = %v, want ErrFrame", typ, err)
		}
	}
	if err := WriteFrame(io.Discard, TDone, []byte{DoneSelected, 0}); !errors.Is(err, ErrFrame) {
		t.Errorf("writing an oversized Done: %v", err)
	}
	if err := WriteFrame(io.Discard, TDone, []byte{DoneSelected}); err != nil {
		t.Errorf("writing a Done with its flags: %v", err)
	}
}

func TestManifestFraming(t *testing.T) {
	var buf bytes.Buffer
	mw := NewManifestWriter(&buf)
	body := make([]byte, 3*MaxManifestPiece/2+17)
	for i := range body {
		body[i] = byte(i * 7)
	}
	_, err := mw.Write(body)
	must(t, err)
	must(t, mw.Flush())
	must(t, WriteFrame(&buf, TManifestEnd, make([]byte, 32)))
	fr := NewReader(&buf)
	mr := NewManifestReader(fr, 0)
	got, err := io.ReadAll(mr)
	must(t, err)
	if !bytes.Equal(got, body) {
		t.Fatalf("manifest bytes differ: %d vs %d", len(got), len(body))
	}
	typ, p, err := mr.End()
	must(t, err)
	if typ != TManifestEnd || len(p) != 32 {
		t.Fatalf("end = %v %d", typ, len(p))
	}
	// A bound on total manifest size is enforced.
	buf.Reset()
	mw = NewManifestWriter(&buf)
	_, _ = mw.Write(body)
	_ = mw.Flush()
	if _, err := io.ReadAll(NewManifestReader(NewReader(&buf), 1000)); !errors.Is(err, ErrFrame) {
		t.Fatalf("oversized manifest: %v", err)
	}
}

func TestDecodeRejects(t *testing.T) {
	cases := map[string]func() error{
		"empty request": func() error { _, err := DecodeRequest([]byte{0, 0}, nil); return err },
		"short request": func() error { _, err := DecodeRequest([]byte{0, 2, 0, 0, 0, 1}, nil); return err },
		"raw len mismatch": func() error {
			_, _, err := DecodeChunk(AppendChunkHeader(nil, ChunkHeader{Ref{}, EncRaw, 5}))
			return err
		},
		"unknown enc": func() error { _, _, err := DecodeChunk(AppendChunkHeader(nil, ChunkHeader{Ref{}, 9, 0})); return err },
		"huge raw len": func() error {
			_, _, err := DecodeChunk(AppendChunkHeader(nil, ChunkHeader{Ref{}, EncZstd, 1 << 30}))
			return err
		},
		"open unknown kind":   func() error { _, err := DecodeOpen([]byte{7}); return err },
		"open short data":     func() error { _, err := DecodeOpen([]byte{KindData, 1}); return err },
		"open short manifest": func() error { _, err := DecodeOpen([]byte{KindManifest, 1}); return err },
	}
	for name, f := range cases {
		if err := f(); !errors.Is(err, ErrFrame) {
			t.Errorf("%s: err = %v, want ErrFrame", name, err)
		}
	}
}

// FuzzReader feeds arbitrary bytes to the frame reader and every payload
// decoder: none may panic, and accepted frames re-encode to the same bytes.
func FuzzReader(f *testing.F) {
	var seed bytes.Buffer
	_ = WriteFrame(&seed, TOpen, Open{Kind: KindControl}.Append(nil))
	_ = WriteFrame(&seed, TRequest, AppendRequest(nil, []Ref{{1, 2}}))
	_ = WriteFrame(&seed, TChunk, append(AppendChunkHeader(nil, ChunkHeader{Ref{1, 2}, EncRaw, 3}), 1, 2, 3))
	_ = WriteFrame(&seed, TError, AppendError(nil, CodeBadRequest, "x"))
	_ = WriteFrame(&seed, TWait, nil)
	_ = WriteFrame(&seed, TManifestInfo, ManifestInfo{Entries: 1, Encoded: 2, FileBytes: 3}.Append(nil))
	f.Add(seed.Bytes())
	f.Add([]byte{byte(TChunk), 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		fr := NewReader(bytes.NewReader(data))
		for {
			typ, p, err := fr.Next()
			if err != nil {
				return
			}
			switch typ {
			case TOpen:
				if o, err := DecodeOpen(p); err == nil && !bytes.Equal(o.Append(nil), p) {
					t.Fatalf("Open re-encodes differently")
				}
			case TRequest:
				if refs, err := DecodeRequest(p, nil); err == nil && !bytes.Equal(AppendRequest(nil, refs), p) {
					t.Fatalf("Request re-encodes differently")
				}
			case TChunk:
				if h, d, err := DecodeChunk(p); err == nil {
					if !bytes.Equal(append(AppendChunkHeader(nil, h), d...), p) {
						t.Fatalf("Chunk re-encodes differently")
					}
				}
			case TManifestInfo:
				if m, err := DecodeManifestInfo(p); err == nil && !bytes.Equal(m.Append(nil), p) {
					t.Fatalf("ManifestInfo re-encodes differently")
				}
			case TError:
				if e, err := DecodeError(p); err == nil && !bytes.Equal(AppendError(nil, e.Code, e.Msg), p) && len(e.Msg) <= MaxErrorMsg {
					t.Fatalf("Error re-encodes differently")
				}
			}
		}
	})
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
