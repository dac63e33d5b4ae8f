//go:build !linux

package main

import (
	"errors"
	"os/exec"
)

// netPair: network namespaces are Linux only; the default path runs in the
// current one.
type netPair struct{ ip [2]string }

func newNetPair() (*netPair, error) { return nil, errors.New("no network namespaces here") }

func (p *netPair) command(int, string, ...string) *exec.Cmd { panic("unreachable") }

func (p *netPair) close() {}

func (p *netPair) limit(string) (func(), error) { return nil, errors.New("no network namespaces here") }

func (p *netPair) sentBytes() int64 { return 0 }
