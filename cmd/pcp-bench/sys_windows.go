package main

import "os"

// maxRSS: the child's peak working set is not reported here; 0.
func maxRSS(*os.ProcessState) int64 { return 0 }

// settle: Windows has no sync(2); a measurement may pay for the write-back
// of the workload written before it.
func settle() {}
