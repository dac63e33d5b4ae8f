package discovery

import (
	"testing"
	"time"
)

// cpuTime: the CPU-time check runs on Unix only (getrusage); Windows test
// binaries cannot run on our CI machines anyway.
func cpuTime(t testing.TB) time.Duration {
	t.Skip("process CPU time is measured with getrusage, Unix only")
	return 0
}
