package main

import (
	"regexp"
	"strings"
)

// Error text for people. Errors from the OS and from libp2p name system
// calls and internal directories; the user needs what failed and where.
// The full text is still logged with -v.
var (
	// "lstat /a/b: permission denied" -> "/a/b: permission denied".
	syscallOp = regexp.MustCompile(`(^|: )(?:l?stat|statat|fstatat|mkdir|mkdirat|open|openat|unlinkat|renameat|rename|readlinkat|readlink|chmod|fchmodat|utimensat|remove|read|write|lchown|symlinkat|linkat|getdents|fsync|truncate|ftruncate) (/|[A-Za-z]:\\|\.)`)
	// The receiver's staging directory: ".pcp-partial-0123456789abcdef/".
	stagingDir = regexp.MustCompile(`\.pcp-partial-[0-9a-f]+[/\\]?`)
)

// humanError turns an error's text into one line without internal names.
func humanError(s string) string {
	// libp2p dial errors list every address tried, one per line.
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	if i := strings.Index(s, "failed to dial"); i >= 0 {
		s = s[:i] + "could not connect to the peer (-v shows each address tried)"
	}
	s = syscallOp.ReplaceAllString(s, "$1$2")
	s = stagingDir.ReplaceAllString(s, "")
	s = dedupePrefixes(s)
	return s
}

// dedupePrefixes removes a "label: " repeated at once, as in "transfer
// interrupted: transfer interrupted: stream reset".
func dedupePrefixes(s string) string {
	parts := strings.Split(s, ": ")
	out := parts[:0]
	for i, p := range parts {
		if i > 0 && p == parts[i-1] {
			continue
		}
		out = append(out, p)
	}
	return strings.Join(out, ": ")
}
