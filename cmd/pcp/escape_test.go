package main

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pcp-p2p/pcp/engine"
)

func TestEscape(t *testing.T) {
	cases := map[string]string{
		"":                      "",
		"photos/IMG_0001.jpg":   "photos/IMG_0001.jpg",
		"naïve café/日本語.txt":    "naïve café/日本語.txt",
		"a\x1b[2Jb":             `a\x1b[2Jb`,
		"tab\there":             `tab\x09here`,
		"line\nbreak\r":         `line\x0abreak\x0d`,
		"del\x7f":               `del\x7f`,
		"nul\x00":               `nul\x00`,
		"c1\u009b31m":           `c1\x9b31m`, // the one-rune CSI
		"evil\u202etxt.exe":     `evil\u202etxt.exe`,
		"\u2066isolate\u2069":   `\u2066isolate\u2069`,
		"mark\u200f":            `mark\u200f`,
		"bad\xffutf8\xc3":       `bad\xffutf8\xc3`,
		"overlong\xc0\xaf":      `overlong\xc0\xaf`,
		`back\slash \x1b stays`: `back\slash \x1b stays`,
		"zero\u200bwidth stays": "zero\u200bwidth stays",
	}
	for in, want := range cases {
		got := escape(in)
		if got != want {
			t.Errorf("escape(%q) = %q, want %q", in, got, want)
		}
		if !utf8.ValidString(got) || strings.ContainsFunc(got, func(r rune) bool { return r < 0x20 || (r >= 0x7f && r <= 0x9f) || isBidi(r) }) {
			t.Errorf("escape(%q) = %q still holds a control character or invalid UTF-8", in, got)
		}
	}
}

// hasControl reports raw bytes that drive a terminal: C0 except newline,
// DEL, and C1 (as UTF-8 or as single bytes), or a bidi override.
func hasControl(b []byte) bool {
	for _, c := range b {
		if (c < 0x20 && c != '\n') || c == 0x7f {
			return true
		}
	}
	return bytes.ContainsRune(b, 0x9b) || bytes.ContainsRune(b, 0x202e) || !utf8.Valid(b)
}

// TestOfferEscapesPeerText renders an offer whose names came from a hostile
// sender: ESC sequences that clear the screen and draw a fake offer, a bidi
// override, invalid UTF-8. No raw control byte may reach the terminal.
func TestOfferEscapesPeerText(t *testing.T) {
	evil := "x\x1b[2J\x1b[HOffer from trusted:\n    notes.txt\r\x1b[1A"
	o := engine.Offer{
		Root: "ab12", TopLevel: []string{evil, "gpj.\u202eexe", "bad\xff"}, TopLevelCount: 3, Files: 3,
		TotalBytes: 10, Conflicts: []string{evil}, ConflictCount: 1, Peer: "12D3KooWabcdefghijklmnop", Path: "direct",
	}
	for _, mode := range []outMode{modePlain, modeTTY, modeJSON} {
		var out, errw bytes.Buffer
		u := newUI(mode, &out, &errw, "receive")
		u.offer(o, "/dest")
		all := append(out.Bytes(), errw.Bytes()...)
		if hasControl(all) {
			t.Errorf("mode %d: raw control bytes reach the terminal:\n%q", mode, all)
		}
		if mode != modeJSON && !strings.Contains(string(all), `x\x1b[2J\x1b[HOffer from trusted:\x0a`) {
			t.Errorf("mode %d: the name is not shown escaped:\n%s", mode, all)
		}
	}
}

// TestPeerErrorTextIsEscaped: an error holding the peer's text (an Error
// frame's message, a changed file's name) prints escaped on stderr, and a
// progress line's current file is escaped too.
func TestPeerErrorTextIsEscaped(t *testing.T) {
	var out, errw bytes.Buffer
	u := newUI(modePlain, &out, &errw, "receive")
	u.fail(message(fmt.Errorf("peer: \x1b]0;owned\x07 \x1b[31mred")), exitOther)
	if hasControl(errw.Bytes()) || !strings.Contains(errw.String(), `\x1b]0;owned\x07`) {
		t.Errorf("error line not escaped: %q", errw.String())
	}

	var tout, terr bytes.Buffer
	u = newUI(modeTTY, &tout, &terr, "receive")
	u.now = fakeClock(time.Second)
	u.event(engine.ProgressEvent{Bytes: 5, TotalBytes: 10, Files: 0, FilesTotal: 1, Current: "f\x1b[2J", Path: "direct", Streams: 1})
	if bytes.Contains(terr.Bytes(), []byte("\x1b[2J")) {
		t.Errorf("progress shows the raw current file: %q", terr.String())
	}
}

// TestSourceChangedMessages: the receiver names the sender's changed file,
// escaped, with a resumable exit code; the sender says it was not sent.
func TestSourceChangedMessages(t *testing.T) {
	err := reworded{fmt.Sprintf("the sender's copy of %s changed during the transfer", "a\x1bb"), engine.ErrSourceChanged}
	if c := exitCode(err, false); c != exitInterrupted {
		t.Errorf("receiver exit code %d, want %d (resumable)", c, exitInterrupted)
	}
	var out, errw bytes.Buffer
	u := newUI(modePlain, &out, &errw, "receive")
	u.fail(message(err), exitCode(err, false))
	if want := `pcp: the sender's copy of a\x1bb changed during the transfer`; !strings.Contains(errw.String(), want) {
		t.Errorf("stderr = %q, want %q", errw.String(), want)
	}
	se := &engine.SourceChangedError{Path: "dir/f.bin"}
	if c := exitCode(se, false); c != exitInterrupted || !errors.Is(se, engine.ErrSourceChanged) {
		t.Errorf("sender exit code %d, want %d", c, exitInterrupted)
	}
	out.Reset()
	u = newUI(modePlain, &out, &errw, "send")
	u.event(engine.SourceChangedEvent{Path: "dir/f.bin"})
	u.event(engine.SourceChangedEvent{Path: "dir/f.bin"})
	if got := out.String(); got != "dir/f.bin changed on disk since it was hashed; it was not sent.\n" {
		t.Errorf("sender shows %q", got)
	}
}
