package store

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestMetaRecord: a transfer's meta is recorded, survives a reopen, and
// goes with the transfer on Delete; a transfer without one says so.
func TestMetaRecord(t *testing.T) {
	path := logPath(t)
	l := openLog(t, path, ResumeLogOptions{})
	m := testManifest(t, 3, 2, testChunk)
	root := m.Root()
	want := TransferMeta{Names: []string{"photos", "notes.txt"}, NameCount: 12, Peer: "12D3KooWabc"}
	if err := l.SetMeta(root, want); !errors.Is(err, ErrNotFound) {
		t.Fatalf("before Begin: %v, want ErrNotFound", err)
	}
	begin(t, l, m, "/dest")
	if _, ok, err := l.Meta(root); err != nil || ok {
		t.Fatalf("new transfer: found %v, err %v; want none", ok, err)
	}
	if err := l.SetMeta(root, want); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l = openLog(t, path, ResumeLogOptions{})
	got, ok, err := l.Meta(root)
	if err != nil || !ok || !slices.Equal(got.Names, want.Names) || got.NameCount != want.NameCount || got.Peer != want.Peer {
		t.Fatalf("read back %+v, %v, %v; want %+v", got, ok, err, want)
	}
	if err := l.Delete(root); err != nil {
		t.Fatal(err)
	}
	begin(t, l, m, "/dest")
	if _, ok, err := l.Meta(root); err != nil || ok {
		t.Fatalf("after Delete and Begin: found %v, err %v; want none", ok, err)
	}
	l.Close()
}

func TestEncodeMetaBounds(t *testing.T) {
	for name, m := range map[string]TransferMeta{
		"too many names": {Names: make([]string, MaxMetaNames+1), NameCount: MaxMetaNames + 1},
		"empty name":     {Names: []string{""}, NameCount: 1},
		"long name":      {Names: []string{strings.Repeat("a", MaxMetaNameLen+1)}, NameCount: 1},
		"long peer":      {Peer: strings.Repeat("p", MaxMetaPeerLen+1)},
		"count below":    {Names: []string{"a", "b"}, NameCount: 1},
	} {
		if _, err := encodeMeta(m); err == nil {
			t.Errorf("%s: encoded", name)
		}
	}
	good, err := encodeMeta(TransferMeta{Names: []string{"ab"}, NameCount: 3, Peer: "p"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range good {
		if _, err := decodeMeta(good[:i]); !errors.Is(err, ErrCorrupt) {
			t.Errorf("truncated to %d bytes: %v, want ErrCorrupt", i, err)
		}
	}
	if _, err := decodeMeta(append(slices.Clone(good), 0)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("trailing byte: %v, want ErrCorrupt", err)
	}
}

// FuzzDecodeMeta: the meta decoder never panics, and what it accepts
// re-encodes to the same bytes.
func FuzzDecodeMeta(f *testing.F) {
	good, _ := encodeMeta(TransferMeta{Names: []string{"photos", "x"}, NameCount: 9, Peer: "12D3KooW"})
	f.Add(good)
	empty, _ := encodeMeta(TransferMeta{})
	f.Add(empty)
	f.Add([]byte{metaVersion, 0, 0, 0, 1, 0, 0, 1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMeta(b)
		if err != nil {
			return
		}
		enc, err := encodeMeta(m)
		if err != nil || !bytes.Equal(enc, b) {
			t.Fatalf("re-encoding differs (%v)", err)
		}
	})
}
