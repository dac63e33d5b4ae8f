package main

import (
	"github.com/spf13/pflag"

	"github.com/pcp-p2p/pcp/engine"
)

// sendExtras are send's flags for what is offered and how fast: --exclude,
// --exclude-from, --limit-rate and --qr.
type sendExtras struct {
	exclude     []string
	excludeFrom []string
	limit       rateFlag
	qr          bool

	ex  excluder // set by check
	bps int64
}

func (x *sendExtras) register(fs *pflag.FlagSet) {
	fs.StringArrayVar(&x.exclude, "exclude", nil, "leave out entries matching this .gitignore-style pattern (repeatable),\ne.g. '*.log', 'node_modules/', 'build/**/*.o', '!keep.log'")
	fs.StringArrayVar(&x.excludeFrom, "exclude-from", nil, "read --exclude patterns from this file, one a line ('#' comments; repeatable)")
	x.limit.register(fs)
	fs.BoolVar(&x.qr, "qr", false, "also show the receive command as a QR code")
}

// check parses the flags; called before the passphrase is shown, so that a
// bad pattern fails before anyone is told the words.
func (x *sendExtras) check() error {
	ex, err := parseExcludes(x.exclude, x.excludeFrom)
	if err != nil {
		return err
	}
	bps, err := x.limit.bytesPerSecond()
	if err != nil {
		return err
	}
	x.ex, x.bps = ex, bps
	return nil
}

// apply sets the engine's options and shows the QR code (after the words).
func (x *sendExtras) apply(opts *engine.SendOptions, u *ui, words string) error {
	opts.Exclude = x.ex.fn()
	opts.RateLimit = x.bps
	u.setRateLimit(x.bps)
	if x.qr {
		return u.showQR("pcp receive " + words)
	}
	return nil
}
