package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pcp-p2p/pcp/auth"
	"github.com/pcp-p2p/pcp/engine"
)

func TestExitCodeTable(t *testing.T) {
	cases := []struct {
		err         error
		interrupted bool
		want        int
	}{
		{nil, false, exitOK},
		{nil, true, exitOK},
		{errors.New("disk on fire"), false, exitOther},
		{usageError{errors.New("x")}, false, exitUsage},
		{fmt.Errorf("parse: %w", auth.ErrBadPassphrase), false, exitUsage},
		{&auth.UnknownWordError{Word: "zzz"}, false, exitUsage},
		{fmt.Errorf("x: %w", engine.ErrWrongPassphrase), false, exitWrongPass},
		{engine.ErrTooManyFailures, false, exitWrongPass},
		{fmt.Errorf("x: %w", auth.ErrHandshake), false, exitWrongPass},
		{fmt.Errorf("%w within 2m", engine.ErrPeerNotFound), false, exitNotFound},
		{fmt.Errorf("%w: link down", engine.ErrInterrupted), false, exitInterrupted},
		{context.Canceled, false, exitInterrupted},
		{engine.ErrDeclined, true, exitInterrupted}, // Ctrl-C at the prompt
		{engine.ErrVerifyFailed, false, exitVerify},
		{fmt.Errorf("%w: bad chunks", engine.ErrPeerMisbehaving), false, exitVerify},
		{engine.ErrDeclined, false, exitDeclined},
		{fmt.Errorf("%w: [a] (use --overwrite)", engine.ErrExists), false, exitDeclined},
	}
	for _, c := range cases {
		if got := exitCode(c.err, c.interrupted); got != c.want {
			t.Errorf("exitCode(%v, %v) = %d, want %d", c.err, c.interrupted, got, c.want)
		}
	}
}

func TestMessageHidesContextCanceled(t *testing.T) {
	err := fmt.Errorf("%w: %w", engine.ErrInterrupted, context.Canceled)
	if m := message(err); m != "transfer interrupted" {
		t.Errorf("message = %q", m)
	}
	if m := message(context.Canceled); m != "interrupted" {
		t.Errorf("message(Canceled) = %q", m)
	}
}

