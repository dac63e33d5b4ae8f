package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// slowRate is the shaped link of the slow workload (the sender's egress).
const slowRate = "200mbit"

// slowLink runs Go source over the default route's veth shaped to
// slowRate: rsync -z against pcp's default path, in delivered MB/s and in
// bytes on the wire. It needs the namespace pair (root, Linux).
func slowLink(dflt *route, work string, size int64, row func(name string, mbs, ref float64, r result)) {
	if dflt.ns == nil {
		fmt.Printf("%-46s skipped: needs root and network namespaces\n", "slow link ("+slowRate+")")
		return
	}
	undo, err := dflt.ns.limit(slowRate)
	if err != nil {
		fmt.Printf("%-46s skipped: %v\n", "slow link ("+slowRate+")", err)
		return
	}
	defer undo()
	src := filepath.Join(work, "gosrc")
	writeGoSource(filepath.Join(src, "go.txt"), size)
	defer os.RemoveAll(src)
	var ref float64
	before := dflt.ns.sentBytes()
	if ensureRsync() {
		v, note, ok := rsyncCeiling(src, work, true, dflt)
		if ok {
			ref = v
			row(fmt.Sprintf("ceiling: rsync -z Go src %s (%d MB wire)", slowRate, (dflt.ns.sentBytes()-before)/1e6), v, v, result{})
		} else {
			fmt.Printf("%-46s skipped: %s\n", "rsync -z Go source, "+slowRate, note)
		}
	}
	before = dflt.ns.sentBytes()
	r := transfer(dflt, src, filepath.Join(work, "out-gosrc"), nil)
	row(fmt.Sprintf("pcp Go src %s (%s, %d MB wire)", slowRate, r.transport, (dflt.ns.sentBytes()-before)/1e6), mb(size, r.elapsed), ref, r)
}

// writeGoSource writes n bytes of the Go tree's .go files, concatenated
// (and repeated if the tree is smaller).
func writeGoSource(path string, n int64) {
	check(os.MkdirAll(filepath.Dir(path), 0o755))
	f, err := os.Create(path)
	check(err)
	var written int64
	for written < n {
		before := written
		check(filepath.WalkDir(filepath.Join(runtime.GOROOT(), "src"), func(p string, d fs.DirEntry, err error) error {
			if err != nil || written >= n || d.IsDir() || !strings.HasSuffix(p, ".go") || !d.Type().IsRegular() {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return nil
			}
			b = b[:min(int64(len(b)), n-written)]
			_, err = f.Write(b)
			written += int64(len(b))
			return err
		}))
		if written == before {
			fail("no Go source under %s", runtime.GOROOT())
		}
	}
	check(f.Close())
	settle()
}
