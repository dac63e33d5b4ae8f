package engine

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pcp-p2p/pcp/manifest"
)

// The spool keeps every chunk of a stream offer on disk, so any receiver
// can fetch any announced chunk at any time (StreamSpooled): a receiver
// that drops resumes, and a second one starts from chunk 0. Two files in
// the state directory, created exclusively (0600) and named by the stream's
// id: the chunks at i*chunk size, and their hashes at i*32, which is where
// announcements are read back from (no list of hashes in memory). Both are
// removed when Send returns. A spool holds a lock on its chunks file
// (spoollock_GOOS.go); one left behind by a pcp that died (SIGKILL, a crash)
// holds none, and the next stream offer in that directory removes it.

// ErrSpoolFull: a stream offer outgrew its spool (SendOptions.SpoolMax, or
// the free space in the state directory less spoolReserve).
var ErrSpoolFull = errors.New("the spool of standard input is full")

// spoolReserve is the free space a spool without SpoolMax leaves in the
// state directory.
const spoolReserve = 64 << 20

type spool struct {
	dir          string
	cs           int64
	limit        int64 // SpoolMax; 0 = free space less spoolReserve
	free         func(string) (int64, bool)
	dataF, hashF *os.File
	kept         int64 // bytes written; only put writes it
}

// newSpool creates the spool's files in dir ("" = os.TempDir()).
func newSpool(dir string, id [32]byte, cs uint32, limit int64, free func(string) (int64, bool)) (*spool, error) {
	if dir == "" {
		dir = os.TempDir()
	}
	sweepSpools(dir, time.Now())
	base := filepath.Join(dir, spoolPrefix+hex.EncodeToString(id[:8]))
	data, err := os.OpenFile(base+spoolExt, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating the spool: %w", err)
	}
	if err := lockSpool(data); err != nil {
		data.Close()
		os.Remove(data.Name())
		return nil, fmt.Errorf("locking the spool: %w", err)
	}
	hashes, err := os.OpenFile(base+hashesExt, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		data.Close()
		os.Remove(data.Name())
		return nil, fmt.Errorf("creating the spool: %w", err)
	}
	return &spool{dir: dir, cs: int64(cs), limit: limit, free: free, dataF: data, hashF: hashes}, nil
}

// A spool's files: spoolPrefix + id + spoolExt (chunks) and hashesExt.
const (
	spoolPrefix = "pcp-stream-"
	spoolExt    = ".spool"
	hashesExt   = ".hashes"
	// spoolSweepAge spares a spool just created, not yet locked.
	spoolSweepAge = time.Minute
)

// sweepSpools removes the spools in dir that no process holds: left by a
// pcp send that died before it could remove them.
func sweepSpools(dir string, now time.Time) {
	if !spoolLocks {
		return
	}
	names, _ := filepath.Glob(filepath.Join(dir, spoolPrefix+"*"+spoolExt))
	for _, name := range names {
		f, err := os.OpenFile(name, os.O_RDWR, 0)
		if err != nil {
			continue
		}
		st, err := f.Stat()
		stale := err == nil && now.Sub(st.ModTime()) > spoolSweepAge && lockSpool(f) == nil
		f.Close()
		if stale {
			os.Remove(name)
			os.Remove(strings.TrimSuffix(name, spoolExt) + hashesExt)
		}
	}
}

func (s *spool) put(_ context.Context, i uint64, data []byte, h manifest.Hash) error {
	n := int64(len(data))
	if s.limit > 0 && s.kept+n > s.limit {
		return fmt.Errorf("%w: %d bytes of standard input are spooled, and the next %d would pass the limit of %d (--spool-max); "+
			"raise it, or send with --no-spool (a dropped receiver cannot resume then)", ErrSpoolFull, s.kept, n, s.limit)
	}
	if s.limit <= 0 {
		if free, ok := s.free(s.dir); ok && free-n < spoolReserve {
			return fmt.Errorf("%w: %d bytes of standard input are spooled in %s, which has %d bytes free; "+
				"pcp leaves %d MiB free: give a smaller --spool-max or more room, or send with --no-spool (a dropped receiver cannot resume then)",
				ErrSpoolFull, s.kept, s.dir, free, spoolReserve>>20)
		}
	}
	if _, err := s.dataF.WriteAt(data, int64(i)*s.cs); err != nil {
		return fmt.Errorf("writing the spool: %w", err)
	}
	if _, err := s.hashF.WriteAt(h[:], int64(i)*manifest.HashSize); err != nil {
		return fmt.Errorf("writing the spool: %w", err)
	}
	s.kept += n
	return nil
}

func (s *spool) hashes(first uint64, into []manifest.Hash) error {
	buf := make([]byte, len(into)*manifest.HashSize)
	if _, err := s.hashF.ReadAt(buf, int64(first)*manifest.HashSize); err != nil {
		return fmt.Errorf("reading the spool: %w", err)
	}
	for j := range into {
		into[j] = manifest.Hash(buf[j*manifest.HashSize:][:manifest.HashSize])
	}
	return nil
}

func (s *spool) read(i uint64, buf []byte) (manifest.Hash, error) {
	var h manifest.Hash
	if _, err := s.hashF.ReadAt(h[:], int64(i)*manifest.HashSize); err != nil {
		return h, fmt.Errorf("reading the spool: %w", err)
	}
	if _, err := s.dataF.ReadAt(buf, int64(i)*s.cs); err != nil {
		return h, fmt.Errorf("reading the spool: %w", err)
	}
	return h, nil
}

func (s *spool) served(uint64) {}

// close removes the files.
func (s *spool) close() error {
	err := errors.Join(s.dataF.Close(), s.hashF.Close())
	return errors.Join(err, os.Remove(s.dataF.Name()), os.Remove(s.hashF.Name()))
}
