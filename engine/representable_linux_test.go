package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pcp-p2p/pcp/manifest"
)

// TestDestRulesProbe probes a real (case-sensitive, Linux) directory: the
// family's rules stand, a macOS or Windows default of case-insensitivity
// gives way to what the probe found, and the probe leaves nothing behind.
func TestDestRulesProbe(t *testing.T) {
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	p := probeDest(root, true)
	if !p.caseKnown || p.caseInsensitive || p.colonRefused {
		t.Fatalf("probe of %s: %+v, want case-sensitive and ':' allowed", dir, p)
	}
	r := destRules(root, manifest.RulesDarwin)
	if r.CaseInsensitive || !r.NormInsensitive || r.ForbiddenChars {
		t.Errorf("macOS rules on a case-sensitive directory: %+v", r)
	}
	if want := len(dir) + 1; r.BaseLen != want {
		t.Errorf("BaseLen %d, want %d", r.BaseLen, want)
	}
	if r := destRules(root, manifest.RulesWindows); r.CaseInsensitive || !r.ForbiddenChars || !r.Reserved {
		t.Errorf("Windows rules on a case-sensitive directory: %+v", r)
	}
	if names, _ := os.ReadDir(dir); len(names) != 0 {
		t.Errorf("the probe left %v", names)
	}
}

// TestDestRulesReadOnly: a destination the probe cannot write keeps the
// family's defaults.
func TestDestRulesReadOnly(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes to read-only directories")
	}
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o755)
	if r := destRules(root, manifest.RulesDarwin); !r.CaseInsensitive {
		t.Errorf("read-only: %+v, want the macOS default (case-insensitive)", r)
	}
}

// TestReceiveRefusesTooLongPath sends a tree whose deepest paths fit on the
// sender but not below the receiver's deep destination (Linux: 4095 bytes
// with the destination): the receiver refuses the offer before it writes
// anything, and names the entries.
func TestReceiveRefusesTooLongPath(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "s")
	seg := strings.Repeat("d", 200)
	deep := filepath.Join(src, seg, seg, seg, seg, seg)
	writeFile(t, filepath.Join(deep, "f.txt"), []byte("deep"))
	writeFile(t, filepath.Join(src, "short.txt"), []byte("short"))
	// With the destination and a separator, "s" and four levels take up to
	// 4095 bytes; the fifth level (1006 bytes) does not fit: the
	// destination's length is within [4095-1006, 4095-1-805].
	dest := filepath.Join(dir, "out")
	for len(dest) < 4095-1006 {
		dest = filepath.Join(dest, strings.Repeat("o", 200))
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pass := testPass(t)
	declined := make(chan DeclinedEvent, 1)
	sctx, stop := context.WithCancel(ctx)
	addrs, res := startSender(t, sctx, SendOptions{Paths: []string{src}, Passphrase: pass, Events: func(e Event) {
		if d, ok := e.(DeclinedEvent); ok {
			declined <- d
		}
	}})
	_, err := Receive(ctx, recvOpts(pass, dest, addrs))
	// The sender is told (a Decline), not left waiting, and keeps offering.
	select {
	case <-declined:
	case sr := <-res:
		t.Errorf("sender ended with %v; want it told of the decline and still offering", sr.err)
	case <-ctx.Done():
		t.Error("the sender was not told of the refusal")
	}
	stop()
	<-res
	var re *RefusedError
	if !errors.As(err, &re) || !errors.Is(err, ErrUnrepresentable) {
		t.Fatalf("Receive: %v, want a RefusedError", err)
	}
	p5 := "s/" + strings.Repeat(seg+"/", 5)
	want := []Refusal{
		{Path: strings.TrimSuffix(p5, "/"), Reason: manifest.ReasonPathTooLong},
		{Path: p5 + "f.txt", Reason: manifest.ReasonPathTooLong},
	}
	if !slices.Equal(re.Offer.Refused, want) || re.Offer.RefusedCount != 2 {
		t.Errorf("refused %d: %v, want %v", re.Offer.RefusedCount, re.Offer.Refused, want)
	}
	if o := re.Offer; o.Files != 2 || o.Dirs != 6 || o.TopLevelCount != 1 || !slices.Equal(o.TopLevel, []string{"s"}) || o.TotalBytes != 9 {
		t.Errorf("offer totals: %+v", o)
	}
	if names, _ := os.ReadDir(dest); len(names) != 0 {
		t.Errorf("the destination holds %v after a refusal", names)
	}
}
