package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// rateFlag is --limit-rate on send and receive: bytes per second over all
// data streams, with K, M, G, T meaning powers of 1024 (as curl's
// --limit-rate): "10M" is 10 MiB/s. An optional "B", "iB" or "/s" may follow.
type rateFlag struct{ text string }

func (r *rateFlag) register(fs *pflag.FlagSet) {
	fs.StringVar(&r.text, "limit-rate", "", "cap the data rate, e.g. 500K or 10M (bytes per second; K, M, G are 1024-based)")
}

// bytesPerSecond parses the flag; 0 means no limit.
func (r *rateFlag) bytesPerSecond() (int64, error) {
	if strings.TrimSpace(r.text) == "" {
		return 0, nil
	}
	n, err := parseRate(r.text)
	if err != nil {
		return 0, usageError{fmt.Errorf("--limit-rate %q: %w", r.text, err)}
	}
	return n, nil
}

func parseRate(s string) (int64, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimSuffix(t, "/s")
	t = strings.TrimSuffix(strings.TrimSuffix(t, "iB"), "B")
	mult := int64(1)
	if t != "" {
		switch t[len(t)-1] {
		case 'k', 'K':
			mult = 1 << 10
		case 'm', 'M':
			mult = 1 << 20
		case 'g', 'G':
			mult = 1 << 30
		case 't', 'T':
			mult = 1 << 40
		}
		if mult > 1 {
			t = t[:len(t)-1]
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
	if err != nil || v <= 0 || v*float64(mult) >= 1<<62 {
		return 0, fmt.Errorf("want a positive number of bytes per second, e.g. 500K or 10M")
	}
	return max(int64(v*float64(mult)), 1), nil
}
