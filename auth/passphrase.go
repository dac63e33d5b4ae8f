package auth

import (
	"cmp"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"unicode"

	"github.com/tyler-smith/go-bip39/wordlists"
)

const (
	// EnvPassphrase is the environment variable FromEnv reads, so that a
	// passphrase need not appear in the process list.
	EnvPassphrase = "PCP_PASSPHRASE"
	// DefaultWords is the number of words Generate uses when asked for 0:
	// one channel word and three secret words (33 bits of secret).
	DefaultWords = 4
	// MinWords is the fewest words a passphrase may have: one channel word
	// and at least two secret words (22 bits).
	MinWords = 3
	// MaxWords bounds Generate and Parse.
	MaxWords = 24

	bitsPerWord = 11 // log2(len(wordlist)); the list has exactly 2048 words
	wordSep     = "-"
)

// wordlist is the English BIP39 list: 2048 distinct lower-case ASCII words in
// ascending byte order, so lookups are a binary search (no map, no iteration
// order, no other language).
var wordlist = wordlists.English

// Passphrase is a parsed or generated passphrase: a channel word followed by
// the secret words. The zero value is "no passphrase" (IsZero). A Passphrase
// is immutable; copies share nothing the caller can change.
type Passphrase struct {
	words []string // canonical lower-case words from wordlist; nil for the zero value
}

// Generate returns a passphrase of the given number of words drawn
// uniformly and independently from the English BIP39 list with crypto/rand.
// words == 0 means DefaultWords; otherwise it must be in [MinWords, MaxWords].
func Generate(words int) (Passphrase, error) {
	return generate(rand.Reader, words)
}

// generate draws from r: 2 bytes per word, of which the low 11 bits select
// the word. 2^16 is a multiple of 2^11, so every word is equally likely (no
// modulo bias).
func generate(r io.Reader, words int) (Passphrase, error) {
	if words == 0 {
		words = DefaultWords
	}
	if words < MinWords || words > MaxWords {
		return Passphrase{}, fmt.Errorf("%w: %d words requested, want %d to %d", ErrBadPassphrase, words, MinWords, MaxWords)
	}
	buf := make([]byte, 2*words)
	if _, err := io.ReadFull(r, buf); err != nil {
		return Passphrase{}, fmt.Errorf("auth: reading randomness: %w", err)
	}
	out := make([]string, words)
	for i := range out {
		idx := binary.BigEndian.Uint16(buf[2*i:]) & (1<<bitsPerWord - 1)
		out[i] = wordlist[idx]
	}
	return Passphrase{words: out}, nil
}

// isSeparator reports the runes Parse treats as word separators: '-', '_'
// and any Unicode white space.
func isSeparator(r rune) bool {
	return r == '-' || r == '_' || unicode.IsSpace(r)
}

// Parse reads a passphrase typed by a user. It is strict and deterministic:
// words are split on runs of '-', '_' or white space and lower-cased; every
// word must be in the English BIP39 list (no prefixes, no other languages).
// The leftmost unknown word is reported as *UnknownWordError with the
// closest valid words as suggestions. Fewer than MinWords or more than
// MaxWords words is ErrBadPassphrase.
func Parse(s string) (Passphrase, error) {
	fields := strings.FieldsFunc(s, isSeparator)
	if len(fields) > MaxWords {
		return Passphrase{}, fmt.Errorf("%w: %d words, at most %d allowed", ErrBadPassphrase, len(fields), MaxWords)
	}
	words := make([]string, len(fields))
	for i, f := range fields {
		w := strings.ToLower(f)
		idx, ok := lookup(w)
		if !ok {
			return Passphrase{}, &UnknownWordError{Word: w, Index: i, Suggestions: suggest(w, 3)}
		}
		words[i] = wordlist[idx]
	}
	if len(words) < MinWords {
		return Passphrase{}, fmt.Errorf("%w: %d words, need at least %d (a channel word and %d secret words)",
			ErrBadPassphrase, len(words), MinWords, MinWords-1)
	}
	return Passphrase{words: words}, nil
}