func TestHumanBytes(t *testing.T) {
	cases := map[int64]string{
		0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 412 << 20: "412 MiB",
		1 << 30: "1.0 GiB", 10 << 30: "10 GiB", 15*(1<<30) + (1 << 29): "15.5 GiB", 3 << 40: "3.0 TiB",
	}
	for n, want := range cases {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
	if got := humanDuration(65 * time.Second); got != "1m05s" {
		t.Errorf("humanDuration = %q", got)
	}
	if got := plural(3, "directory"); got != "3 directories" {
		t.Errorf("plural = %q", got)
	}
}

func TestResumeLine(t *testing.T) {
	got := resumeLine(engine.ResumedEvent{ResumeBytes: 412 << 20, TotalBytes: 1 << 30})
	if got != "resuming: 412 MiB of 1.0 GiB already verified" {
		t.Errorf("resumeLine = %q", got)
	}
	got = resumeLine(engine.ResumedEvent{ResumeBytes: 100 << 20, PresentBytes: 200 << 20, TotalBytes: 1 << 30})
	if !strings.HasPrefix(got, "resuming: 300 MiB of 1.0 GiB already verified (100 MiB from the resume log") {
		t.Errorf("resumeLine = %q", got)
	}
}

func TestNetFlags(t *testing.T) {
	env := func(k string) string {
		if k == EnvBootstrap {
			return "/ip4/1.2.3.4/tcp/1/p2p/A, /ip4/5.6.7.8/tcp/2/p2p/B"
		}
		return ""
	}
	var n netFlags
	o, err := n.options(env)
	if err != nil || len(o.Bootstrap) != 2 || o.Bootstrap[1] != "/ip4/5.6.7.8/tcp/2/p2p/B" {
		t.Fatalf("env bootstrap: %v %v", o.Bootstrap, err)
	}
	n = netFlags{bootstrap: []string{"/x/1,/x/2", "/x/3"}}
	if o, _ = n.options(env); strings.Join(o.Bootstrap, " ") != "/x/1 /x/2 /x/3" {
		t.Errorf("flag bootstrap (overrides env): %v", o.Bootstrap)
	}
	for _, bad := range []netFlags{{mdnsOnly: true, dhtOnly: true}, {noDiscovery: true, mdnsOnly: true}, {timeout: -1}} {
		var ue usageError
		if _, err := bad.options(env); !errors.As(err, &ue) {
			t.Errorf("%+v: err %v, want a usage error", bad, err)
		}
	}
}

func TestChoosePassphrase(t *testing.T) {
	noEnv := func(string) string { return "" }
	p, err := choosePassphrase("", 5, noEnv)
	if err != nil || len(p.Words()) != 5 {
		t.Fatalf("generated: %v %v", p.Words(), err)
	}
	env := func(k string) string {
		if k == auth.EnvPassphrase {
			return "Lemon Orbit Tiger Salad"
		}
		return ""
	}
	if p, err = choosePassphrase("", 4, env); err != nil || p.String() != "lemon-orbit-tiger-salad" {
		t.Errorf("env: %q %v", p.String(), err)
	}
	if p, err = choosePassphrase("abandon-ability-able", 4, env); err != nil || p.String() != "abandon-ability-able" {
		t.Errorf("flag over env: %q %v", p.String(), err)
	}
	for _, c := range []struct {
		flag  string
		words int
	}{{"lemon-orbitt-tiger", 4}, {"", 2}, {"", 99}} {
		if _, err := choosePassphrase(c.flag, c.words, noEnv); exitCode(err, false) != exitUsage {
			t.Errorf("%+v: err %v, want usage", c, err)
		}
	}
	if got := receiveWords([]string{"lemon", "orbit", "tiger"}, "x", env); got != "lemon orbit tiger" {
		t.Errorf("receiveWords args = %q", got)
	}
	if got := receiveWords(nil, "", env); got != "Lemon Orbit Tiger Salad" {
		t.Errorf("receiveWords env = %q", got)
	}
}

// fakeClock advances by step on every call.
func fakeClock(step time.Duration) func() time.Time {
	t := time.Unix(1_000_000, 0)
	return func() time.Time { t = t.Add(step); return t }
}

func TestJSONRendering(t *testing.T) {
	var out, errw bytes.Buffer
	u := newUI(modeJSON, &out, &errw, "receive")
	u.now = fakeClock(10 * time.Millisecond)
	u.event(engine.AuthenticatedEvent{Peer: "12D3KooWabc", Path: "direct"})
	u.event(engine.ResumedEvent{PresentBytes: 10, ResumeBytes: 30, TotalBytes: 100})
	for i := range 50 { // 0.5 s of events at 10 ms: throttled to about 2
		u.event(engine.ProgressEvent{Bytes: 40 + int64(i), TotalBytes: 100, Files: 1, FilesTotal: 2, Path: "direct", Streams: 4})
	}
	u.event(engine.ProgressEvent{Bytes: 100, TotalBytes: 100, Files: 2, FilesTotal: 2})
	u.event(engine.DoneEvent{Summary: engine.Summary{ManifestBytes: 100, WireBytes: 60, SkippedBytes: 40,
		ChunksRefetched: 1, Duration: 1500 * time.Millisecond, Path: "direct", Streams: 4, Files: 2}})
	u.say("human text must not appear")
	var names []string
	var progress int
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if !strings.HasPrefix(l, `{"event":`) {
			t.Fatalf("line does not start with the event name: %q", l)
		}
		var ev map[string]any
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("bad JSON %q: %v", l, err)
		}
		name := ev["event"].(string)
		if name == "progress" {
			progress++
			continue
		}
		names = append(names, name)
		switch name {
		case "resumed":
			if num(ev, "bytes") != 40 || num(ev, "resume_bytes") != 30 || num(ev, "present_bytes") != 10 {
				t.Errorf("resumed: %v", ev)
			}
		case "done":
			if num(ev, "manifest_bytes") != 100 || num(ev, "wire_bytes") != 60 || num(ev, "skipped_bytes") != 40 ||
				num(ev, "chunks_refetched") != 1 || num(ev, "duration_ms") != 1500 || ev["path"] != "direct" {
				t.Errorf("done: %v", ev)
			}
		}
	}
	if strings.Join(names, ",") != "authenticated,resumed,done" {
		t.Errorf("events %v", names)
	}
	if progress < 2 || progress > 4 {
		t.Errorf("%d progress events, want 2-4 (throttled, final one kept)", progress)
	}
	if errw.Len() != 0 {
		t.Errorf("stderr written in JSON mode: %q", errw.String())
	}
}

