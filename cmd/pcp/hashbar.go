package main

import (
	"fmt"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/pcp-p2p/pcp/engine"
)

// cachedRate is a hashing rate no disk and no BLAKE3 reaches: above it the
// hashes came from the hash cache, and the bar says "cached" instead of a
// rate such as "20 TiB/s".
const cachedRate = 8 << 30

// newHashBar is the sender's hashing bar. It shows its own byte counts
// and rate in the description, so that a re-send whose hashes come from
// the cache reads "cached", not an absurd rate.
func (u *ui) newHashBar(max int64) *progressbar.ProgressBar {
	return progressbar.NewOptions64(max,
		progressbar.OptionSetWriter(u.errw),
		progressbar.OptionSetWidth(24),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionShowDescriptionAtLineEnd(),
		progressbar.OptionSetRenderBlankState(true),
	)
}

// hashBarTTY draws one HashingEvent on the terminal's hashing bar.
func (u *ui) hashBarTTY(e engine.HashingEvent, now time.Time) {
	if e.Phase != "hash" || e.BytesTotal <= 0 {
		return
	}
	if u.hashBar == nil {
		u.hashBar = u.newHashBar(e.BytesTotal)
		u.hashStart = now
	}
	if u.hashBar.IsFinished() {
		return
	}
	if e.BytesTotal != u.hashBar.GetMax64() {
		u.hashBar.ChangeMax64(e.BytesTotal)
	}
	u.hashBar.Describe(fmt.Sprintf("hashing %s · %d/%d files %s", hashRateText(e.Bytes, e.BytesTotal, now.Sub(u.hashStart)),
		e.Files, e.FilesTotal, shorten(escape(e.Current), 30)))
	_ = u.hashBar.Set64(min(e.Bytes, e.BytesTotal))
}

// hashRateText is "1.2 GiB/1.9 GiB, 410 MiB/s", or "…, cached" when the
// rate shows the hashes came from the cache.
func hashRateText(bytes, total int64, elapsed time.Duration) string {
	s := humanBytes(bytes) + "/" + humanBytes(total)
	if elapsed < 200*time.Millisecond && bytes < total {
		return s // too soon for a rate
	}
	r := float64(bytes) / max(elapsed.Seconds(), 0.001)
	if r > cachedRate {
		return s + ", cached"
	}
	return s + ", " + humanRate(r)
}
