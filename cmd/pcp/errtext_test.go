package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestHumanError(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"lstat /home/u/photos/a.jpg: permission denied", "/home/u/photos/a.jpg: permission denied"},
		{"destination: mkdirat /dst/.pcp-partial-0123456789abcdef/sub: permission denied", "destination: /dst/sub: permission denied"},
		{"manifest: statat ./x: no such file or directory", "manifest: ./x: no such file or directory"},
		{"transfer interrupted: transfer interrupted: stream reset", "transfer interrupted: stream reset"},
		{"transfer interrupted: failed to dial: failed to dial 12D3KooWx: all dials failed\n  * [/ip4/1.2.3.4/tcp/1] dial tcp: refused\n  * [/ip4/5.6.7.8/tcp/2] timeout",
			"transfer interrupted: could not connect to the peer (-v shows each address tried)"},
		// Words in sentences stay: only an operation before a path goes.
		{"could not read the manifest: unexpected EOF", "could not read the manifest: unexpected EOF"},
	} {
		if got := humanError(c.in); got != c.want {
			t.Errorf("humanError(%q)\n = %q\nwant %q", c.in, got, c.want)
		}
	}
}

func TestDidYouMean(t *testing.T) {
	r := runPCP(t, t.TempDir(), "", "sned")
	if r.code != exitUsage || !strings.Contains(r.stderr, `pcp: unknown command "sned": did you mean send?`) {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	h := runPCP(t, t.TempDir(), "", "--help")
	if !strings.Contains(h.stdout, "completion") {
		t.Errorf("--help does not list shell completion:\n%s", h.stdout)
	}
}

func TestAdviceAfterErrorLine(t *testing.T) {
	var out, errw bytes.Buffer
	u := newUI(modePlain, &out, &errw, "receive")
	u.hint("first advice")
	u.hint("second advice")
	u.fail("transfer interrupted", exitInterrupted)
	if got := errw.String(); got != "pcp: transfer interrupted\nfirst advice\nsecond advice\n" {
		t.Errorf("stderr %q", got)
	}
}

func TestRerunCommand(t *testing.T) {
	a := &app{}
	root := a.rootCmd()
	c, _, err := root.Find([]string{"receive"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ParseFlags([]string{"-o", "/tmp/my dir", "--direct", "/ip4/192.0.2.4/tcp/9000/p2p/12D3KooWx",
		"--streams", "2", "--passphrase", "secret-words-here", "--yes"}); err != nil {
		t.Fatal(err)
	}
	want := "pcp receive --direct /ip4/192.0.2.4/tcp/9000/p2p/12D3KooWx -o '/tmp/my dir' --streams 2 --yes lemon-orbit-tiger-salad"
	if got := rerunCommand(c, "lemon-orbit-tiger-salad"); got != want {
		t.Errorf("rerunCommand\n = %s\nwant %s", got, want)
	}
	if got := rerunCommand(c, ""); strings.Contains(got, "secret") {
		t.Errorf("the --passphrase words were repeated: %s", got)
	}
}
