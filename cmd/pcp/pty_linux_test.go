package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal pair, so that pcp sees a terminal on
// stdout and stderr and draws what a user sees.
func openPTY(t testing.TB) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		m.Close()
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// runOnTTY runs pcp with stdout and stderr on a terminal and returns its
// exit code and everything it drew.
func runOnTTY(t *testing.T, state string, args ...string) (int, string) {
	t.Helper()
	m, s := openPTY(t)
	cmd := exec.Command(pcpBin, args...)
	cmd.Env = childEnv("PCP_STATE_DIR="+state, "TERM=xterm")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, s, s
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.Close() // the child holds its copy: reading ends when it exits
	var out bytes.Buffer
	read := make(chan error, 1)
	go func() {
		_, err := io.Copy(&out, m)
		read <- err
	}()
	select {
	case err := <-read:
		// Linux reports EIO on the master once the last slave closes.
		if err != nil && !errors.Is(err, syscall.EIO) {
			t.Fatalf("reading the terminal: %v", err)
		}
	case <-time.After(eventWait):
		_ = cmd.Process.Kill()
		t.Fatalf("pcp %v did not finish; it drew:\n%q", args, out.String())
	}
	return exitCodeOf(t, cmd.Wait()), out.String()
}
