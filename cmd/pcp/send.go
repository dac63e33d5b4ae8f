package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pcp-p2p/pcp/auth"
	"github.com/pcp-p2p/pcp/engine"
)

type sendFlags struct {
	passphrase  string
	words       int
	maxFailures int
	manifestOut string
	noCache     bool
	net         netFlags
	extra       sendExtras // sendextra.go
	newWords    bool
	text        string        // --text (text.go)
	stream      streamFlags   // '-', --name, --no-spool, --spool-max (sendstream.go)
	recv        receiverFlags // --keep-serving, --receivers (receivers.go)
}

func (a *app) sendCmd() *cobra.Command {
	var f sendFlags
	cmd := &cobra.Command{
		Use:   "send PATH... | send --text TEXT | send -",
		Short: "Offer files and directories; prints the passphrase for the receiver",
		Long: `Offer one or more files or directories to one receiver, or to many.

The passphrase is printed at once, with the exact command to run on the other
computer; hashing and the transfer go on meanwhile. pcp serves until the receiver
has everything (exit 0) or you stop it with Ctrl-C. After 3 failed passphrase
attempts, counted over all receivers, it stops offering, so the words cannot be
guessed online.

Any number of receivers may use the same words at the same time, each in its own
session; the progress shows one line per receiver (r1, r2, ...). By default pcp
exits once one receiver has everything. --receivers N exits once N have;
--keep-serving serves until Ctrl-C (exit 0 if at least one had everything). A
receiver that declines or fails does not count. Once the count is reached no new
receiver is taken, and one still receiving is let finish (Ctrl-C stops it; it
resumes later).

'pcp send -' offers standard input as it is read: the receiver gets it as a
file (--name, default "stdin") or on its own standard output. See "Pipes" in the
README for what resumes: by default a copy is spooled in the state directory
(--spool-max bounds it), so a receiver that drops continues; with --no-spool
nothing is kept on disk, and a receiver that drops must start again. Each run
of 'pcp send -' is a new stream, with new words.

The words come from --passphrase, else $PCP_PASSPHRASE, else they are generated
(--words N of them: one to find each other, the rest are the secret). Generated
words and the sender's peer identity are kept per offer (the same paths) in the
state directory: the same command run again, after Ctrl-C or a crash, offers
with the same words, and a receiver that is still waiting continues. --new-words
draws new ones. Wrong guesses count across such restarts; the words are dropped
once the offer is complete or guessed at --max-failures times.`,
		Example: `  pcp send ~/photos notes.txt
  pcp send --words 6 big.iso                         # a longer passphrase
  PCP_PASSPHRASE=lemon-orbit-tiger-salad pcp send ./build   # choose the words
  pcp send --manifest-out tree.pcpm ./dataset        # keep a manifest for 'pcp verify'
  pcp send --bootstrap /ip4/203.0.113.7/tcp/4001/p2p/12D3Koo... ./dir   # your own node
  pcp send --no-discovery --listen /ip4/0.0.0.0/tcp/9000 file   # receiver uses --direct
  pcp send --text "the wifi password is hunter2"    # a short message, printed by the receiver
  tar c ./project | pcp send --name project.tar -   # standard input, read as it is sent
  pcp send --receivers 3 slides.pdf                  # exit after three receivers have it
  pcp send --keep-serving ./release                  # serve everyone until Ctrl-C`,
		Args: usageArgs(cobra.ArbitraryArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.send(cmd.Context(), args, &f)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.passphrase, "passphrase", "", "use these words (e.g. lemon-orbit-tiger-salad) instead of generated ones; env "+auth.EnvPassphrase)
	fs.IntVar(&f.words, "words", auth.DefaultWords, fmt.Sprintf("number of words to generate (%d to %d)", auth.MinWords, auth.MaxWords))
	fs.IntVar(&f.maxFailures, "max-failures", auth.DefaultMaxFailures, "stop after this many failed passphrase attempts")
	fs.StringVar(&f.manifestOut, "manifest-out", "", "write the manifest to this file (for 'pcp verify --manifest')")
	fs.BoolVar(&f.noCache, "no-hash-cache", false, "hash every file again instead of trusting the hash cache")
	fs.BoolVar(&f.newWords, "new-words", false, "generate new words instead of those kept for the same paths")
	fs.StringVar(&f.text, "text", "", fmt.Sprintf("send this short message (at most %d KiB) instead of files; the receiver prints it", engine.MaxTextSize>>10))
	f.net.register(fs, false)
	f.extra.register(fs)
	f.stream.register(fs)
	f.recv.register(fs)
	return cmd
}

// choosePassphrase takes the flag, else $PCP_PASSPHRASE, else generates.
func choosePassphrase(flag string, words int, getenv func(string) string) (auth.Passphrase, error) {
	s := flag
	if strings.TrimSpace(s) == "" {
		s = getenv(auth.EnvPassphrase)
	}
	if strings.TrimSpace(s) != "" {
		p, err := auth.Parse(s)
		if err != nil {
			return auth.Passphrase{}, usageError{err}
		}
		return p, nil
	}
	if words < auth.MinWords || words > auth.MaxWords {
		return auth.Passphrase{}, usageError{fmt.Errorf("--words must be %d to %d", auth.MinWords, auth.MaxWords)}
	}
	return auth.Generate(words)
}

func (a *app) send(ctx context.Context, paths []string, f *sendFlags) error {
	netOpts, err := f.net.options(os.Getenv)
	if err != nil {
		return err
	}
	// What can fail before the words are shown fails first.
	text := f.text != ""
	if err := f.stream.check(paths, f, a.stdin); err != nil { // sendstream.go: '-'
		return err
	}
	if err := checkSendWhat(paths, f); !f.stream.on && err != nil {
		return err
	}
	fresh := text || f.stream.on // a new offer each run: no words or identity kept
	if err := f.extra.check(); err != nil {
		return err
	}
	if err := f.recv.check(); err != nil {
		return err
	}
	if f.maxFailures < 1 {
		return usageError{fmt.Errorf("--max-failures must be at least 1")}
	}
	// Generated words and the identity are kept per offer, so the same
	// command run again is the same sender (offerstate.go).
	// A message or standard input is not kept: each run is a new offer.
	chosen := strings.TrimSpace(f.passphrase) != "" || strings.TrimSpace(os.Getenv(auth.EnvPassphrase)) != ""
	var offer offerState
	var pass auth.Passphrase
	var prevFails int
	var kept bool
	if !fresh {
		if offer, err = newOfferState(a.state(), paths); err != nil {
			return fmt.Errorf("state directory: %w", err)
		}
		pass, prevFails, kept = offer.words(f.words, f.maxFailures)
	}
	if chosen || f.newWords || !kept {
		prevFails = 0
		if pass, err = choosePassphrase(f.passphrase, f.words, os.Getenv); err != nil {
			return err
		}
		if !chosen && !fresh {
			if err := offer.keep(pass); err != nil {
				return fmt.Errorf("state directory: %w", err)
			}
		}
	}
	u := a.newUI("send")
	u.text = text
	u.setMultiReceiver(f.recv.value() != 1)
	// The passphrase comes first, before any hashing.
	words := pass.String()
	u.json("passphrase", map[string]any{"passphrase": words, "command": "pcp receive " + words})
	u.say("Passphrase: %s\nOn the receiving computer run:\n\n    pcp receive %s\n", words, words)
	if kept && !chosen && !f.newWords {
		u.say("(The same words as the last run of this command: a receiver that is still waiting continues. --new-words draws new ones.)\n")
	}
	if netOpts.NoDiscovery {
		u.listenHint = func(addrs []string) {
			if len(addrs) == 0 {
				return
			}
			fmt.Fprintf(u.out, "Discovery is off: the receiver must dial one of these addresses directly:\n")
			for _, ad := range addrs {
				fmt.Fprintf(u.out, "    %s\n", ad)
			}
			fmt.Fprintf(u.out, "for example:\n    pcp receive --direct %s %s\n\n", addrs[0], words)
		}
	}
	events := sendEvents(u)
	if !chosen && !fresh {
		// Wrong guesses against kept words count across restarts.
		events = func(e engine.Event) {
			if af, ok := e.(engine.AuthFailedEvent); ok {
				_ = offer.setFailures(prevFails + af.Failures)
			}
			sendEvents(u)(e)
		}
	}
	opts := engine.SendOptions{
		Paths:           paths,
		Text:            f.text,
		Passphrase:      pass,
		MaxAuthFailures: f.maxFailures - prevFails,
		ManifestOut:     f.manifestOut,
		Network:         netOpts,
		Events:          events,
		Logger:          a.logger(),
		Receivers:       f.recv.value(),
	}
	if !fresh {
		opts.IdentityPath = offer.identityPath()
	}
	if !f.noCache {
		opts.HashCachePath = a.statePath(engine.HashCacheFile)
	}
	if err := f.extra.apply(&opts, u, words); err != nil {
		return err
	}
	f.stream.apply(&opts, a.stdin, a.statePath(engine.HashCacheFile))
	_, err = engine.Send(ctx, opts)
	if !fresh && (err == nil || errors.Is(err, engine.ErrTooManyFailures)) {
		offer.forgetWords() // complete, or guessed at too often: new words next time
	}
	if errors.Is(err, engine.ErrNothingToSend) {
		return reworded{"nothing to send: every path given was skipped (see above)", err}
	}
	if errors.Is(err, engine.ErrSourceChanged) {
		// The file itself was named when it was found (SourceChangedEvent).
		u.hint("Run the same command again to offer the files as they are now; the receiver keeps what it has verified.")
		return reworded{"offer ended: a file changed on disk after it was hashed (named above)", err}
	} else if err != nil && ctx.Err() != nil && !fresh {
		u.hint("Stopped. Run the same command again to offer the files again with the same words: a receiver that is\n" +
			"still waiting continues where it was; one that stopped keeps what it has verified and resumes.")
	}
	return err
}

// sendEvents renders what the sender's ui leaves to the send command: a
// receiver that declined, after which the offer stands.
func sendEvents(u *ui) func(engine.Event) {
	return func(e engine.Event) {
		d, ok := e.(engine.DeclinedEvent)
		if !ok {
			u.event(e)
			return
		}
		u.declined(d) // receivers.go
	}
}
