package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/pcp-p2p/pcp/engine"
)

func main() {
	// The engine's buffers are bounded; the soft limit keeps the garbage
	// collector from letting the heap double past them. GOMEMLIMIT, when
	// set, wins (the runtime has already applied it).
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(engine.MemoryLimit)
	}
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// app holds the global flags and the process's streams.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer

	verbose     bool
	jsonOut     bool
	stateDir    string
	showVersion bool // --version

	ui  *ui            // set by the running command; nil before
	cmd *cobra.Command // the command being run (for rerunCommand)
	// reported is set when the command already printed its failure.
	reported bool
}

// run executes pcp with args and returns the exit code. Ctrl-C (SIGINT) or
// SIGTERM cancels the command's context; a second Ctrl-C kills at once.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	context.AfterFunc(ctx, stop) // restore default handling: a second Ctrl-C is fatal
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr}
	root := a.rootCmd()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return a.finish(ctx, err)
}

// finish turns the command's error into one message and an exit code.
func (a *app) finish(ctx context.Context, err error) int {
	if err == nil {
		return exitOK
	}
	if strings.HasPrefix(err.Error(), "unknown command") || strings.HasPrefix(err.Error(), "unknown flag") {
		err = usageError{err}
	}
	interrupted := ctx.Err() != nil
	code := exitCode(err, interrupted)
	if a.reported {
		return code
	}
	msg := message(err)
	if interrupted && code == exitInterrupted {
		msg = "interrupted"
	}
	u := a.ui
	if u == nil {
		u = newUI(pickMode(a.jsonOut, a.stdout, a.stderr), a.stdout, a.stderr, "")
	}
	if a.verbose && msg != err.Error() {
		a.logger().Debug("error in full", "err", err.Error())
	}
	if adv := advice(err); adv != "" && !u.advised() {
		u.advise(adv)
	}
	u.fail(msg, code)
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(a.stderr, "Run 'pcp --help' or 'pcp COMMAND --help' for usage.")
	}
	return code
}

// logger returns the debug logger (-v) or nil (discard).
func (a *app) logger() *slog.Logger {
	if !a.verbose {
		return nil
	}
	return slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (a *app) newUI(role string) *ui {
	a.ui = newUI(pickMode(a.jsonOut, a.stdout, a.stderr), a.stdout, a.stderr, role)
	return a.ui
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "pcp",
		Short: "Peer-to-peer file transfer: send files and folders to another computer with a passphrase",
		Long: `pcp copies files and directories between two computers, peer to peer.

The sender gets a short passphrase and tells it to the receiver. Peers find each
other on the local network (mDNS) or through the DHT, authenticate with the
passphrase (PAKE: a wrong guess teaches an attacker nothing), and transfer over an
encrypted libp2p connection. Every chunk is verified with BLAKE3 before it is
written, and an interrupted transfer resumes where it stopped.`,
		Example: `  # on the sending computer
  pcp send ~/photos notes.txt
  # on the receiving computer, with the words the sender printed
  pcp receive -o ~/Downloads lemon-orbit-tiger-salad`,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          unknownCommand,
		RunE: func(cmd *cobra.Command, args []string) error {
			if a.showVersion {
				return a.printVersion()
			}
			return usageError{errors.New("a command is needed: send, receive, node, verify, status or version")}
		},
	}
	root.PersistentPreRun = func(cmd *cobra.Command, _ []string) { a.cmd = cmd }
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SuggestionsMinimumDistance = 2
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.Flags().BoolVar(&a.showVersion, "version", false, "print pcp's version (as 'pcp version')")
	pf := root.PersistentFlags()
	pf.BoolVarP(&a.verbose, "verbose", "v", false, "debug logs on stderr")
	pf.BoolVar(&a.jsonOut, "json", false, "write one JSON event per line on stdout (see README)")
	pf.StringVar(&a.stateDir, "state-dir", "", "where the resume log, hash cache and node key live\n(default $PCP_STATE_DIR, $XDG_STATE_HOME/pcp or ~/.local/state/pcp)")
	root.AddCommand(a.sendCmd(), a.receiveCmd(), a.nodeCmd(), a.verifyCmd(), a.statusCmd(), a.versionCmd())
	return root
}

func (a *app) state() string {
	if a.stateDir != "" {
		return a.stateDir
	}
	return engine.DefaultStateDir()
}

func (a *app) statePath(file string) string {
	return filepath.Join(a.state(), file)
}

// unknownCommand refuses arguments to pcp itself, suggesting the command
// meant: "pcp sned" answers "did you mean send?".
func unknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q", args[0])
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf(": did you mean %s?", strings.Join(s, " or "))
	}
	return usageError{errors.New(msg)}
}

// advice is the line of advice shown after the error line, when the
// command gave none of its own.
func advice(err error) string {
	switch {
	case errors.Is(err, engine.ErrPeerNotFound):
		return notFoundAdvice
	}
	return ""
}

// usageArgs wraps a cobra.PositionalArgs so its errors are usage errors.
func usageArgs(f cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := f(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}
