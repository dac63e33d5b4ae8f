package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pcp-p2p/pcp/auth"
)

// offering is a sender of a two-file tree that reports the receivers that
// declined (or refused) its offer.
type offering struct {
	src      string
	pass     auth.Passphrase
	addrs    []string
	res      <-chan sendResult
	declined chan DeclinedEvent
}

func startOffering(t *testing.T, ctx context.Context, dir string) *offering {
	t.Helper()
	o := &offering{src: filepath.Join(dir, "src"), pass: testPass(t), declined: make(chan DeclinedEvent, 4)}
	writeRandom(t, filepath.Join(o.src, "a.bin"), 300<<10)
	writeFile(t, filepath.Join(o.src, "b.txt"), []byte("hello"))
	o.addrs, o.res = startSender(t, ctx, SendOptions{Paths: []string{o.src}, Passphrase: o.pass, Events: func(e Event) {
		if d, ok := e.(DeclinedEvent); ok {
			o.declined <- d
		}
	}})
	return o
}

// stillOffers asserts that the sender reported a decline, kept offering,
// and served the next receiver (into dir/yes) to the end.
func (o *offering) stillOffers(t *testing.T, ctx context.Context, dir string) {
	t.Helper()
	select {
	case d := <-o.declined:
		if d.Peer == "" {
			t.Error("DeclinedEvent without a peer")
		}
	case sr := <-o.res:
		t.Fatalf("sender ended after a decline: %v", sr.err)
	case <-ctx.Done():
		t.Fatal("no DeclinedEvent")
	}
	yes := filepath.Join(dir, "yes")
	if _, err := Receive(ctx, recvOpts(o.pass, yes, o.addrs)); err != nil {
		t.Fatalf("second Receive: %v", err)
	}
	if sr := <-o.res; sr.err != nil {
		t.Fatalf("sender: %v, want nil after the complete receiver", sr.err)
	}
	assertSameTree(t, o.src, filepath.Join(yes, "src"))
}

// TestSenderSurvivesDecline: a receiver that declines ends only its own
// session; the sender reports it and serves the next receiver to the end.
func TestSenderSurvivesDecline(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	o := startOffering(t, ctx, dir)
	no := recvOpts(o.pass, filepath.Join(dir, "no"), o.addrs)
	no.Confirm = func(Offer) bool { return false }
	if _, err := Receive(ctx, no); !errors.Is(err, ErrDeclined) {
		t.Fatalf("declining Receive: %v, want ErrDeclined", err)
	}
	o.stillOffers(t, ctx, dir)
}

// TestSkipExistingReceivesTheRest: conflicting files are left as they are,
// never requested nor recorded complete; the rest arrives.
func TestSkipExistingReceivesTheRest(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeRandom(t, filepath.Join(src, "a.bin"), 300<<10)
	writeFile(t, filepath.Join(src, "b.txt"), []byte("hello"))
	writeFile(t, filepath.Join(src, "d", "c.txt"), []byte("offered"))
	dest := filepath.Join(dir, "dest")
	mine := []byte("the user's own, different")
	writeFile(t, filepath.Join(dest, "src", "b.txt"), mine)
	// A file where the offer has a directory: its subtree is skipped with it.
	writeFile(t, filepath.Join(dest, "src", "d"), mine)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	for _, how := range []string{"flag", "answer"} {
		pass := testPass(t)
		addrs, res := startSender(t, ctx, SendOptions{Paths: []string{src}, Passphrase: pass})
		ro := recvOpts(pass, dest, addrs)
		ro.ResumeLogPath = filepath.Join(dir, how+".db")
		asked := 0
		if how == "flag" {
			ro.SkipExisting = true
		} else {
			ro.Resolve = func(o Offer) Resolution {
				asked++
				if o.ConflictCount != 2 {
					t.Errorf("offer lists %d conflicts, want 2: %v", o.ConflictCount, o.Conflicts)
				}
				return ResolveSkip
			}
		}
		ro.Confirm = func(Offer) bool {
			if how == "answer" {
				t.Error("Confirm asked after the conflict question was answered")
			}
			return true
		}
		sum, err := Receive(ctx, ro)
		if err != nil {
			t.Fatalf("%s: Receive: %v", how, err)
		}
		if sr := <-res; sr.err != nil {
			t.Fatalf("%s: sender: %v", how, sr.err)
		}
		if how == "answer" && asked != 1 {
			t.Errorf("Resolve asked %d times", asked)
		}
		if sum.SkippedFiles != 2 {
			t.Errorf("%s: SkippedFiles = %d, want 2", how, sum.SkippedFiles)
		}
		for _, f := range []string{"b.txt", "d"} {
			if got, _ := os.ReadFile(filepath.Join(dest, "src", f)); string(got) != string(mine) {
				t.Errorf("%s: %s was replaced: %q", how, f, got)
			}
		}
		if !sameBytes(t, filepath.Join(src, "a.bin"), filepath.Join(dest, "src", "a.bin")) {
			t.Errorf("%s: a.bin not received", how)
		}
		// Verification against the manifest does not vouch for them.
		diffs, err := Verify(ctx, filepath.Join(dest, "src"), VerifyOptions{ResumeLogPath: ro.ResumeLogPath}, nil)
		if err != nil {
			t.Fatalf("%s: Verify: %v", how, err)
		}
		if len(diffs) < 2 {
			t.Errorf("%s: Verify found %d differences, want the skipped files: %v", how, len(diffs), diffs)
		}
		_ = os.Remove(filepath.Join(dest, "src", "a.bin"))
	}
}

// TestConflictAnswers: cancel declines (the sender keeps offering), replace
// replaces, and no Resolve refuses with ErrExists.
func TestConflictAnswers(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeFile(t, filepath.Join(src, "b.txt"), []byte("hello"))
	dest := filepath.Join(dir, "dest")
	writeFile(t, filepath.Join(dest, "src", "b.txt"), []byte("mine"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pass := testPass(t)
	addrs, res := startSender(t, ctx, SendOptions{Paths: []string{src}, Passphrase: pass})

	ro := recvOpts(pass, dest, addrs)
	if _, err := Receive(ctx, ro); !errors.Is(err, ErrExists) {
		t.Fatalf("without Resolve: %v, want ErrExists", err)
	}
	ro.Resolve = func(Offer) Resolution { return ResolveCancel }
	if _, err := Receive(ctx, ro); !errors.Is(err, ErrDeclined) {
		t.Fatalf("cancel: %v, want ErrDeclined", err)
	}
	if got, _ := os.ReadFile(filepath.Join(dest, "src", "b.txt")); string(got) != "mine" {
		t.Fatalf("written after cancel: %q", got)
	}
	ro.Resolve = func(Offer) Resolution { return ResolveReplace }
	if _, err := Receive(ctx, ro); err != nil {
		t.Fatalf("replace: %v", err)
	}
	if sr := <-res; sr.err != nil {
		t.Fatalf("sender: %v", sr.err)
	}
	assertSameTree(t, src, filepath.Join(dest, "src"))
}
