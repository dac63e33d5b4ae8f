package main

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// escape makes text a peer controls safe to print on a terminal: file names
// in offers, conflicts and verify output, remote error text, the file in
// progress. A name holding ESC sequences could otherwise clear the screen
// or draw a fake offer above "Accept? [y/N]", and bidi overrides could make
// "exe.txt" read as "txt.exe". Control characters (C0, DEL, C1) become
// \xNN, bidi controls \uNNNN and each invalid UTF-8 byte \xNN; a backslash
// stays as it is (the escapes are for reading, not for decoding), and all
// other text is unchanged. JSON output needs none of this: encoding/json
// escapes control characters and replaces invalid UTF-8.
func escape(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f):
			fmt.Fprintf(&b, `\x%02x`, r)
		case isBidi(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return true
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n <= 1) || r <= 0x9f || isBidi(r) {
			return true
		}
		i += n
	}
	return false
}

// isBidi reports the bidirectional formatting characters that reorder
// what follows them: LRE..RLO (U+202A-202E), LRI..PDI (U+2066-2069), and
// the marks LRM, RLM (U+200E-200F) and ALM (U+061C).
func isBidi(r rune) bool {
	return (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0x200e || r == 0x200f || r == 0x061c
}

// escapeAll escapes each of names.
func escapeAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = escape(n)
	}
	return out
}

// jsonEscapeBidi rewrites bidi controls in encoded JSON as \uNNNN escapes,
// which decode to the same text: encoding/json escapes control characters
// but leaves these raw, and JSON lines are read on terminals too.
func jsonEscapeBidi(b []byte) []byte {
	if !bytes.ContainsFunc(b, isBidi) {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if isBidi(r) {
			out = fmt.Appendf(out, `\u%04x`, r)
		} else {
			out = append(out, b[:n]...)
		}
		b = b[n:]
	}
	return out
}
