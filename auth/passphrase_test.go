package auth

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
)

func TestWordlist(t *testing.T) {
	if len(wordlist) != 1<<bitsPerWord {
		t.Fatalf("%d words, want %d", len(wordlist), 1<<bitsPerWord)
	}
	if !slices.IsSorted(wordlist) {
		t.Fatal("word list is not sorted; binary search would be wrong")
	}
	for i, w := range wordlist {
		if i > 0 && wordlist[i-1] == w {
			t.Fatalf("duplicate %q", w)
		}
		if w != strings.ToLower(w) || strings.IndexFunc(w, isSeparator) >= 0 || strings.Trim(w, "abcdefghijklmnopqrstuvwxyz") != "" {
			t.Fatalf("word %q is not plain lower-case ASCII", w)
		}
		if idx, ok := lookup(w); !ok || idx != i {
			t.Fatalf("lookup(%q) = %d, %v", w, idx, ok)
		}
	}
}

func TestParse(t *testing.T) {
	ok := []struct {
		in, want, channel string
	}{
		{"orbit-mango-fiscal-tiger", "orbit-mango-fiscal-tiger", "orbit"},
		{"ORBIT-Mango-fiscal-TIGER", "orbit-mango-fiscal-tiger", "orbit"},
		{"orbit mango fiscal tiger", "orbit-mango-fiscal-tiger", "orbit"},
		{"  orbit \t mango\nfiscal  tiger\r\n", "orbit-mango-fiscal-tiger", "orbit"},
		{"orbit--mango__fiscal - tiger", "orbit-mango-fiscal-tiger", "orbit"},
		{"-orbit-mango-fiscal-tiger-", "orbit-mango-fiscal-tiger", "orbit"},
		{"orbit\u00a0mango\u3000fiscal tiger", "orbit-mango-fiscal-tiger", "orbit"}, // no-break and ideographic spaces
		{"zoo abandon zoo", "zoo-abandon-zoo", "zoo"},
		{strings.Repeat("able ", MaxWords), strings.TrimSuffix(strings.Repeat("able-", MaxWords), "-"), "able"},
	}
	for _, c := range ok {
		p, err := Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		if p.String() != c.want || p.Channel() != c.channel {
			t.Errorf("Parse(%q) = %q channel %q, want %q channel %q", c.in, p, p.Channel(), c.want, c.channel)
		}
		// String is canonical: it parses back to itself.
		if q, err := Parse(p.String()); err != nil || q.String() != p.String() {
			t.Errorf("reparse of %q: %q, %v", p, q, err)
		}
	}

	bad := []struct {
		in   string
		want string // substring of the error
	}{
		{"", "0 words"},
		{" - _ ", "0 words"},
		{"orbit", "1 words"},
		{"orbit-mango", "2 words, need at least 3"},
		{strings.Repeat("able ", MaxWords+1), "at most 24"},
		{"orbit.mango.fiscal", `"orbit.mango.fiscal" is not in the word list`}, // '.' is not a separator
	}
	for _, c := range bad {
		_, err := Parse(c.in)
		if !errors.Is(err, ErrBadPassphrase) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q) = %v, want ErrBadPassphrase mentioning %q", c.in, err, c.want)
		}
	}
}

func TestParseUnknownWord(t *testing.T) {
	cases := []struct {
		in    string
		word  string
		index int
		sugg  []string
	}{
		{"abandn-ability-able", "abandn", 0, []string{"abandon"}},
		{"orbit-mango-fiscl-tiger", "fiscl", 2, []string{"fiscal", "final", "fish"}},
		{"orbit-mango-fiscal-Tigr", "tigr", 3, []string{"tiger"}},   // lower-cased in the error
		{"orbti mango fiscal tiger", "orbti", 0, []string{"orbit"}}, // transposition
		{"aban mango fiscal", "aban", 0, []string{"abandon"}},       // prefix
		{"orbit mangoo fiscal", "mangoo", 1, []string{"mango"}},
		{"orbit zzzzzz fiscal", "zzzzzz", 1, []string{}},
		{"orbit abandön fiscal", "abandön", 1, []string{"abandon"}},           // non-ASCII is not folded
		{"orbit fiscl tigr", "fiscl", 1, []string{"fiscal", "final", "fish"}}, // leftmost unknown word first
		{"orbti", "orbti", 0, []string{"orbit"}},                              // unknown word before word count
	}
	for _, c := range cases {
		_, err := Parse(c.in)
		var uw *UnknownWordError
		if !errors.As(err, &uw) || !errors.Is(err, ErrBadPassphrase) {
			t.Errorf("Parse(%q) = %v, want *UnknownWordError", c.in, err)
			continue
		}
		if uw.Word != c.word || uw.Index != c.index || !slices.Equal(uw.Suggestions, c.sugg) {
			t.Errorf("Parse(%q): word %q index %d suggestions %q; want %q %d %q", c.in, uw.Word, uw.Index, uw.Suggestions, c.word, c.index, c.sugg)
		}
		if len(c.sugg) > 0 && !strings.Contains(err.Error(), fmt.Sprintf("%q", c.sugg[0])) {
			t.Errorf("message %q does not suggest %q", err, c.sugg[0])
		}
	}
}

