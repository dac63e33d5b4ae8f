package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/pcp-p2p/pcp/engine"
)

// errNoAnswer: stdin closed before an answer was given.
var errNoAnswer = errors.New("no answer on stdin")

// prompter asks questions on errw and reads answers from in. One bufio
// reader serves every question, so answers piped in together all arrive.
type prompter struct {
	in   io.Reader
	br   *bufio.Reader
	errw io.Writer
}

func newPrompter(in io.Reader, errw io.Writer) *prompter {
	return &prompter{in: in, br: bufio.NewReader(in), errw: errw}
}

// line reads one line, giving up when ctx ends (the read itself cannot be
// interrupted; its goroutine ends with the process).
func (p *prompter) line(ctx context.Context) (string, error) {
	type res struct {
		s   string
		err error
	}
	ch := make(chan res, 1)
	go func() {
		s, err := p.br.ReadString('\n')
		if err == io.EOF && s != "" {
			err = nil
		}
		if err == io.EOF {
			err = errNoAnswer
		}
		ch <- res{strings.TrimSpace(s), err}
	}()
	select {
	case r := <-ch:
		return r.s, r.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// secret reads a passphrase: without echo on a terminal, else one line.
func (p *prompter) secret(ctx context.Context, prompt string) (string, error) {
	fmt.Fprint(p.errw, prompt)
	if f, ok := p.in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		type res struct {
			b   []byte
			err error
		}
		ch := make(chan res, 1)
		saved, _ := term.GetState(int(f.Fd()))
		go func() {
			b, err := term.ReadPassword(int(f.Fd()))
			ch <- res{b, err}
		}()
		select {
		case r := <-ch:
			fmt.Fprintln(p.errw)
			return strings.TrimSpace(string(r.b)), r.err
		case <-ctx.Done():
			if saved != nil { // Ctrl-C during the read: turn echo back on
				_ = term.Restore(int(f.Fd()), saved)
			}
			fmt.Fprintln(p.errw)
			return "", ctx.Err()
		}
	}
	return p.line(ctx)
}

func (p *prompter) interactive() bool {
	f, ok := p.in.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// ask writes question and reads the answer, one line; an answer that was
// not echoed (not a terminal) is shown after the question.
func (p *prompter) ask(ctx context.Context, question string) (string, error) {
	fmt.Fprint(p.errw, question)
	s, err := p.line(ctx)
	if err != nil {
		fmt.Fprintln(p.errw)
		return "", err
	}
	if !p.interactive() {
		fmt.Fprintln(p.errw, s)
	}
	return s, nil
}

// yesNo asks a y/N question; anything but y/yes is no.
func (p *prompter) yesNo(ctx context.Context, question string) (bool, error) {
	s, err := p.ask(ctx, question+" [y/N] ")
	if err != nil {
		return false, err
	}
	switch strings.ToLower(s) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// conflict asks what to do with n files at the destination that differ
// from the offer: replace them, skip them (receive the rest) or cancel.
// Anything but r/replace or s/skip cancels.
func (p *prompter) conflict(ctx context.Context, n int) (engine.Resolution, error) {
	them := "it"
	if n != 1 {
		them = "them"
	}
	s, err := p.ask(ctx, fmt.Sprintf("Replace %s, skip %s and receive the rest, or cancel? [r/s/C] ", them, them))
	if err != nil {
		return engine.ResolveCancel, err
	}
	switch strings.ToLower(s) {
	case "r", "replace":
		return engine.ResolveReplace, nil
	case "s", "skip":
		return engine.ResolveSkip, nil
	}
	return engine.ResolveCancel, nil
}
