package engine

import "github.com/klauspost/compress/zstd"

// policyIn is what the compressor measured when an epoch ended.
type policyIn struct {
	ratio float64    // compressed/raw, EWMA
	pace  [2]float64 // raw bytes/s delivered, [raw, zstd]; 0 = not measured
	// rawGuessed: pace[0] was guessed from a zstd epoch, not measured.
	rawGuessed bool
	zstd       bool // the mode of the epoch that ended
	// busy is the share of that epoch's wall time spent compressing, at
	// level: near 0 when the link is the bottleneck, near 1 when the CPU is.
	busy         float64
	level        zstd.EncoderLevel
	sinceExplore int // epochs since the losing mode was last tried
}

// policyOut is the mode and level of the next epoch.
type policyOut struct {
	zstd    bool
	level   zstd.EncoderLevel
	explore bool // the next epoch tries the mode that measured slower
}

// levels are the zstd levels the policy steps through, fastest first;
// slowdown[i] is how much more CPU a byte costs at levels[i] than at
// levels[i-1] (1 MiB chunks of Go source: Fastest 0.21 of the raw size at
// ~400 MB/s, Default 0.19 at ~320 MB/s, Better 0.18 at about half that).
var (
	levels   = []zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedDefault, zstd.SpeedBetterCompression}
	slowdown = []float64{1, 1.3, 2}
)

const (
	// levelUpBusy: step up a level when compressing at it would still
	// take less than this share of the wall time (the CPU idles, waiting
	// for the link). levelDownBusy: step down above this share.
	levelUpBusy   = 0.25
	levelDownBusy = 0.5
)

// policy picks the next epoch's mode and level. A pure function: the
// compressor measures, policy decides.
//
//   - Incompressible data goes raw.
//   - A mode not measured yet (at the start, or after the link changed) is
//     measured next.
//   - Otherwise the faster mode wins, and the slower one is tried again
//     every exploreEvery(lead) epochs: the larger the winner's lead, the
//     rarer, so text on a slow link is not sent raw one epoch in eight.
//   - In zstd, the level steps up while the CPU idles and down when it
//     does not (nextLevel). A fast link keeps the fastest level or raw:
//     compression never makes the transfer slower than the raw pace.
func policy(in policyIn) policyOut {
	out := policyOut{level: in.level}
	switch {
	case in.ratio > incompressible:
		return out
	case in.pace[1] == 0:
		out.zstd = true
		return out
	case in.pace[0] == 0:
		return out
	}
	if in.zstd {
		out.level = nextLevel(in.level, in.busy)
	}
	win := in.pace[1] > in.pace[0]
	lead := max(in.pace[0], in.pace[1]) / min(in.pace[0], in.pace[1])
	out.zstd = win
	every := exploreEvery(lead)
	if in.rawGuessed {
		every = min(every, guessedExploreEvery)
	}
	if in.sinceExplore+1 >= every {
		out.zstd, out.explore = !win, true
	}
	return out
}

// guessedExploreEvery bounds how long a guessed raw pace stands before
// raw is measured.
const guessedExploreEvery = 32

// exploreEvery is how often, in epochs, the losing mode is tried again
// when the winner's pace is lead times the loser's.
func exploreEvery(lead float64) int {
	switch {
	case lead < 1.5:
		return 8
	case lead < 4:
		return 32
	default:
		return 128
	}
}

// nextLevel steps one level up when the next level's estimated share of
// the wall time stays under levelUpBusy, one down when the current share
// is above levelDownBusy.
func nextLevel(cur zstd.EncoderLevel, busy float64) zstd.EncoderLevel {
	i := 0
	for i < len(levels)-1 && levels[i] != cur {
		i++
	}
	switch {
	case i+1 < len(levels) && busy*slowdown[i+1] < levelUpBusy:
		return levels[i+1]
	case i > 0 && busy > levelDownBusy:
		return levels[i-1]
	}
	return levels[i]
}
