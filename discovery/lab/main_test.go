package lab

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// skipReason is set by TestMain when the lab cannot run here.
var skipReason string

// pcpBin is the pcp binary built once by TestMain; pcpBuildErr is why it
// is missing.
var (
	pcpBin      string
	pcpBuildErr error
)

// helperEnv makes the test binary act as a small network tool inside a lab
// namespace (see runHelper) instead of running tests.
const helperEnv = "PCPLAB_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode, os.Args[1:]))
	}
	skipReason = labUnavailable()
	var tmp string
	if skipReason == "" {
		var err error
		tmp, err = os.MkdirTemp("", "pcplab-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "lab:", err)
			os.Exit(1)
		}
		pcpBin = filepath.Join(tmp, "pcp")
		start := time.Now()
		out, err := exec.Command("go", "build", "-tags", "pcplab", "-o", pcpBin, "../../cmd/pcp").CombinedOutput()
		if err != nil {
			pcpBuildErr = fmt.Errorf("go build -tags pcplab ../../cmd/pcp: %w\n%s", err, out)
		} else {
			fmt.Fprintf(os.Stderr, "lab: built pcp (-tags pcplab) in %v\n", time.Since(start).Round(time.Millisecond))
		}
	}
	code := m.Run()
	if tmp != "" {
		os.RemoveAll(tmp)
	}
	os.Exit(code)
}

// labUnavailable says why the lab cannot run, or "" when it can.
func labUnavailable() string {
	if os.Geteuid() != 0 {
		return "needs root (network namespaces, nftables); run `go test ./discovery/lab/` as root"
	}
	for _, tool := range []string{"ip", "nft", "unshare", "tc", "conntrack", "sysctl"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Sprintf("%s not found (apt-get install -y iproute2 nftables conntrack util-linux procps)", tool)
		}
	}
	if out, err := exec.Command("ip", "netns", "list").CombinedOutput(); err != nil {
		return fmt.Sprintf("ip netns does not work here: %v: %s", err, out)
	}
	return ""
}

// requirePCP skips like requireLab, and fails when the binary did not build.
func requirePCP(t testing.TB) {
	t.Helper()
	requireLab(t)
	if pcpBuildErr != nil {
		t.Fatal(pcpBuildErr)
	}
	if _, err := os.Stat(pcpBin); err != nil {
		t.Fatal(err)
	}
	sourcesOnce.Do(statSources)
}

var sourcesOnce sync.Once

// statSources stats the module's Go sources, go.mod and go.sum. The lab
// tests run a binary built from them, which `go test` cannot see; the
// stats are recorded in the test log, so a cached lab result is reused only
// while every source file is unchanged.
func statSources() {
	_ = filepath.WalkDir("../..", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		name := d.Name()
		if d.IsDir() {
			if p != "../.." && (strings.HasPrefix(name, ".") || name == "testdata" || name == "bin") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(name, ".go") || name == "go.mod" || name == "go.sum" {
			_, _ = os.Stat(p)
		}
		return nil
	})
}

// runHelper implements the helper modes used by the lab's self-test:
//
//	tcp-sink ADDR         accept one TCP connection, count bytes until EOF,
//	                      then write "<bytes> <nanoseconds>" back
//	tcp-send ADDR DUR     connect (2 s timeout), write for DUR, print the sink's reply
//	udp-echo ADDR...      answer every datagram with its source address
//	udp-probe ADDR...     from one socket, ask each echo for the mapped address
//
// Listeners print "ready" on stdout once bound.
func runHelper(mode string, args []string) int {
	if err := helper(mode, args); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	return 0
}

func helper(mode string, args []string) error {
	switch mode {
	case "tcp-sink":
		ln, err := net.Listen("tcp4", args[0])
		if err != nil {
			return err
		}
		fmt.Println("ready")
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		defer c.Close()
		buf := make([]byte, 64<<10)
		var n int64
		var first time.Time
		for {
			k, err := c.Read(buf)
			if k > 0 && first.IsZero() {
				first = time.Now()
			}
			n += int64(k)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
		}
		_, err = fmt.Fprintf(c, "%d %d\n", n, time.Since(first).Nanoseconds())
		return err
	case "tcp-send":
		d, err := time.ParseDuration(args[1])
		if err != nil {
			return err
		}
		c, err := net.DialTimeout("tcp4", args[0], 2*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		buf := make([]byte, 32<<10)
		end := time.Now().Add(d)
		for time.Now().Before(end) {
			if _, err := c.Write(buf); err != nil {
				return err
			}
		}
		if err := c.(*net.TCPConn).CloseWrite(); err != nil {
			return err
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return err
		}
		fmt.Print(line)
		return nil
	case "udp-echo":
		var conns []*net.UDPConn
		for _, a := range args {
			ua, err := net.ResolveUDPAddr("udp4", a)
			if err != nil {
				return err
			}
			c, err := net.ListenUDP("udp4", ua)
			if err != nil {
				return err
			}
			conns = append(conns, c)
		}
		fmt.Println("ready")
		errc := make(chan error, len(conns))
		for _, c := range conns {
			go func() {
				buf := make([]byte, 1500)
				for {
					_, from, err := c.ReadFromUDP(buf)
					if err != nil {
						errc <- err
						return
					}
					if _, err := c.WriteToUDP([]byte(from.String()), from); err != nil {
						errc <- err
						return
					}
				}
			}()
		}
		return <-errc
	case "udp-probe":
		c, err := net.ListenUDP("udp4", &net.UDPAddr{})
		if err != nil {
			return err
		}
		defer c.Close()
		buf := make([]byte, 1500)
		for _, a := range args {
			ua, err := net.ResolveUDPAddr("udp4", a)
			if err != nil {
				return err
			}
			got := ""
			for try := 0; try < 5 && got == ""; try++ {
				if _, err := c.WriteToUDP([]byte("?"), ua); err != nil {
					return err
				}
				_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
				n, _, err := c.ReadFromUDP(buf)
				if err == nil {
					got = string(buf[:n])
				}
			}
			if got == "" {
				return fmt.Errorf("no answer from %s", a)
			}
			fmt.Println(got)
		}
		return nil
	}
	return fmt.Errorf("unknown helper mode %q", mode)
}

// parseSinkReply turns the tcp-sink's "<bytes> <ns>" into bits per second.
func parseSinkReply(s string) (float64, error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return 0, fmt.Errorf("bad sink reply %q", s)
	}
	n, err1 := strconv.ParseInt(f[0], 10, 64)
	ns, err2 := strconv.ParseInt(f[1], 10, 64)
	if err := errors.Join(err1, err2); err != nil || ns <= 0 {
		return 0, fmt.Errorf("bad sink reply %q: %v", s, err)
	}
	return float64(n) * 8 / (float64(ns) / 1e9), nil
}
