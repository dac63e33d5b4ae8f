package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/pcp-p2p/pcp/auth"
)

// offerState is what `pcp send` keeps per offer in the state directory, so
// that the same command run again (after Ctrl-C, a crash or a changed file)
// is the same peer with the same words, and a receiver that is still
// waiting continues with it. An offer is named by the absolute paths given
// (the manifest root is known only after hashing, and the words are shown
// before). Everything in it is secret: the directory is 0700, the files
// 0600.
//
//	identity.key  the sender's libp2p key (engine.SendOptions.IdentityPath)
//	words         the generated passphrase
//	failures      wrong guesses judged against these words so far
//
// The failures carry over: a restart does not give an attacker new guesses
// at the same words. Once they reach the limit, new words are generated.
type offerState struct{ dir string }

func newOfferState(stateDir string, paths []string) (offerState, error) {
	abs := make([]string, len(paths))
	for i, p := range paths {
		a, err := filepath.Abs(p)
		if err != nil {
			return offerState{}, err
		}
		abs[i] = a
	}
	slices.Sort(abs)
	sum := sha256.Sum256([]byte(strings.Join(abs, "\x00")))
	d := filepath.Join(stateDir, "offers", hex.EncodeToString(sum[:16]))
	if err := os.MkdirAll(d, 0o700); err != nil {
		return offerState{}, err
	}
	return offerState{dir: d}, nil
}

func (o offerState) identityPath() string { return filepath.Join(o.dir, "identity.key") }

// words returns the kept passphrase, if there is one with n words whose
// failures are below max, and the failures counted against it.
func (o offerState) words(n, max int) (auth.Passphrase, int, bool) {
	b, err := os.ReadFile(filepath.Join(o.dir, "words"))
	if err != nil {
		return auth.Passphrase{}, 0, false
	}
	p, err := auth.Parse(strings.TrimSpace(string(b)))
	if err != nil || len(p.Words()) != n {
		return auth.Passphrase{}, 0, false
	}
	fails := o.failures()
	if fails >= max {
		return auth.Passphrase{}, 0, false
	}
	return p, fails, true
}

func (o offerState) failures() int {
	b, err := os.ReadFile(filepath.Join(o.dir, "failures"))
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return max(n, 0)
}

// keep stores new words, with no failures against them yet.
func (o offerState) keep(p auth.Passphrase) error {
	if err := writeSecret(filepath.Join(o.dir, "failures"), "0\n"); err != nil {
		return err
	}
	return writeSecret(filepath.Join(o.dir, "words"), p.String()+"\n")
}

// setFailures records the wrong guesses judged against the kept words.
func (o offerState) setFailures(n int) error {
	return writeSecret(filepath.Join(o.dir, "failures"), strconv.Itoa(n)+"\n")
}

// forgetWords drops the words (the offer is complete, or they were
// guessed at too often); the identity stays.
func (o offerState) forgetWords() {
	for _, f := range []string{"words", "failures"} {
		if err := os.Remove(filepath.Join(o.dir, f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			continue
		}
	}
}

// writeSecret writes a 0600 file through a temporary file and a rename.
func writeSecret(path, s string) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // no-op after the rename
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.WriteString(s); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
