package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// TestSendStdinTerminal: pcp send - with a terminal as standard input
// refuses at once (a usage error that says why) instead of waiting for
// someone to type a stream.
func TestSendStdinTerminal(t *testing.T) {
	_, slave := openPTY(t)
	cmd := exec.Command(pcpBin, "send", "--no-discovery", "-")
	cmd.Env = childEnv("PCP_STATE_DIR=" + t.TempDir())
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, &out, &errb
	if code := exitCodeOf(t, cmd.Run()); code != exitUsage {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitUsage, out.String(), errb.String())
	}
	if !strings.Contains(errb.String(), "terminal") || strings.Contains(out.String()+errb.String(), "Passphrase") {
		t.Fatalf("stdout %q, stderr %q: want a refusal naming the terminal, before any words", out.String(), errb.String())
	}
}
