package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pcp-p2p/pcp/auth"
	"github.com/pcp-p2p/pcp/engine"
)

type recvFlags struct {
	out        string
	yes        bool
	overwrite  bool
	skip       bool
	reverify   bool
	stdout     bool // stdout.go
	streams    int
	patience   time.Duration
	seed       time.Duration
	noSeed     bool
	passphrase string
	net        netFlags
	limit      rateFlag        // ratelimit.go
	sel        selectFlags     // select.go
	stream     recvStreamFlags // recvstream.go
}

func (a *app) receiveCmd() *cobra.Command {
	var f recvFlags
	cmd := &cobra.Command{
		Use:     "receive [WORDS]",
		Aliases: []string{"recv"},
		Short:   "Receive what a sender offers (asks before any data moves)",
		Long: `Find the sender that printed WORDS, authenticate, show what is offered and ask
y/N before any data moves, then fetch what is missing into -o DIR.

Without WORDS, they come from --passphrase, else $PCP_PASSPHRASE, else a prompt.
Files already at the destination and identical are skipped. If an earlier
receive of the same files was interrupted, it resumes from the resume log and
says how much was already verified. When existing files differ from the offer,
pcp asks: replace them, skip them (receive the rest), or cancel; --overwrite
and --skip-existing answer without asking. With --yes and neither, such an
offer is refused (exit 7). Declining never ends the sender's offer.

While it receives, pcp also serves the chunks it has verified to other
receivers of the same words (they authenticate with PAKE, as with the
sender), and fetches from every peer that offers the same files: a sender
serving many receivers sends much of the data once. --seed 10m goes on
serving for ten minutes after the files are in place (default: exit when
done); --no-seed serves nothing.`,
		Example: `  pcp receive lemon-orbit-tiger-salad
  pcp receive -o ~/Downloads lemon-orbit-tiger-salad
  pcp receive                               # prompts for the words
  pcp receive --yes --json lemon-orbit-tiger-salad   # for scripts
  # after Ctrl-C or a lost connection, the same command resumes:
  pcp receive -o ~/Downloads lemon-orbit-tiger-salad
  pcp receive --direct /ip4/192.0.2.4/tcp/9000/p2p/12D3Koo... lemon-orbit-tiger-salad`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.receive(cmd.Context(), args, &f)
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&f.out, "output", "o", ".", "destination directory")
	fs.BoolVarP(&f.yes, "yes", "y", false, "accept the offer without asking")
	fs.BoolVar(&f.overwrite, "overwrite", false, "replace existing files that differ from the offer")
	fs.BoolVar(&f.skip, "skip-existing", false, "leave existing files that differ from the offer as they are and receive the rest")
	fs.BoolVar(&f.reverify, "reverify", false, "re-hash data the resume log says is verified instead of trusting it")
	fs.IntVar(&f.streams, "streams", engine.DefaultStreams, fmt.Sprintf("parallel data streams (1 to %d)", engine.MaxStreams))
	fs.DurationVar(&f.patience, "patience", engine.DefaultPatience, "how long to keep re-dialing a lost sender before stopping (resumable)")
	fs.DurationVar(&f.seed, "seed", 0, "after the files are in place, go on serving them to other receivers of the same words for this long")
	fs.BoolVar(&f.noSeed, "no-seed", false, "serve nothing to other receivers, while receiving or after")
	fs.StringVar(&f.passphrase, "passphrase", "", "the sender's words (prefer the argument or $"+auth.EnvPassphrase+")")
	f.net.register(fs, true)
	f.limit.register(fs)
	f.sel.register(cmd)
	registerStdout(cmd, &f.stdout)
	f.stream.register(fs)
	cmd.Long += streamHelp
	return cmd
}

// receiveWords picks the passphrase text: arguments, flag, environment.
// "" means: prompt.
func receiveWords(args []string, flag string, getenv func(string) string) string {
	if s := strings.TrimSpace(strings.Join(args, " ")); s != "" {
		return s
	}
	if s := strings.TrimSpace(flag); s != "" {
		return s
	}
	return strings.TrimSpace(getenv(auth.EnvPassphrase))
}

