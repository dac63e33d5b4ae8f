//go:build unix

package main

import "syscall"

// settle flushes dirty pages so that writing a workload does not slow down
// the measurement that follows it.
func settle() { syscall.Sync() }
