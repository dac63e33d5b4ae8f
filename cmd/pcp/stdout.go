package main

import (
	"errors"
	"fmt"
	"io"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/pcp-p2p/pcp/engine"
)

// pcp receive --stdout: the offer's one file goes to standard output,
// verified bytes only, in order (engine/stdout.go). Standard output then
// carries nothing else: messages, the offer, progress and --json events
// go to standard error.

const stdoutHelp = `

Receive to standard output: --stdout writes the offer's one file to standard
output, only verified bytes, in order, from byte 0. Everything else (the offer,
progress, messages, and --json events) goes to standard error; the question
needs a terminal on stdin and stderr, --yes skips it. An offer of several files
or of a directory is declined (exit 7; the sender keeps offering): receive it
with -o DIR. A text offer (send --text) is written to standard output as sent.

The file is received into the state directory first, which needs room for all
of it (checked before data moves); it is removed once the receive succeeds.
If the receive is interrupted it is kept: running the same command again
writes the whole file to the new output again from byte 0, but fetches over
the network only what was not verified before. If the reader of the output
goes away (a closed pipe, as with '| head'), pcp stops with exit 9.
--stdout takes no -o, --only, --skip, --overwrite or --skip-existing.`

const stdoutExamples = `
  pcp receive --stdout lemon-orbit-tiger-salad | sha256sum
  pcp receive --stdout --yes lemon-orbit-tiger-salad > backup.tar`

// stdoutExcludes are the flags --stdout takes none of.
var stdoutExcludes = []string{"output", "only", "skip", "overwrite", "skip-existing"}

// registerStdout adds --stdout to the receive command, and its help.
func registerStdout(cmd *cobra.Command, on *bool) {
	cmd.Flags().BoolVar(on, "stdout", false, "write the offer's one file to standard output (human output and --json go to stderr; see below)")
	cmd.Long += stdoutHelp
	cmd.Example += stdoutExamples
}

// stdoutData prepares a receive to standard output: it checks the flags,
// moves every message to stderr and returns the writer for the data (nil
// without --stdout). A closed pipe then fails the write (EPIPE) instead
// of killing the process, so that pcp can say so.
func (a *app) stdoutData(cmd *cobra.Command, on bool) (io.Writer, error) {
	if !on {
		return nil, nil
	}
	for _, name := range stdoutExcludes {
		if cmd.Flags().Changed(name) {
			return nil, usageError{fmt.Errorf("--stdout writes the offer's one file to standard output: it takes no --%s", name)}
		}
	}
	signal.Ignore(syscall.SIGPIPE)
	data := a.stdout
	a.stdout = a.stderr
	return data, nil
}

// stdoutText writes a text offer received with --stdout as sent.
func stdoutText(data io.Writer, e engine.Event) bool {
	te, ok := e.(engine.TextEvent)
	if ok && data != nil {
		_, _ = io.WriteString(data, te.Text)
	}
	return ok && data != nil
}

// stdoutFailure words the failures particular to --stdout; ok is false
// for any other error.
func stdoutFailure(u *ui, err error) (error, bool) {
	var nf *engine.NotOneFileError
	switch {
	case errors.As(err, &nf):
		what := plural(int64(nf.Files), "file")
		if nf.Nested {
			what = "one file in a directory"
		}
		u.advise("Nothing was written. The sender keeps offering.")
		return reworded{fmt.Sprintf("--stdout takes an offer of one file; this offer has %s: receive it with -o DIR", what), err}, true
	case errors.Is(err, engine.ErrOutputClosed):
		u.advise("The output closed before the whole file was written. What was verified is kept in the state\n" +
			"directory: running the same command again writes the file from byte 0, fetching only the rest.")
		return reworded{"standard output was closed before the whole file was written", err}, true
	}
	return nil, false
}