func (a *app) receive(ctx context.Context, args []string, f *recvFlags) error {
	netOpts, err := f.net.options(os.Getenv)
	if err != nil {
		return err
	}
	if f.streams < 1 || f.streams > engine.MaxStreams {
		// A sender refuses streams past MaxStreams per receiver.
		return usageError{fmt.Errorf("--streams must be 1 to %d", engine.MaxStreams)}
	}
	if f.patience < 0 {
		return usageError{errors.New("--patience must not be negative")}
	}
	bps, err := f.limit.bytesPerSecond()
	if err != nil {
		return err
	}
	if f.seed < 0 {
		return usageError{errors.New("--seed must not be negative")}
	}
	if f.seed > 0 && (f.noSeed || f.stdout) {
		return usageError{errors.New("--seed serves the received files: not with --no-seed or --stdout")}
	}
	if f.overwrite && f.skip {
		return usageError{errors.New("--overwrite and --skip-existing exclude each other")}
	}
	sel, err := f.sel.selection()
	if err != nil {
		return err
	}
	maxStream, err := f.stream.bytes()
	if err != nil {
		return err
	}
	var sv streamView
	data, err := a.stdoutData(a.cmd, f.stdout)
	if err != nil {
		return err
	}
	u := a.newUI("receive")
	u.setRateLimit(bps)
	pr := newPrompter(a.stdin, a.stderr)
	if f.sel.pick && f.stdout {
		return usageError{errors.New("--pick chooses among files to write to a directory: not with --stdout")}
	}
	if f.sel.pick && !pr.interactive() {
		return usageError{errors.New("--pick asks on the terminal, and standard input is not one: choose with --only/--skip")}
	}
	words := receiveWords(args, f.passphrase, os.Getenv)
	if words == "" {
		if words, err = pr.secret(ctx, "Passphrase (the words the sender shows): "); err != nil {
			if errors.Is(err, errNoAnswer) {
				return usageError{errors.New("no passphrase given")}
			}
			return err
		}
	}
	pass, err := auth.Parse(words)
	if err != nil {
		return usageError{err}
	}
	dest, err := filepath.Abs(f.out)
	if err != nil {
		return usageError{err}
	}
	// The destination is checked before searching, naming it as given.
	if data != nil {
		dest = "standard output" // the engine receives into the state directory
	} else if err := engine.CheckDestination(f.out); err != nil {
		return err
	}
	if len(netOpts.Direct) == 0 && !netOpts.NoDiscovery {
		u.say("Looking for the sender…")
	}
	var noAnswer, atPrompt, refusedConflicts bool
	var conflictCount int
	mode := conflictAsk
	switch {
	case f.overwrite:
		mode = conflictReplace
	case f.skip:
		mode = conflictSkip
	case f.yes:
		mode = conflictRefuse
	}
	confirm := func(o engine.Offer) bool {
		if o.Stream == nil { // a stream's offer line was shown (recvstream.go)
			u.offerAs(o, dest, mode)
		}
		conflictCount = o.ConflictCount
		if f.yes {
			return true
		}
		atPrompt = true
		ok, err := pr.yesNo(ctx, "Accept?")
		atPrompt = ctx.Err() != nil
		if errors.Is(err, errNoAnswer) {
			noAnswer = true
		}
		return ok
	}
	var pick func(context.Context, []engine.TopEntry) (engine.Selection, error)
	if f.sel.pick {
		pick = func(ctx context.Context, top []engine.TopEntry) (engine.Selection, error) {
			atPrompt = true
			names, err := pr.pick(ctx, top)
			atPrompt = ctx.Err() != nil
			if errors.Is(err, errNoAnswer) {
				noAnswer = true
			}
			if err != nil {
				return engine.Selection{}, fmt.Errorf("%w at the prompt: %w", engine.ErrDeclined, err)
			}
			return engine.PickSelection(top, names)
		}
	}
	resolve := func(o engine.Offer) engine.Resolution {
		u.offerAs(o, dest, mode)
		conflictCount = o.ConflictCount
		if f.yes {
			// --yes accepts an offer, but never replaces anyone's files.
			refusedConflicts = true
			return engine.ResolveCancel
		}
		atPrompt = true
		r, err := pr.conflict(ctx, o.ConflictCount)
		atPrompt = ctx.Err() != nil
		if errors.Is(err, errNoAnswer) {
			noAnswer = true
		}
		return r
	}
	events := func(e engine.Event) {
		if rn, ok := e.(engine.RenewedEvent); ok {
			u.json("renewed", map[string]any{"peer": rn.Peer})
			u.say("The sender restarted with the same files; authenticated again, continuing.")
			return
		}
		if stdoutText(data, e) || sv.event(u, e) {
			return
		}
		u.event(e)
		sv.done(u, e)
		if _, ok := e.(engine.DoneEvent); ok && f.seed > 0 {
			u.json("seeding", map[string]any{"seconds": f.seed.Seconds()})
			u.say("Serving the files to other receivers of the same words for %v (Ctrl-C stops).", f.seed)
		}
		if d, ok := e.(engine.DoneEvent); ok && d.Summary.SkippedFiles > 0 {
			u.json("skipped_existing", map[string]any{"files": d.Summary.SkippedFiles})
			n := int64(d.Summary.SkippedFiles)
			u.say("Left %s as %s (%s from the offer; --overwrite replaces %s).", plural(n, "existing file"),
				agree(n, "it was", "they were"), agree(n, "it differs", "they differ"), agree(n, "it", "them"))
		}
	}
	_, err = engine.Receive(ctx, engine.ReceiveOptions{
		Passphrase:    pass,
		Dest:          dest,
		Stdout:        data,
		MaxStream:     maxStream,
		Overwrite:     f.overwrite,
		SkipExisting:  f.skip,
		Resolve:       resolve,
		Confirm:       confirm,
		Streams:       f.streams,
		ResumeLogPath: a.statePath(engine.ResumeLogFile),
		RateLimit:     bps,
		Reverify:      f.reverify,
		Select:        sel,
		Pick:          pick,
		Patience:      f.patience,
		Seed:          f.seed,
		NoSeed:        f.noSeed,
		Network:       netOpts,
		Events:        events,
		Logger:        a.logger(),
	})
	var refused *engine.RefusedError
	if serr, ok := sv.failure(u, err, rerunCommand(a.cmd, argWords(args))); ok {
		return serr
	}
	if serr, ok := stdoutFailure(u, err); ok {
		return serr
	}
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil && atPrompt:
		u.advise("Cancelled at the prompt: nothing was received. The sender keeps offering: run the same command again to receive.")
		return fmt.Errorf("%w at the prompt", engine.ErrDeclined)
	case ctx.Err() != nil || errors.Is(err, engine.ErrInterrupted):
		u.hint(fmt.Sprintf("Everything verified so far is kept. To resume, run again (with the sender still running, or restarted on the same files):\n    %s", rerunCommand(a.cmd, argWords(args))))
	case errors.Is(err, engine.ErrSourceChanged):
		path, _ := engine.SourceChangedPath(err)
		u.hint(fmt.Sprintf("Everything verified so far is kept. Once the sender runs 'pcp send' again, receive again:\n    %s", rerunCommand(a.cmd, argWords(args))))
		return reworded{fmt.Sprintf("the sender's copy of %s changed during the transfer", path), err}
	case errors.Is(err, engine.ErrNoPath):
		u.hint("Both computers are behind NAT and the relays found allow no data. Run 'pcp node' on a machine both can reach\n" +
			"(it announces itself as a transfer relay), pass a relay that can carry data with --relay, or forward a port to the sender.")
	case refusedConflicts:
		u.advise("Nothing was written, and the sender keeps offering. --yes never replaces files: run again with\n" +
			"--overwrite to replace them, --skip-existing to keep them and receive the rest, or -o to receive elsewhere.")
		return reworded{fmt.Sprintf("%s at the destination differ from the offer (listed above)", plural(int64(conflictCount), "file")), err}
	case errors.Is(err, engine.ErrExists):
		u.advise("Nothing was written, and the sender keeps offering. Run again with --overwrite to replace them,\n" +
			"--skip-existing to keep them and receive the rest, or -o to receive into another directory.")
		return reworded{"some files at the destination differ from the offer (listed above)", err}
	case errors.Is(err, engine.ErrNothingSelected):
		u.advise(nothingSelectedAdvice)
	case errors.Is(err, engine.ErrDeclined) && !noAnswer:
		u.advise("Nothing was written. The sender keeps offering: run the same command again to receive.")
	case errors.As(err, &refused):
		u.offer(refused.Offer, dest)
		u.hint("Nothing was written. Receive into a directory on another file system (-o), or have the sender rename these entries.")
	case errors.Is(err, engine.ErrDeclined) && noAnswer:
		return fmt.Errorf("%w: no answer on stdin (use --yes to accept without asking)", err)
	}
	return err
}

