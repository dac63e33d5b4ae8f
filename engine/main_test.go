package engine

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails the run if any goroutine is still executing engine code
// after every test finished: senders, receivers, stream workers, committers
// and progress tickers must all have ended. (libp2p keeps some process-wide
// goroutines of its own; they are not ours to judge.)
func TestMain(m *testing.M) {
	swarmByDefault = os.Getenv("PCP_TEST_SWARM") != "0"
	code := m.Run()
	if code == 0 && os.Getenv("PCP_CHILD") == "" {
		if leaked := waitForEngineGoroutines(10 * time.Second); leaked != "" {
			fmt.Fprintf(os.Stderr, "leaked engine goroutines:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

func waitForEngineGoroutines(timeout time.Duration) string {
	deadline := time.Now().Add(timeout)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var leaked []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "pcp-p2p/pcp/engine.") && !strings.Contains(g, "engine.TestMain") &&
				!strings.Contains(g, "engine.waitForEngineGoroutines") {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 {
			return ""
		}
		if time.Now().After(deadline) {
			return strings.Join(leaked, "\n\n")
		}
		time.Sleep(50 * time.Millisecond) // polling the runtime's own state; there is no event to wait on
	}
}
