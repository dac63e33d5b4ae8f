package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/manifest"
)

const selChunk = 64 << 10

// selTree writes the tree the selection tests offer: top-level "src" with
// photos (a.jpg, raw/b.raw), docs (c.txt, d.tmp), top.txt and an empty dir.
func selTree(t *testing.T, dir string) string {
	t.Helper()
	src := filepath.Join(dir, "src")
	writeRandom(t, filepath.Join(src, "photos", "a.jpg"), 4*selChunk-100)
	writeRandom(t, filepath.Join(src, "photos", "raw", "b.raw"), 2*selChunk)
	writeRandom(t, filepath.Join(src, "docs", "c.txt"), 3*selChunk)
	writeFile(t, filepath.Join(src, "docs", "d.tmp"), []byte("temporary"))
	writeFile(t, filepath.Join(src, "top.txt"), []byte("top"))
	if err := os.MkdirAll(filepath.Join(src, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	return src
}

func mustSelect(t *testing.T, only, skip []string) Selection {
	t.Helper()
	s, err := NewSelection(only, skip)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// exists reports whether name exists under dest.
func exists(dest, name string) bool {
	_, err := os.Lstat(filepath.Join(dest, filepath.FromSlash(name)))
	return err == nil
}

// TestSelectiveReceive: --only, --skip and both take exactly their part;
// only the chunks of selected files are requested; differing files outside
// the selection are no conflict; the summary and verify say it is partial.
func TestSelectiveReceive(t *testing.T) {
	dir := t.TempDir()
	src := selTree(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	chunks := func(n int64) int64 { return manifest.ChunkCount(n, selChunk) }
	cases := []struct {
		name       string
		only, skip []string
		want, not  []string
		files      int
		chunks     int64
	}{
		{"only", []string{"src/photos/"}, nil,
			[]string{"src/photos/a.jpg", "src/photos/raw/b.raw"}, []string{"src/docs", "src/top.txt", "src/empty"},
			2, chunks(4*selChunk-100) + chunks(2*selChunk)},
		{"skip", nil, []string{"src/photos", "**/*.tmp"},
			[]string{"src/docs/c.txt", "src/top.txt", "src/empty"}, []string{"src/photos", "src/docs/d.tmp"},
			2, chunks(3*selChunk) + 1},
		{"skip-beats-only", []string{"src/photos/**"}, []string{"**/*.raw"},
			[]string{"src/photos/a.jpg", "src/photos/raw"}, []string{"src/photos/raw/b.raw", "src/docs"},
			1, chunks(4*selChunk - 100)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dest := filepath.Join(dir, c.name)
			// A differing file outside the selection: not a conflict.
			writeFile(t, filepath.Join(dest, "src", "docs", "d.tmp"), []byte("the user's own"))
			pass := testPass(t)
			addrs, res := startSender(t, ctx, SendOptions{Paths: []string{src}, Passphrase: pass, ChunkSize: selChunk})
			ro := recvOpts(pass, dest, addrs)
			ro.ResumeLogPath = filepath.Join(dir, c.name+".db")
			ro.Select = mustSelect(t, c.only, c.skip)
			var offer Offer
			ro.Confirm = func(o Offer) bool { offer = o; return true }
			sum, err := Receive(ctx, ro)
			if err != nil {
				t.Fatalf("Receive: %v", err)
			}
			if sr := <-res; sr.err != nil {
				t.Fatalf("sender: %v", sr.err)
			}
			if offer.Files != 5 || offer.SelectedFiles != c.files || offer.ConflictCount != 0 {
				t.Errorf("offer: %d of %d files selected, %d conflicts; want %d of 5, none",
					offer.SelectedFiles, offer.Files, offer.ConflictCount, c.files)
			}
			if !sum.Partial || sum.SelectedFiles != c.files || sum.ChunksFetched != c.chunks {
				t.Errorf("summary: partial %v, %d files, %d chunks fetched; want partial, %d files, %d chunks",
					sum.Partial, sum.SelectedFiles, sum.ChunksFetched, c.files, c.chunks)
			}
			for _, w := range c.want {
				if !exists(dest, w) {
					t.Errorf("%s not received", w)
				} else if st, _ := os.Stat(filepath.Join(src, "..", w)); st.Mode().IsRegular() &&
					!sameBytes(t, filepath.Join(dir, w), filepath.Join(dest, w)) {
					t.Errorf("%s differs", w)
				}
			}
			for _, n := range c.not {
				if n != "src/docs/d.tmp" && n != "src/docs" && exists(dest, n) {
					t.Errorf("%s created, but not selected", n)
				}
			}
			if b, _ := os.ReadFile(filepath.Join(dest, "src", "docs", "d.tmp")); string(b) != "the user's own" {
				t.Errorf("unselected d.tmp touched: %q", b)
			}
			// Verify checks the selected part; the rest is not selected.
			var tgt VerifyTarget
			diffs, err := Verify(ctx, dest, VerifyOptions{ResumeLogPath: ro.ResumeLogPath, Result: func(v VerifyTarget) { tgt = v }}, nil)
			if err != nil || len(diffs) != 0 {
				t.Fatalf("Verify: %v, %v", diffs, err)
			}
			if tgt.Files != c.files || tgt.NotSelectedFiles != 5-c.files || tgt.Selection.IsZero() {
				t.Errorf("verify target: %d files, %d not selected; want %d and %d", tgt.Files, tgt.NotSelectedFiles, c.files, 5-c.files)
			}
			// A damaged selected file fails it.
			f := filepath.Join(dest, filepath.FromSlash(c.want[0]))
			if err := os.WriteFile(f, []byte("damaged"), 0o644); err != nil {
				t.Fatal(err)
			}
			diffs, err = Verify(ctx, dest, VerifyOptions{ResumeLogPath: ro.ResumeLogPath}, nil)
			if err != nil || len(diffs) != 1 || diffs[0].Path != c.want[0] {
				t.Fatalf("Verify of a damaged selected file: %v, %v", diffs, err)
			}
		})
	}
}

// TestSelectionMatchingNothing is declined before anything moves; the
// sender keeps offering.
func TestSelectionMatchingNothing(t *testing.T) {
	dir := t.TempDir()
	src := selTree(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pass := testPass(t)
	declined := make(chan struct{}, 1)
	addrs, res := startSender(t, ctx, SendOptions{Paths: []string{src}, Passphrase: pass, Events: func(e Event) {
		if _, ok := e.(DeclinedEvent); ok {
			declined <- struct{}{}
		}
	}})
	dest := filepath.Join(dir, "out")
	ro := recvOpts(pass, dest, addrs)
	ro.Select = mustSelect(t, []string{"photos"}, nil) // the offer's top is src
	ro.Confirm = func(Offer) bool { t.Error("asked to confirm an offer with nothing selected"); return false }
	_, err := Receive(ctx, ro)
	if !errors.Is(err, ErrNothingSelected) || !errors.Is(err, ErrDeclined) {
		t.Fatalf("err = %v, want ErrNothingSelected and ErrDeclined", err)
	}
	select {
	case <-declined:
	case sr := <-res:
		t.Fatalf("sender ended: %v", sr.err)
	case <-ctx.Done():
		t.Fatal("no DeclinedEvent")
	}
	if exists(dest, "src") {
		t.Error("something was created")
	}
	cancel()
	<-res
}

// TestSelectionResumed: an interrupted --only receive is continued by a run
// without a selection, which takes the recorded one; a later run with
// another selection adds to it.
func TestSelectionResumed(t *testing.T) {
	dir := t.TempDir()
	src := selTree(t, dir)
	writeRandom(t, filepath.Join(src, "photos", "big.bin"), 40*selChunk)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pass := testPass(t)
	// The sender stalls at chunk 4 of any file until released.
	release := make(chan struct{})
	var once sync.Once
	opts := SendOptions{Paths: []string{src}, Passphrase: pass, ChunkSize: selChunk}
	opts.tamper = func(r wire.Ref, _ []byte) {
		if r.Chunk >= 4 {
			<-release
		}
	}
	defer once.Do(func() { close(release) })
	addrs, res := startSender(t, ctx, opts)
	dest := filepath.Join(dir, "out")
	logPath := filepath.Join(dir, "resume.db")
	only := mustSelect(t, []string{"src/photos"}, nil)

	rctx, rcancel := context.WithCancel(ctx)
	ro := recvOpts(pass, dest, addrs)
	ro.ResumeLogPath, ro.Select = logPath, only
	ro.Events = func(e Event) {
		if p, ok := e.(ProgressEvent); ok && p.Bytes > 0 {
			rcancel() // some chunks verified: stop here
		}
	}
	_, err := Receive(rctx, ro)
	rcancel()
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("first run: %v, want ErrInterrupted", err)
	}
	once.Do(func() { close(release) })

	// Again, without a selection: the recorded one continues.
	ro = recvOpts(pass, dest, addrs)
	ro.ResumeLogPath = logPath
	var offer Offer
	ro.Confirm = func(o Offer) bool { offer = o; return true }
	sum, err := Receive(ctx, ro)
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	if sr := <-res; sr.err != nil {
		t.Fatalf("sender: %v", sr.err)
	}
	if !offer.RecordedSelection.Equal(only) || !offer.Selection.Equal(only) || offer.SelectedFiles != 3 {
		t.Errorf("offer: selection %v (recorded %v), %d files; want the recorded --only, 3 files",
			offer.Selection.Rules(), offer.RecordedSelection.Rules(), offer.SelectedFiles)
	}
	if offer.ResumeBytes+offer.PresentBytes == 0 {
		t.Error("nothing resumed from the first run")
	}
	if !sum.Partial || sum.SelectedFiles != 3 {
		t.Errorf("summary: partial %v, %d files", sum.Partial, sum.SelectedFiles)
	}
	for _, f := range []string{"photos/a.jpg", "photos/raw/b.raw", "photos/big.bin"} {
		if !sameBytes(t, filepath.Join(src, f), filepath.Join(dest, "src", f)) {
			t.Errorf("%s not received", f)
		}
	}
	if exists(dest, "src/docs") || exists(dest, "src/top.txt") {
		t.Error("unselected entries created")
	}

	// A third run with --only docs adds docs: photos stay selected, and
	// only docs' chunks move. Before it, one whose addition matches
	// nothing is declined, though the recorded part matches.
	pass2 := testPass(t)
	addrs, res = startSender(t, ctx, SendOptions{Paths: []string{src}, Passphrase: pass2, ChunkSize: selChunk})
	ro = recvOpts(pass2, dest, addrs)
	ro.ResumeLogPath, ro.Select = logPath, mustSelect(t, []string{"src/nope"}, nil)
	if _, err := Receive(ctx, ro); !errors.Is(err, ErrNothingSelected) {
		t.Fatalf("adding a selection that matches nothing: %v, want ErrNothingSelected", err)
	}
	ro.ResumeLogPath, ro.Select = logPath, mustSelect(t, []string{"src/docs"}, nil)
	if sum, err = Receive(ctx, ro); err != nil {
		t.Fatalf("third run: %v", err)
	}
	if sr := <-res; sr.err != nil {
		t.Fatalf("sender: %v", sr.err)
	}
	if sum.SelectedFiles != 5 || sum.ChunksFetched != manifest.ChunkCount(3*selChunk, selChunk)+1 {
		t.Errorf("third run: %d files selected, %d chunks fetched", sum.SelectedFiles, sum.ChunksFetched)
	}
	var tgt VerifyTarget
	diffs, err := Verify(ctx, dest, VerifyOptions{ResumeLogPath: logPath, Result: func(v VerifyTarget) { tgt = v }}, nil)
	if err != nil || len(diffs) != 0 || tgt.NotSelectedFiles != 1 || len(tgt.Selection.Rules()) != 2 {
		t.Fatalf("Verify: %v %v; %d not selected, %d rules", diffs, err, tgt.NotSelectedFiles, len(tgt.Selection.Rules()))
	}
}

// TestNewSelection validates patterns once, at the boundary.
func TestNewSelection(t *testing.T) {
	for _, bad := range []string{"", "/abs", "a[b", "{a,b", "./", "a\\"} {
		if _, err := NewSelection([]string{bad}, nil); !errors.Is(err, ErrBadPattern) {
			t.Errorf("--only %q: %v, want ErrBadPattern", bad, err)
		}
		if _, err := NewSelection(nil, []string{bad}); !errors.Is(err, ErrBadPattern) {
			t.Errorf("--skip %q: %v, want ErrBadPattern", bad, err)
		}
	}
	if s, err := NewSelection(nil, nil); err != nil || !s.IsZero() {
		t.Fatalf("no patterns: %v, zero %v", err, s.IsZero())
	}
	s := mustSelect(t, []string{"./photos/", "**/*.txt"}, []string{"photos/tmp"})
	for p, want := range map[string]bool{
		"photos": true, "photos/a.jpg": true, "photos/x/y": true, "photos/tmp": false, "photos/tmp/z": false,
		"a.txt": true, "d/e/f.txt": true, "d/e/f.txt/g": true, "d/e": false, "photosx": false,
	} {
		if got := s.selects(p); got != want {
			t.Errorf("selects(%q) = %v, want %v", p, got, want)
		}
	}
	if r := s.Rules(); len(r) != 1 || r[0].Only[0] != "photos" {
		t.Errorf("rules %v: the pattern is not cleaned", r)
	}
}
