package wire

import (
	"bytes"
	"errors"
	"testing"

	"github.com/pcp-p2p/pcp/manifest"
)

func TestStreamFramesRoundTrip(t *testing.T) {
	si := StreamInfo{ID: [32]byte{1, 2, 3}, ChunkSize: manifest.MinChunkSize, Flags: StreamSpooled, Name: "stdin"}
	got, err := DecodeStreamInfo(si.Append(nil))
	if err != nil || got != si || !got.Spooled() {
		t.Fatalf("StreamInfo round trip: %+v, %v", got, err)
	}
	a := Announce{First: 7, Hashes: []manifest.Hash{manifest.HashChunk([]byte("x")), manifest.HashChunk([]byte("y"))}}
	p, err := AppendAnnounce(nil, a)
	if err != nil {
		t.Fatal(err)
	}
	ga, err := DecodeAnnounce(p, nil)
	if err != nil || ga.First != 7 || len(ga.Hashes) != 2 || ga.Hashes[1] != a.Hashes[1] {
		t.Fatalf("Announce round trip: %+v, %v", ga, err)
	}
	e := StreamEnd{Size: 1 << 40, Root: manifest.HashChunk([]byte("r"))}
	if ge, err := DecodeStreamEnd(e.Append(nil)); err != nil || ge != e {
		t.Fatalf("StreamEnd round trip: %+v, %v", ge, err)
	}
	for _, ty := range []Type{TStreamInfo, TAnnounce, TStreamEnd} {
		if n, ok := MaxPayload(ty); !ok || n <= 0 {
			t.Errorf("%v: no bound", ty)
		}
	}
}

func TestStreamFramesRefused(t *testing.T) {
	ok := StreamInfo{ChunkSize: manifest.MinChunkSize, Name: "stdin"}
	bad := map[string]StreamInfo{
		"chunk size":  {ChunkSize: manifest.MinChunkSize + 1, Name: "stdin"},
		"flags":       {ChunkSize: manifest.MinChunkSize, Flags: 0x80, Name: "stdin"},
		"empty name":  {ChunkSize: manifest.MinChunkSize},
		"slash":       {ChunkSize: manifest.MinChunkSize, Name: "a/b"},
		"dot dot":     {ChunkSize: manifest.MinChunkSize, Name: ".."},
		"staging":     {ChunkSize: manifest.MinChunkSize, Name: ".pcp-x"},
		"bad utf8":    {ChunkSize: manifest.MinChunkSize, Name: "\xff"},
		"control chr": {ChunkSize: manifest.MinChunkSize, Name: "a\x00b"},
	}
	for name, si := range bad {
		if _, err := DecodeStreamInfo(si.Append(nil)); !errors.Is(err, ErrFrame) {
			t.Errorf("StreamInfo %s: err = %v, want ErrFrame", name, err)
		}
	}
	p := ok.Append(nil)
	if _, err := DecodeStreamInfo(append(p, 0)); !errors.Is(err, ErrFrame) {
		t.Errorf("StreamInfo with a trailing byte: err = %v", err)
	}
	if _, err := AppendAnnounce(nil, Announce{}); !errors.Is(err, ErrFrame) {
		t.Errorf("empty Announce encoded: %v", err)
	}
	if _, err := AppendAnnounce(nil, Announce{First: 1<<32 - 1, Hashes: make([]manifest.Hash, 2)}); !errors.Is(err, ErrFrame) {
		t.Errorf("Announce past 2^32 encoded: %v", err)
	}
	for name, p := range map[string][]byte{
		"short":      {0, 0, 0},
		"count 0":    {0, 0, 0, 0, 0, 0},
		"count long": append([]byte{0, 0, 0, 0, 0, 2}, make([]byte, 32)...),
		"past 2^32":  append([]byte{0xff, 0xff, 0xff, 0xff, 0, 2}, make([]byte, 64)...),
	} {
		if _, err := DecodeAnnounce(p, nil); !errors.Is(err, ErrFrame) {
			t.Errorf("Announce %s: err = %v, want ErrFrame", name, err)
		}
	}
	if _, err := DecodeStreamEnd(make([]byte, 39)); !errors.Is(err, ErrFrame) {
		t.Errorf("short StreamEnd: %v", err)
	}
	// A stream's ManifestInfo declares nothing and is never text.
	for _, m := range []ManifestInfo{{Entries: 1, Flags: FlagStream}, {Flags: FlagStream | FlagText}} {
		if _, err := DecodeManifestInfo(m.Append(nil)); !errors.Is(err, ErrFrame) {
			t.Errorf("ManifestInfo %+v: err = %v, want ErrFrame", m, err)
		}
	}
	if m, err := DecodeManifestInfo(ManifestInfo{Flags: FlagStream | FlagManifestStream}.Append(nil)); err != nil || !m.Stream() {
		t.Errorf("stream ManifestInfo: %+v, %v", m, err)
	}
}

// FuzzDecodeStreamFrames: no panic, and whatever decodes re-encodes to the
// same bytes (one decoder per frame type, chosen by the first byte).
func FuzzDecodeStreamFrames(f *testing.F) {
	f.Add(append([]byte{byte(TStreamInfo)}, StreamInfo{ChunkSize: manifest.MinChunkSize, Name: "stdin"}.Append(nil)...))
	a, _ := AppendAnnounce(nil, Announce{First: 3, Hashes: make([]manifest.Hash, 2)})
	f.Add(append([]byte{byte(TAnnounce)}, a...))
	f.Add(append([]byte{byte(TStreamEnd)}, StreamEnd{Size: 5}.Append(nil)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		p := data[1:]
		switch Type(data[0]) {
		case TStreamInfo:
			if s, err := DecodeStreamInfo(p); err == nil && !bytes.Equal(s.Append(nil), p) {
				t.Fatal("StreamInfo re-encodes differently")
			}
		case TAnnounce:
			if a, err := DecodeAnnounce(p, nil); err == nil {
				q, err := AppendAnnounce(nil, a)
				if err != nil || !bytes.Equal(q, p) {
					t.Fatalf("Announce re-encodes differently (%v)", err)
				}
			}
		default:
			if e, err := DecodeStreamEnd(p); err == nil && !bytes.Equal(e.Append(nil), p) {
				t.Fatal("StreamEnd re-encodes differently")
			}
		}
	})
}
