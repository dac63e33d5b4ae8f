package engine

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pcp-p2p/pcp/manifest"
)

// A spool left by a pcp that died holds no lock: the next spool in the
// directory removes it. A spool in use (locked), however old, and one just
// created are left alone.
func TestSpoolSweepsOnlyAbandoned(t *testing.T) {
	if !spoolLocks {
		t.Skip("no file locks on this platform: spools are never swept")
	}
	dir := t.TempDir()
	old := time.Now().Add(-2 * spoolSweepAge)
	file := func(name string, mtime time.Time) string {
		p := filepath.Join(dir, name)
		writeFile(t, p, []byte("left"))
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		return p
	}
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	noSpace := func(string) (int64, bool) { return 0, false }

	abandoned := []string{file("pcp-stream-dead.spool", old), file("pcp-stream-dead.hashes", old)}
	live, err := newSpool(dir, [32]byte{1}, manifest.MinChunkSize, 0, noSpace)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range abandoned {
		if exists(p) {
			t.Errorf("%s: an abandoned spool was kept", filepath.Base(p))
		}
	}
	for _, f := range []*os.File{live.dataF, live.hashF} {
		if err := os.Chtimes(f.Name(), old, old); err != nil {
			t.Fatal(err)
		}
	}
	young := file("pcp-stream-young.spool", time.Now())
	other, err := newSpool(dir, [32]byte{2}, manifest.MinChunkSize, 0, noSpace)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{live.dataF.Name(), live.hashF.Name(), young} {
		if !exists(p) {
			t.Errorf("%s: swept while in use or just created", filepath.Base(p))
		}
	}
	for _, s := range []*spool{live, other} {
		names := []string{s.dataF.Name(), s.hashF.Name()}
		if err := s.close(); err != nil {
			t.Fatal(err)
		}
		for _, p := range names {
			if exists(p) {
				t.Errorf("%s: kept after close", filepath.Base(p))
			}
		}
	}
}