func TestPlainRendering(t *testing.T) {
	var out, errw bytes.Buffer
	u := newUI(modePlain, &out, &errw, "receive")
	u.now = fakeClock(100 * time.Millisecond)
	u.event(engine.ResumedEvent{ResumeBytes: 412 << 20, TotalBytes: 1 << 30})
	for i := range 100 { // 10 s at 100 ms per event: one line per 2 s
		u.event(engine.ProgressEvent{Bytes: (412 << 20) + int64(i)<<20, TotalBytes: 1 << 30, Files: 3, FilesTotal: 10, Path: "relayed", Streams: 4})
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if lines[0] != "resuming: 412 MiB of 1.0 GiB already verified" {
		t.Errorf("first line %q", lines[0])
	}
	prog := lines[1:]
	if len(prog) < 4 || len(prog) > 6 {
		t.Fatalf("%d progress lines in 10 s, want about 5:\n%s", len(prog), out.String())
	}
	last := prog[len(prog)-1]
	for _, want := range []string{"receiving:", "of 1.0 GiB", "MiB/s", "ETA", "files 3/10", "relayed", "4 streams"} {
		if !strings.Contains(last, want) {
			t.Errorf("progress line %q lacks %q", last, want)
		}
	}
}

func TestTTYRenderingDrawsBar(t *testing.T) {
	var out, errw bytes.Buffer
	u := newUI(modeTTY, &out, &errw, "receive")
	u.event(engine.ProgressEvent{Bytes: 50 << 20, TotalBytes: 100 << 20, Files: 1, FilesTotal: 2, Current: "dir/file.bin", Path: "direct", Streams: 4})
	u.event(engine.DoneEvent{Summary: engine.Summary{ManifestBytes: 100 << 20, Files: 2, Path: "direct", Streams: 4}})
	bar := errw.String()
	// The last frame shows the totals (xfer.go's lastFrame).
	for _, want := range []string{"2/2 files", "direct", "4 streams", "MiB"} {
		if !strings.Contains(bar, want) {
			t.Errorf("bar lacks %q: %q", want, bar)
		}
	}
	if !strings.Contains(out.String(), "Done: 2 files") {
		t.Errorf("summary: %q", out.String())
	}
}

func TestRunUsageErrorsInProcess(t *testing.T) {
	for _, args := range [][]string{{"send"}, {"nope"}, {"receive", "--streams", "x"}, {"status", "--all"}} {
		var out, errw bytes.Buffer
		if code := run(args, strings.NewReader(""), &out, &errw); code != exitUsage {
			t.Errorf("run %v = %d, want %d; stderr %q", args, code, exitUsage, errw.String())
		}
		if !strings.HasPrefix(errw.String(), "pcp: ") {
			t.Errorf("run %v: stderr %q", args, errw.String())
		}
	}
	var out, errw bytes.Buffer
	if code := run([]string{"version", "--json"}, nil, &out, &errw); code != 0 || !strings.Contains(out.String(), `"event":"version"`) {
		t.Errorf("version --json: %d %q", code, out.String())
	}
}

func TestPrompter(t *testing.T) {
	var errw bytes.Buffer
	p := newPrompter(strings.NewReader("lemon orbit tiger salad\nYES\n"), &errw)
	ctx := context.Background()
	if s, err := p.secret(ctx, "Passphrase: "); err != nil || s != "lemon orbit tiger salad" {
		t.Fatalf("secret %q %v", s, err)
	}
	if ok, err := p.yesNo(ctx, "Accept?"); !ok || err != nil {
		t.Errorf("yesNo(YES) = %v %v", ok, err)
	}
	if ok, err := p.yesNo(ctx, "Accept?"); ok || !errors.Is(err, errNoAnswer) {
		t.Errorf("yesNo at EOF = %v %v", ok, err)
	}
	if !strings.Contains(errw.String(), "Accept? [y/N] YES") {
		t.Errorf("prompt output %q", errw.String())
	}
}
