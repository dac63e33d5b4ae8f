package manifest

import "strconv"

// Reason says why a file system cannot hold an entry.
type Reason uint8

const (
	ReasonNone          Reason = iota
	ReasonNotUTF8              // the path is not valid UTF-8
	ReasonReserved             // a component is a Windows device name
	ReasonTrailing             // a component ends with a dot or a space
	ReasonColon                // a component holds ':'
	ReasonChar                 // a component holds one of <>"|?*\
	ReasonControl              // a component holds a control character (0x01-0x1F)
	ReasonNameTooLong          // a component is longer than NameMax
	ReasonPathTooLong          // the path (with BaseLen) is longer than PathMax
	ReasonCaseCollision        // it differs from Problem.Other only in case
	ReasonNormCollision        // it differs from Problem.Other only in Unicode normalization
)

var reasonText = [...]string{
	ReasonNone:          "ok",
	ReasonNotUTF8:       "not valid UTF-8",
	ReasonReserved:      "a reserved device name on Windows",
	ReasonTrailing:      "ends with a dot or a space",
	ReasonColon:         "contains ':' (an alternate data stream on NTFS)",
	ReasonChar:          `contains one of < > " | ? * \`,
	ReasonControl:       "contains a control character",
	ReasonNameTooLong:   "a name too long (over 255 bytes, or UTF-16 units on Windows and FAT)",
	ReasonPathTooLong:   "the path is too long for the file system",
	ReasonCaseCollision: "differs only in case from",
	ReasonNormCollision: "differs only in Unicode normalization from",
}

var reasonKeys = [...]string{
	ReasonNone:          "none",
	ReasonNotUTF8:       "not_utf8",
	ReasonReserved:      "reserved_name",
	ReasonTrailing:      "trailing_dot_or_space",
	ReasonColon:         "colon",
	ReasonChar:          "forbidden_char",
	ReasonControl:       "control_char",
	ReasonNameTooLong:   "name_too_long",
	ReasonPathTooLong:   "path_too_long",
	ReasonCaseCollision: "case_collision",
	ReasonNormCollision: "normalization_collision",
}

// Key is a stable identifier of the reason, for machine-readable output.
func (r Reason) Key() string {
	if int(r) < len(reasonKeys) {
		return reasonKeys[r]
	}
	return "reason_" + strconv.Itoa(int(r))
}

// String says the reason in words. For a collision it ends with "from",
// to be followed by the other path.
func (r Reason) String() string {
	if int(r) < len(reasonText) {
		return reasonText[r]
	}
	return "reason(" + strconv.Itoa(int(r)) + ")"
}

// Collision reports whether r is about two entries.
func (r Reason) Collision() bool { return r == ReasonCaseCollision || r == ReasonNormCollision }

// Problem is one entry that the file systems in Systems cannot hold.
// Path and Other are the manifest's bytes, as the peer sent them: escape
// them before showing them on a terminal (String quotes them).
type Problem struct {
	Index   int    // the entry's index in the manifest
	Path    string // the entry's path
	Reason  Reason
	Other   string // for a collision: the earlier entry it would become
	Systems System
}

// String is the problem in one line, with the paths quoted (safe to log).
func (p Problem) String() string {
	s := strconv.Quote(p.Path) + ": " + p.Reason.String()
	if p.Reason.Collision() {
		s += " " + strconv.Quote(p.Other)
	}
	return s + " (" + p.Systems.String() + ")"
}
