package main

import (
	"fmt"
	"strings"
	"time"
)

// humanBytes formats n in IEC units: "512 B", "412 MiB", "1.0 GiB".
// Values of 100 or more in their unit get no decimal.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v := float64(n)
	i := -1
	for v >= unit && i < 5 {
		v /= unit
		i++
	}
	suffix := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}[i]
	if v >= 100 {
		return fmt.Sprintf("%.0f %s", v, suffix)
	}
	if v >= 10 {
		s := fmt.Sprintf("%.1f", v)
		return strings.TrimSuffix(s, ".0") + " " + suffix
	}
	return fmt.Sprintf("%.1f %s", v, suffix)
}

// humanRate formats bytes per second.
func humanRate(bps float64) string {
	if bps <= 0 {
		return "-"
	}
	return humanBytes(int64(bps)) + "/s"
}

// humanDuration rounds d for people: "850ms", "3.2s", "4m05s", "1h02m".
func humanDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		d = d.Round(time.Second)
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	d = d.Round(time.Minute)
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// shortPeer abbreviates a peer ID: "12D3Koo…x7Qa".
func shortPeer(id string) string {
	if len(id) <= 16 {
		return id
	}
	return id[:7] + "…" + id[len(id)-4:]
}

// shorten cuts s to at most n runes, keeping its end (file names matter
// more than their directories).
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n || n < 2 {
		return s
	}
	return "…" + string(r[len(r)-n+1:])
}

// listNames shows up to max of names, the first of total names.
func listNames(names []string, total, max int) string {
	if total <= max && len(names) == total {
		return strings.Join(names, ", ")
	}
	k := min(max, len(names))
	return fmt.Sprintf("%s and %d more", strings.Join(names[:k], ", "), total-k)
}

// agree returns one when n is 1 and many otherwise: the verb or pronoun
// that goes with a count ("differs" or "differ").
func agree(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// plural returns "1 file" or "3 files" ("directory": "directories").
func plural(n int64, word string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", word)
	}
	if strings.HasSuffix(word, "y") {
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(word, "y"))
	}
	return fmt.Sprintf("%d %ss", n, word)
}