// TestParseDeterministic: the predecessor picked different channels from
// run to run. Parsing many times must give the same result every time.
func TestParseDeterministic(t *testing.T) {
	in := "Orbit_mango FISCAL-tiger"
	first := mustParse(t, in)
	for range 200 {
		p := mustParse(t, in)
		if p.Channel() != first.Channel() || p.String() != first.String() {
			t.Fatalf("Parse(%q) changed: %q vs %q", in, p, first)
		}
	}
	_, e1 := Parse("orbit-fiscl-tiger")
	for range 50 {
		if _, e := Parse("orbit-fiscl-tiger"); e.Error() != e1.Error() {
			t.Fatalf("error changed: %q vs %q", e, e1)
		}
	}
}

func TestGenerate(t *testing.T) {
	for _, n := range []int{0, MinWords, DefaultWords, 7, MaxWords} {
		p, err := Generate(n)
		if err != nil {
			t.Fatalf("Generate(%d): %v", n, err)
		}
		want := n
		if n == 0 {
			want = DefaultWords
		}
		if len(p.Words()) != want || p.EntropyBits() != float64((want-1)*11) {
			t.Fatalf("Generate(%d) = %q, %v bits", n, p, p.EntropyBits())
		}
		q, err := Parse(p.String())
		if err != nil || q.String() != p.String() {
			t.Fatalf("Generate(%d) = %q does not parse back: %v", n, p, err)
		}
	}
	for _, n := range []int{-1, 1, 2, MaxWords + 1} {
		if _, err := Generate(n); !errors.Is(err, ErrBadPassphrase) {
			t.Errorf("Generate(%d) = %v, want ErrBadPassphrase", n, err)
		}
	}
	// Two default passphrases colliding has probability 2^-44.
	a, _ := Generate(0)
	b, _ := Generate(0)
	if a.String() == b.String() {
		t.Fatalf("two generated passphrases are equal: %q", a)
	}
}

// TestGenerateUniform feeds every 16-bit value through generate: each of
// the 2048 words must come out exactly 32 times (no modulo bias).
func TestGenerateUniform(t *testing.T) {
	const n = MaxWords
	counts := make(map[string]int)
	var buf bytes.Buffer
	for v := range 1 << 16 {
		buf.Write([]byte{byte(v >> 8), byte(v)})
	}
	for buf.Len() >= 2*n {
		p, err := generate(&buf, n)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range p.Words() {
			counts[w]++
		}
	}
	// 2^16 values do not fill a whole number of 24-word draws: feed the rest.
	for buf.Len() > 0 {
		k := max(MinWords, buf.Len()/2)
		p, err := generate(&buf, k)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range p.Words() {
			counts[w]++
		}
	}
	if len(counts) != len(wordlist) {
		t.Fatalf("%d distinct words, want %d", len(counts), len(wordlist))
	}
	for w, c := range counts {
		if c != 1<<16/len(wordlist) {
			t.Fatalf("word %q drawn %d times, want %d", w, c, 1<<16/len(wordlist))
		}
	}
	// Known answers for the mapping.
	p, err := generate(bytes.NewReader([]byte{0, 0, 0x07, 0xff, 0x08, 0x00, 0xff, 0xff}), 4)
	if err != nil || p.String() != "abandon-zoo-abandon-zoo" {
		t.Fatalf("generate KAT = %q, %v", p, err)
	}
	if _, err := generate(bytes.NewReader([]byte{1, 2, 3}), 3); err == nil || errors.Is(err, ErrBadPassphrase) {
		t.Fatalf("short randomness: %v", err)
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv(EnvPassphrase, "")
	if p, ok, err := FromEnv(); ok || err != nil || !p.IsZero() {
		t.Fatalf("blank: %v %v %v", p, ok, err)
	}
	t.Setenv(EnvPassphrase, " Orbit mango fiscal tiger\n")
	if p, ok, err := FromEnv(); !ok || err != nil || p.String() != "orbit-mango-fiscal-tiger" {
		t.Fatalf("set: %q %v %v", p, ok, err)
	}
	t.Setenv(EnvPassphrase, "orbit mango fiscl")
	var uw *UnknownWordError
	if _, ok, err := FromEnv(); !ok || !errors.As(err, &uw) || !strings.Contains(err.Error(), EnvPassphrase) {
		t.Fatalf("bad: %v %v", ok, err)
	}
}

func TestPassphraseAccessors(t *testing.T) {
	var zero Passphrase
	if !zero.IsZero() || zero.Channel() != "" || zero.String() != "" || zero.EntropyBits() != 0 || len(zero.Words()) != 0 {
		t.Fatal("zero Passphrase is not empty")
	}
	p := mustParse(t, "orbit-mango-fiscal-tiger")
	if p.IsZero() || p.EntropyBits() != 33 || p.Channel() != "orbit" {
		t.Fatalf("accessors: %v %v %v", p.IsZero(), p.EntropyBits(), p.Channel())
	}
	w := p.Words()
	w[1] = "zoo"
	if p.String() != "orbit-mango-fiscal-tiger" {
		t.Fatal("Words exposes the internal slice")
	}
	// The secret words never reach logs or %#v.
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "pass", p)
	for _, out := range []string{logged.String(), fmt.Sprintf("%#v", p)} {
		if strings.Contains(out, "mango") || !strings.Contains(out, "orbit") {
			t.Errorf("%q leaks the secret or lacks the channel", out)
		}
	}
}
