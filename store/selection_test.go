package store

import (
	"errors"
	"slices"
	"testing"
)

// TestSelectionRecord: a selection is recorded, read back, replaced,
// removed, and deleted with its transfer; a damaged record is ErrCorrupt.
func TestSelectionRecord(t *testing.T) {
	path := logPath(t)
	l := openLog(t, path, ResumeLogOptions{})
	m := testManifest(t, 3, 2, testChunk)
	root := m.Root()
	if err := l.SetSelection(root, []SelectionRule{{Only: []string{"a"}}}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("before Begin: %v, want ErrNotFound", err)
	}
	begin(t, l, m, "/dest")
	if got, err := l.Selection(root); err != nil || got != nil {
		t.Fatalf("new transfer: %v, %v; want none", got, err)
	}
	want := []SelectionRule{{Only: []string{"photos", "**/*.jpg"}, Skip: []string{"photos/tmp"}}, {Skip: []string{"x"}}}
	if err := l.SetSelection(root, want); err != nil {
		t.Fatal(err)
	}
	// It survives a reopen.
	l.Close()
	l = openLog(t, path, ResumeLogOptions{})
	got, err := l.Selection(root)
	if err != nil || !slices.EqualFunc(got, want, func(a, b SelectionRule) bool {
		return slices.Equal(a.Only, b.Only) && slices.Equal(a.Skip, b.Skip)
	}) {
		t.Fatalf("read back %v, %v; want %v", got, err, want)
	}
	if err := l.SetSelection(root, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := l.Selection(root); err != nil || got != nil {
		t.Fatalf("after removing: %v, %v", got, err)
	}
	if err := l.SetSelection(root, []SelectionRule{{Only: []string{""}}}); err == nil {
		t.Fatal("an empty pattern was stored")
	}
	if err := l.SetSelection(root, want); err != nil {
		t.Fatal(err)
	}
	if err := l.Delete(root); err != nil {
		t.Fatal(err)
	}
	begin(t, l, m, "/dest")
	if got, err := l.Selection(root); err != nil || got != nil {
		t.Fatalf("after Delete and Begin: %v, %v; want none", got, err)
	}
	l.Close()
}

func TestDecodeSelectionBounds(t *testing.T) {
	good, err := encodeSelection([]SelectionRule{{Only: []string{"ab"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeSelection(good); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"empty":     nil,
		"version":   append([]byte{9}, good[1:]...),
		"no rules":  {selectionVersion, 0, 0},
		"truncated": good[:len(good)-1],
		"trailing":  append(append([]byte{}, good...), 0),
		"zero len":  {selectionVersion, 0, 1, 0, 1, 0, 0, 0, 0},
		"huge len":  {selectionVersion, 0, 1, 0, 1, 0xff, 0xff, 'a'},
	} {
		if _, err := decodeSelection(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}

func FuzzDecodeSelection(f *testing.F) {
	good, _ := encodeSelection([]SelectionRule{{Only: []string{"a", "b/**"}, Skip: []string{"c"}}})
	f.Add(good)
	f.Fuzz(func(t *testing.T, b []byte) {
		rules, err := decodeSelection(b)
		if err != nil {
			return
		}
		again, err := encodeSelection(rules)
		if err != nil || string(again) != string(b) {
			t.Fatalf("decoded %v does not encode back: %v", rules, err)
		}
	})
}