// conflictMode is what happens to files at the destination that differ
// from the offer: it is said with the offer.
type conflictMode int

const (
	conflictAsk     conflictMode = iota // a question follows
	conflictReplace                     // --overwrite
	conflictSkip                        // --skip-existing
	conflictRefuse                      // --yes alone: the offer is refused
)

// offer shows what the sender offers, before the y/N question.
func (u *ui) offer(o engine.Offer, dest string) { u.offerAs(o, dest, conflictAsk) }

// offerAs shows the offer and what becomes of its conflicts under mode.
func (u *ui) offerAs(o engine.Offer, dest string, mode conflictMode) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.jsonLocked("offer", map[string]any{
		"root": o.Root, "top_level": nonNil(o.TopLevel), "files": o.Files, "dirs": o.Dirs, "bytes": o.TotalBytes,
		"present_bytes": o.PresentBytes, "resume_bytes": o.ResumeBytes, "conflicts": nonNil(o.Conflicts),
		"top_level_count": o.TopLevelCount, "conflict_count": o.ConflictCount,
		"refused": refusedJSON(o.Refused), "refused_count": o.RefusedCount,
		"peer": o.Peer, "path": o.Path, "dest": dest,
		"selected_files": o.SelectedFiles, "selected_bytes": o.SelectedBytes, "selection": selectionJSON(o.Selection), "recorded_selection": selectionJSON(o.RecordedSelection),
	})
	if u.mode == modeJSON {
		fmt.Fprintf(u.errw, "Offer: %s (%s, %s) into %s\n", listNames(escapeAll(o.TopLevel), o.TopLevelCount, 5),
			plural(int64(o.Files), "file"), humanBytes(o.TotalBytes), dest)
		return
	}
	u.clearBars()
	w := u.out
	// Names are the sender's text: escaped, so a name cannot draw on the
	// terminal (a fake offer above the question).
	fmt.Fprintf(w, "Offer from %s (%s):\n", escape(shortPeer(cmp.Or(o.Peer, "the sender"))), escape(orUnknown(o.Path)))
	fmt.Fprintf(w, "    %s\n", listNames(escapeAll(o.TopLevel), o.TopLevelCount, 8))
	fmt.Fprintf(w, "    %s, %s", plural(int64(o.Files), "file"), humanBytes(o.TotalBytes))
	if o.Dirs > 0 {
		fmt.Fprintf(w, ", %s", plural(int64(o.Dirs), "directory"))
	}
	fmt.Fprintln(w)
	offerSelection(w, o) // select.go
	if have := o.PresentBytes + o.ResumeBytes; have > 0 {
		fmt.Fprintf(w, "    already here: %s of %s", humanBytes(have), humanBytes(o.SelectedBytes))
		if o.ResumeBytes > 0 {
			fmt.Fprintf(w, " (%s resumable from an interrupted transfer)", humanBytes(o.ResumeBytes))
		}
		fmt.Fprintln(w)
	}
	if o.ConflictCount > 0 {
		n := int64(o.ConflictCount)
		what := map[conflictMode]string{
			conflictAsk:     agree(n, "differs", "differ") + " from the offer",
			conflictReplace: agree(n, "differs", "differ") + " and will be replaced",
			conflictSkip:    agree(n, "differs and will be left as it is", "differ and will be left as they are"),
			conflictRefuse:  agree(n, "differs (--yes does not replace it)", "differ (--yes does not replace them)"),
		}[mode]
		fmt.Fprintf(w, "    %s here %s:\n", plural(n, "file"), what)
		for _, c := range o.Conflicts[:min(len(o.Conflicts), 10)] {
			fmt.Fprintf(w, "        %s\n", escape(c))
		}
		if more := o.ConflictCount - min(len(o.Conflicts), 10); more > 0 {
			fmt.Fprintf(w, "        and %d more\n", more)
		}
	}
	fmt.Fprintf(w, "    into %s\n", dest)
	if o.RefusedCount > 0 {
		fmt.Fprintf(w, "    refused: this destination cannot hold %s (nothing is written):\n", plural(int64(o.RefusedCount), "entry"))
		for _, r := range o.Refused {
			fmt.Fprintf(w, "        %s\n", refusalLine(r))
		}
		if more := o.RefusedCount - len(o.Refused); more > 0 {
			fmt.Fprintf(w, "        and %d more\n", more)
		}
	}
}

// refusalLine is one refused entry, its names escaped.
func refusalLine(r engine.Refusal) string {
	if r.Reason.Collision() {
		return fmt.Sprintf("%s: %s %s", escape(r.Path), r.Reason, escape(r.Other))
	}
	return fmt.Sprintf("%s: %s", escape(r.Path), r.Reason)
}

// refusedJSON lists refused entries for the JSON offer event.
func refusedJSON(rs []engine.Refusal) []map[string]string {
	out := make([]map[string]string, 0, len(rs))
	for _, r := range rs {
		m := map[string]string{"path": r.Path, "reason": r.Reason.Key(), "text": r.Reason.String()}
		if r.Reason.Collision() {
			m["other"] = r.Other
		}
		out = append(out, m)
	}
	return out
}

// hint keeps advice for a failure: it is printed after the error line, on
// stderr in every mode (ui.advise).
func (u *ui) hint(s string) { u.advise(s) }

// reworded shows msg for err, which it still wraps for the exit code.
type reworded struct {
	msg string
	err error
}

func (e reworded) Error() string { return e.msg }
func (e reworded) Unwrap() error { return e.err }

// shellQuote quotes s for a shell command line when needed.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`*?[]{}()<>|&;!#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
