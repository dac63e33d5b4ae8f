package main

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
)

// The pipe row: the random file fed to `pcp send -` through a pipe, and
// received with Stdout (`pcp receive --stdout`) into a writer that counts
// the bytes. The sender spools, as it does by default, into a directory
// beside the receiver's destination; the receive keeps no resume log (its
// output is a pipe: there is nothing to resume into).

// pipeTransfer runs one pipe transfer of the file at path (size bytes) on
// route rt and checks that size bytes came out.
func pipeTransfer(rt *route, path string, size int64) result {
	dest := filepath.Join(filepath.Dir(filepath.Dir(path)), "out-pipe")
	check(os.MkdirAll(dest+".spool", 0o700))
	defer os.RemoveAll(dest + ".spool")
	os.Setenv("PCP_BENCH_PIPE", path)
	os.Setenv("PCP_BENCH_NOLOG", "1")
	defer os.Unsetenv("PCP_BENCH_PIPE")
	defer os.Unsetenv("PCP_BENCH_NOLOG")
	r := transfer(rt, filepath.Dir(path), dest, nil)
	if r.fetched != size {
		fail("pipe: %d bytes came out of %d", r.fetched, size)
	}
	return r
}

// pipeInput is what the sender child reads as its standard input: exec
// copies it into a pipe, so the child reads a pipe, not the file.
func pipeInput(path string) io.Reader {
	f, err := os.Open(path)
	check(err)
	return bufio.NewReaderSize(f, 1<<20)
}

// countWriter counts what the receiver writes to its standard output.
type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

// writer is w as an io.Writer, or nil (not a nil *countWriter) without one.
func (w *countWriter) writer() io.Writer {
	if w == nil {
		return nil
	}
	return w
}
