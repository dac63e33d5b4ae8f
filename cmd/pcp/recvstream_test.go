package main

import (
	"strings"
	"testing"

	"github.com/pcp-p2p/pcp/engine"
)

func TestStreamOfferLine(t *testing.T) {
	cases := []struct {
		o    engine.StreamOffer
		want []string
	}{
		{engine.StreamOffer{Name: "backup.tar", Spooled: true}, []string{`"backup.tar"`, "size unknown", "into the file", "can resume"}},
		{engine.StreamOffer{Name: "stdin", Stdout: true}, []string{"standard output, from byte 0", "cannot resume"}},
		{engine.StreamOffer{Name: "stdin", Stdout: true, Spooled: true}, []string{"standard output, from byte 0."}},
		{engine.StreamOffer{Name: "x", Spooled: true, ResumeBytes: 3 << 20}, []string{"Resuming: 3.0 MiB"}},
		{engine.StreamOffer{Name: "x", Spooled: true, Restarted: true}, []string{"starting over"}},
		{engine.StreamOffer{Name: "a\x1b[2Jb"}, []string{`"a\x1b[2Jb"`}},
	}
	for _, c := range cases {
		got := streamOfferLine(c.o)
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("streamOfferLine(%+v) = %q, want it to contain %q", c.o, got, w)
			}
		}
		if strings.Contains(got, "\x1b") {
			t.Errorf("streamOfferLine(%+v) = %q holds a raw escape", c.o, got)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"10G": 10 << 30, "500M": 500 << 20, "1024": 1024, "1.5K": 1536, "2GiB": 2 << 30} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "lots", "-1G", "10M/s", "0"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) succeeded", in)
		}
	}
}
