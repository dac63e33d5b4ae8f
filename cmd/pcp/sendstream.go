package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/pcp-p2p/pcp/engine"
)

// streamFlags are send's flags for standard input (pcp send -): --name,
// --no-spool, --spool-max.
type streamFlags struct {
	name     string
	noSpool  bool
	spoolMax string

	on  bool  // the one path is "-" (set by check)
	max int64 // --spool-max parsed
}

func (s *streamFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&s.name, "name", "", "with '-': the file name a receiver writes standard input to (default \""+engine.DefaultStreamName+"\")")
	fs.BoolVar(&s.noSpool, "no-spool", false, "with '-': keep no copy of standard input on disk (a receiver that drops cannot resume)")
	fs.StringVar(&s.spoolMax, "spool-max", "", "with '-': bound the copy of standard input kept in the state directory,\ne.g. 500M or 20G (1024-based; default: the free space there less 64 MiB)")
}

// check decides whether paths are standard input ("-" alone) and checks the
// stream flags against it; in is the process's standard input.
func (s *streamFlags) check(paths []string, f *sendFlags, in io.Reader) error {
	dash := false
	for _, p := range paths {
		dash = dash || p == "-"
	}
	streamOnly := s.name != "" || s.noSpool || s.spoolMax != ""
	switch {
	case dash && len(paths) > 1:
		return usageError{errors.New("'-' sends standard input alone: give no other paths with it")}
	case dash && f.text != "":
		return usageError{errors.New("--text sends a message, '-' standard input: give one of them")}
	case dash && (len(f.extra.exclude) > 0 || len(f.extra.excludeFrom) > 0 || f.manifestOut != ""):
		return usageError{errors.New("--exclude, --exclude-from and --manifest-out are for files, not for '-'")}
	case !dash && streamOnly:
		return usageError{errors.New("--name, --no-spool and --spool-max are for standard input: pcp send - ...")}
	case s.noSpool && s.spoolMax != "":
		return usageError{errors.New("--no-spool keeps no spool: give no --spool-max with it")}
	case !dash:
		return nil
	}
	if fd, ok := in.(interface{ Fd() uintptr }); ok && term.IsTerminal(int(fd.Fd())) {
		return usageError{errors.New("'-' sends standard input, which is a terminal here: pipe something in, e.g. tar c dir | pcp send -")}
	}
	if s.name != "" {
		if err := engine.CheckStreamName(s.name); err != nil {
			return usageError{fmt.Errorf("--name %q: %w", s.name, err)}
		}
	}
	if strings.TrimSpace(s.spoolMax) != "" {
		n, err := parseRate(s.spoolMax)
		if err != nil {
			return usageError{fmt.Errorf("--spool-max %q: want a positive size, e.g. 500M or 20G", s.spoolMax)}
		}
		s.max = n
	}
	s.on = true
	return nil
}

// apply offers in instead of paths, spooled in the state directory (the
// directory of statePath, a file there), even with --no-hash-cache.
func (s *streamFlags) apply(opts *engine.SendOptions, in io.Reader, statePath string) {
	if !s.on {
		return
	}
	if in == nil {
		in = os.Stdin
	}
	opts.Paths, opts.Stdin, opts.HashCachePath = nil, in, statePath
	opts.StreamName, opts.NoSpool, opts.SpoolMax = s.name, s.noSpool, s.max
}
