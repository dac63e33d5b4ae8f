package engine

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/pcp-p2p/pcp/manifest"
)

// TestPickTopEntries: Pick sees the offer's top-level entries (several
// paths sent), with the files and bytes under each; what it picks is
// received and nothing else is fetched, the resume log records it as a
// selection, and declining at the pick declines the offer.
func TestPickTopEntries(t *testing.T) {
	dir := t.TempDir()
	src := selTree(t, dir) // src/: 5 files
	odd := filepath.Join(dir, "odd [1]*.txt")
	writeRandom(t, odd, 2*selChunk)
	other := filepath.Join(dir, "other.bin")
	writeRandom(t, other, 3*selChunk)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	dest := filepath.Join(dir, "dest")
	pass := testPass(t)
	addrs, res := startSender(t, ctx, SendOptions{Paths: []string{src, odd, other}, Passphrase: pass, ChunkSize: selChunk})
	ro := recvOpts(pass, dest, addrs)
	ro.ResumeLogPath = filepath.Join(dir, "pick.db")
	var seen []TopEntry
	ro.Pick = func(_ context.Context, top []TopEntry) (Selection, error) {
		seen = top
		return PickSelection(top, []string{"odd [1]*.txt", "other.bin"})
	}
	var offer Offer
	ro.Confirm = func(o Offer) bool { offer = o; return true }
	sum, err := Receive(ctx, ro)
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	if sr := <-res; sr.err != nil {
		t.Fatalf("sender: %v", sr.err)
	}
	want := []TopEntry{
		{Name: "src", Kind: manifest.KindDir, Files: 5, Bytes: 4*selChunk - 100 + 2*selChunk + 3*selChunk + int64(len("temporary")+len("top"))},
		{Name: "odd [1]*.txt", Kind: manifest.KindFile, Files: 1, Bytes: 2 * selChunk},
		{Name: "other.bin", Kind: manifest.KindFile, Files: 1, Bytes: 3 * selChunk},
	}
	slices.SortFunc(seen, func(a, b TopEntry) int {
		return slices.IndexFunc(want, func(w TopEntry) bool { return w.Name == a.Name }) - slices.IndexFunc(want, func(w TopEntry) bool { return w.Name == b.Name })
	})
	if !slices.Equal(seen, want) {
		t.Fatalf("Pick saw %+v, want %+v", seen, want)
	}
	if offer.SelectedFiles != 2 || offer.Files != 7 || !sum.Partial || sum.ChunksFetched != 5 {
		t.Errorf("offer %d of %d files, summary partial %v, %d chunks fetched; want 2 of 7, partial, 5 chunks",
			offer.SelectedFiles, offer.Files, sum.Partial, sum.ChunksFetched)
	}
	for _, name := range []string{"odd [1]*.txt", "other.bin"} {
		if !sameBytes(t, filepath.Join(dir, name), filepath.Join(dest, name)) {
			t.Errorf("%s differs", name)
		}
	}
	if exists(dest, "src") {
		t.Error("src created, but not picked")
	}
	var tgt VerifyTarget
	diffs, err := Verify(ctx, dest, VerifyOptions{ResumeLogPath: ro.ResumeLogPath, Result: func(v VerifyTarget) { tgt = v }}, nil)
	if err != nil || len(diffs) != 0 || tgt.Files != 2 || tgt.NotSelectedFiles != 5 {
		t.Fatalf("Verify: %v, %v; %d files, %d not selected; want 2 and 5", diffs, err, tgt.Files, tgt.NotSelectedFiles)
	}

	// Declining at the pick declines the offer: nothing is received, and
	// the sender hears of it and keeps offering.
	ctx2, cancel2 := context.WithTimeout(context.Background(), time.Minute)
	defer cancel2()
	declined := make(chan struct{}, 1)
	dest2 := filepath.Join(dir, "dest2")
	pass2 := testPass(t)
	addrs2, res2 := startSender(t, ctx2, SendOptions{Paths: []string{src, other}, Passphrase: pass2, ChunkSize: selChunk,
		Events: func(e Event) {
			if _, ok := e.(DeclinedEvent); ok {
				declined <- struct{}{}
			}
		}})
	ro2 := recvOpts(pass2, dest2, addrs2)
	ro2.ResumeLogPath = filepath.Join(dir, "pick2.db")
	ro2.Pick = func(context.Context, []TopEntry) (Selection, error) { return Selection{}, ErrDeclined }
	ro2.Confirm = func(Offer) bool { t.Error("the offer was shown after a declined pick"); return false }
	if _, err := Receive(ctx2, ro2); !errors.Is(err, ErrDeclined) {
		t.Fatalf("Receive after a declined pick: %v, want ErrDeclined", err)
	}
	select {
	case <-declined:
	case sr := <-res2:
		t.Fatalf("sender ended: %v", sr.err)
	case <-ctx2.Done():
		t.Fatal("no DeclinedEvent")
	}
	if exists(dest2, "other.bin") || exists(dest2, "src") {
		t.Error("something was received after a declined pick")
	}
	cancel2()
	<-res2
}

// TestPickSelection: the patterns PickSelection makes match the named
// entries literally, and nothing else; none or all of them is everything.
func TestPickSelection(t *testing.T) {
	top := []TopEntry{{Name: "a*"}, {Name: "a[1]"}, {Name: `b\{c}`}, {Name: "abc"}}
	sel, err := PickSelection(top, []string{"a*", "a[1]", `b\{c}`})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		want bool
	}{{"a*", true}, {"a*/x", true}, {"a[1]", true}, {`b\{c}`, true}, {"abc", false}, {"a1", false}, {"ab", false}} {
		if got := sel.selects(c.path); got != c.want {
			t.Errorf("selects(%q) = %v, want %v (rules %v)", c.path, got, c.want, sel.Rules())
		}
	}
	for _, names := range [][]string{nil, {"a*", "a[1]", `b\{c}`, "abc"}} {
		if s, err := PickSelection(top, names); err != nil || !s.IsZero() {
			t.Errorf("PickSelection(%q) = %v, %v; want everything", names, s.Rules(), err)
		}
	}
	if !doublestar.ValidatePattern(literalPattern("x]{[*?\\")) {
		t.Error("literalPattern made an invalid pattern")
	}
}
