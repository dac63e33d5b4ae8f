package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pcp-p2p/pcp/engine"
)

// pcp send --text: a short message instead of files. The engine carries it
// as one small file marked as text; the receiver prints it and writes
// nothing at its destination (engine/text.go).

// checkSendWhat checks what send offers, before the words are shown:
// paths, or a message with none of the flags that are about files.
func checkSendWhat(paths []string, f *sendFlags) error {
	if f.text == "" {
		if len(paths) == 0 {
			return usageError{errors.New("nothing to send: give one or more paths, or --text")}
		}
		if err := engine.CheckPaths(paths); err != nil {
			return usageError{err}
		}
		return nil
	}
	switch {
	case len(paths) > 0:
		return usageError{errors.New("--text sends a message instead of files: give no paths with it")}
	case len(f.extra.exclude) > 0 || len(f.extra.excludeFrom) > 0 || f.manifestOut != "":
		return usageError{errors.New("--exclude, --exclude-from and --manifest-out are for files, not --text")}
	}
	if err := engine.CheckText(f.text); err != nil {
		return usageError{err}
	}
	return nil
}

// showText prints a received message: on stdout, each line escaped
// (the sender's bytes must not drive the terminal), line breaks and tabs
// kept. With --json it is a "text" event.
func (u *ui) showText(text string) {
	u.text = true
	u.jsonLocked("text", map[string]any{"text": text, "bytes": len(text)})
	if u.mode == modeJSON {
		return
	}
	u.clearBars()
	u.finishBars(true)
	fmt.Fprint(u.out, escapeText(text))
	if !strings.HasSuffix(text, "\n") {
		fmt.Fprintln(u.out)
	}
}

// escapeText is escape for multi-line text: line feeds and tabs stay,
// everything else escape changes is changed (a carriage return too, as it
// could overwrite a line).
func escapeText(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		parts := strings.Split(l, "\t")
		for j, p := range parts {
			parts[j] = escape(p)
		}
		lines[i] = strings.Join(parts, "\t")
	}
	return strings.Join(lines, "\n")
}