// FromEnv parses the passphrase in the environment variable EnvPassphrase.
// ok is false (and err nil) when the variable is unset or blank.
func FromEnv() (p Passphrase, ok bool, err error) {
	v, set := os.LookupEnv(EnvPassphrase)
	if !set || strings.TrimSpace(v) == "" {
		return Passphrase{}, false, nil
	}
	p, err = Parse(v)
	if err != nil {
		return Passphrase{}, true, fmt.Errorf("auth: $%s: %w", EnvPassphrase, err)
	}
	return p, true, nil
}

// String returns the canonical form "word-word-word-word" in lower case.
// It contains the secret: show it to the user, never log it (the logger
// sees LogValue instead).
func (p Passphrase) String() string { return strings.Join(p.words, wordSep) }

// GoString hides the secret words from %#v.
func (p Passphrase) GoString() string { return "auth.Passphrase{" + p.redacted() + "}" }

// LogValue makes slog print the channel word and hide the secret words.
func (p Passphrase) LogValue() slog.Value { return slog.StringValue(p.redacted()) }

func (p Passphrase) redacted() string {
	if p.IsZero() {
		return ""
	}
	return p.words[0] + "-[" + fmt.Sprint(len(p.words)-1) + " secret words]"
}

// Channel returns the first word. It is public: discovery derives the
// rendezvous key from it, and it carries no secret entropy.
func (p Passphrase) Channel() string {
	if p.IsZero() {
		return ""
	}
	return p.words[0]
}

// Words returns a copy of the words, channel word first.
func (p Passphrase) Words() []string { return slices.Clone(p.words) }

// EntropyBits returns the entropy of the secret part, (words-1)*11 bits,
// for a passphrase drawn by Generate. The channel word is not counted.
func (p Passphrase) EntropyBits() float64 {
	if len(p.words) < 2 {
		return 0
	}
	return float64((len(p.words) - 1) * bitsPerWord)
}

// IsZero reports whether p is the zero Passphrase.
func (p Passphrase) IsZero() bool { return len(p.words) == 0 }

// secret returns the secret words (all but the channel word) joined
// canonically. Only the PAKE ever sees it.
func (p Passphrase) secret() string { return strings.Join(p.words[1:], wordSep) }

// lookup finds w in wordlist by binary search.
func lookup(w string) (int, bool) {
	return slices.BinarySearch(wordlist, w)
}

// suggest returns up to n valid words closest to w, best first. A word that
// w is a prefix of (w at least 3 letters) scores 1; otherwise the score is
// the optimal-string-alignment edit distance (insertions, deletions,
// substitutions and adjacent transpositions). Words scoring above 2 (above
// 1 for inputs of up to 4 letters) are not suggested. Ties are broken by
// word order, so the result is deterministic.
func suggest(w string, n int) []string {
	type cand struct {
		word  string
		score int
	}
	limit := 2
	if len(w) <= 4 {
		limit = 1
	}
	var cands []cand
	for _, word := range wordlist {
		score := osaDistance(w, word, limit)
		if len(w) >= 3 && strings.HasPrefix(word, w) {
			score = min(score, 1)
		}
		if score <= limit {
			cands = append(cands, cand{word, score})
		}
	}
	slices.SortStableFunc(cands, func(a, b cand) int {
		return cmp.Or(cmp.Compare(a.score, b.score), strings.Compare(a.word, b.word))
	})
	out := make([]string, 0, min(n, len(cands)))
	for _, c := range cands[:min(n, len(cands))] {
		out = append(out, c.word)
	}
	return out
}

// osaDistance is the optimal string alignment distance between a and b over
// bytes, or limit+1 when it certainly exceeds limit.
func osaDistance(a, b string, limit int) int {
	if d := len(a) - len(b); d > limit || -d > limit {
		return limit + 1
	}
	// Three rolling rows: prev2 (i-2), prev (i-1), cur (i).
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			v := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				v = min(v, prev2[j-2]+1)
			}
			cur[j] = v
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
