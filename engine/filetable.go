package engine

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/pcp-p2p/pcp/manifest"
)

// fileTable tracks the files being fetched: registered by the feeder before
// their first chunk is handed out, dropped once renamed into place. It
// holds only files in flight, never one record per manifest entry.
type fileTable struct {
	r    *receiver
	mu   sync.Mutex
	open map[int]*openFile
	peak int // the most files open at once (tests assert the bound)
	// syncErr is the first failed fsync of a staging file as it was closed
	// (syncEachFile): the chunks written to it may not be durable, so no
	// later batch may be recorded.
	syncErr error
}

type openFile struct {
	sf        *stagedFile   // nil until the first write, and after the last
	opening   chan struct{} // non-nil while a stream opens or closes sf; closed when done
	writeLeft int64         // chunks still to write this run
	syncLeft  int64         // chunks still to become durable (committed)
}

func newFileTable(r *receiver) *fileTable {
	return &fileTable{r: r, open: make(map[int]*openFile)}
}

// expect registers file i with n chunks to fetch.
func (t *fileTable) expect(i int, n int64) {
	t.mu.Lock()
	t.open[i] = &openFile{writeLeft: n, syncLeft: n}
	t.peak = max(t.peak, len(t.open))
	t.mu.Unlock()
}

// committed records one chunk of file i as durable and reports whether it
// was the file's last.
func (t *fileTable) committed(i int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	of := t.open[i]
	if of == nil {
		return false
	}
	of.syncLeft--
	if of.syncLeft > 0 {
		return false
	}
	if of.sf != nil { // cannot happen: the last write closes it
		of.sf.close()
	}
	delete(t.open, i)
	return true
}

// forget drops file i (nothing to fetch: finalized directly).
func (t *fileTable) forget(i int) {
	t.mu.Lock()
	delete(t.open, i)
	t.mu.Unlock()
}

func (t *fileTable) get(i int, name string, size int64) (*stagedFile, error) {
	for {
		t.mu.Lock()
		of := t.open[i]
		if of == nil {
			t.mu.Unlock()
			return nil, fmt.Errorf("internal error: chunk of %s, which is not being fetched", name)
		}
		if sf := of.sf; sf != nil {
			t.mu.Unlock()
			return sf, nil
		}
		if wait := of.opening; wait != nil { // another stream is opening it
			t.mu.Unlock()
			<-wait
			continue
		}
		of.opening = make(chan struct{})
		t.mu.Unlock()
		// Open outside the lock: creating files is the receiver's costliest
		// system call with many small files, and streams work on different
		// files. A fresh staging file is created exclusively, so only one
		// stream may try.
		sf, err := t.openStaged(i, size)
		t.mu.Lock()
		of.sf = sf
		close(of.opening)
		of.opening = nil
		t.mu.Unlock()
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", errWrite, name, err)
		}
		return sf, nil
	}
}

// openStaged opens the staging file of entry i. A fresh file is created
// exclusively and never through a symlink (apply removed every name the
// log does not vouch for); a resumed one must be the regular file the plan
// saw (createStaged, openResumed).
func (t *fileTable) openStaged(i int, size int64) (*stagedFile, error) {
	stage := strconv.Itoa(i)
	sd := t.r.stageDir
	var f *os.File
	var err error
	if t.r.plan.state[i] == stFresh {
		f, err = t.r.createStaged(stage)
	} else if f, err = openResumed(sd, stage); err == nil {
		// A longer file cannot come from this transfer's writes; chunks
		// written past the end extend a shorter one. (A new one is empty.)
		if st, serr := f.Stat(); serr == nil && st.Size() > size {
			if err = f.Truncate(size); err != nil {
				f.Close()
			}
		}
	}
	if err != nil {
		return nil, err
	}
	sf := &stagedFile{File: f}
	if size >= int64(t.r.cs) {
		// Full chunks go around the page cache (see stagedFile). A file
		// system without O_DIRECT (tmpfs) refuses the open: fine. Files
		// smaller than a chunk do not: an O_DIRECT write waits for the
		// device, one small file at a time, after a second open. Paired
		// runs of pcp-bench -size 16 -only small: 2.7-4.8 s, against
		// 4.9-6.3 s with O_DIRECT from 4 KiB up.
		if d, err := openDirect(sd, stage); err == nil {
			if sameFile(f, d) {
				sf.direct.Store(d)
			} else {
				d.Close()
			}
		}
	}
	return sf, nil
}

// sameFile reports whether a and b are open on the same inode.
func sameFile(a, b *os.File) bool {
	x, err1 := a.Stat()
	y, err2 := b.Stat()
	return err1 == nil && err2 == nil && os.SameFile(x, y)
}

// createStaged creates staging file name exclusively: O_CREATE|O_EXCL
// never follows a symlink, and an existing name fails (createIn).
func (r *receiver) createStaged(name string) (*os.File, error) {
	return createIn(r.stageFile, r.stageDir, name)
}

// openResumed opens an existing staging file for writing, only if the name
// is a regular file itself (not a symlink to one).
func openResumed(sd *os.Root, name string) (*os.File, error) {
	lst, err := sd.Lstat(name)
	if err != nil {
		return nil, err
	}
	if !lst.Mode().IsRegular() {
		return nil, fmt.Errorf("staging file %s is not a regular file", name)
	}
	f, err := sd.OpenFile(name, os.O_RDWR|oNoFollow, 0)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err != nil || !os.SameFile(st, lst) {
		f.Close()
		return nil, fmt.Errorf("staging file %s changed while opened", name)
	}
	return f, nil
}

// stagedFile is a staging file open twice: buffered, and with O_DIRECT for
// block-aligned writes. Writing 1 MiB chunks around the page cache saves the
// copy into it and the later write-back, the receiver's largest cost after
// TLS (pwrite was 0.9 CPU-s per GiB through the page cache on 4 streams).
//
// Streams write chunks of one file in parallel: direct is an atomic pointer
// so that the first failed O_DIRECT write can drop it while others use it
// (closing an os.File under a concurrent WriteAt is safe: that write fails
// and falls back).
type stagedFile struct {
	*os.File
	direct atomic.Pointer[os.File]
}

// directAlign is the alignment O_DIRECT needs on the file systems pcp meets
// (the logical block size is 512 or 4096 bytes).
const directAlign = 4096

func (sf *stagedFile) writeAt(b []byte, off int64) (int, error) {
	if d := sf.direct.Load(); d != nil && len(b)%directAlign == 0 && off%directAlign == 0 && isAligned(b) {
		n, err := d.WriteAt(b, off)
		if err == nil {
			return n, nil
		}
		// EINVAL: the device wants another alignment. Stop trying.
		if sf.direct.CompareAndSwap(d, nil) {
			d.Close()
		}
	}
	return sf.File.WriteAt(b, off)
}

func (sf *stagedFile) close() error {
	if d := sf.direct.Swap(nil); d != nil {
		d.Close()
	}
	return sf.File.Close()
}

func isAligned(b []byte) bool {
	return uintptr(unsafe.Pointer(unsafe.SliceData(b)))%directAlign == 0
}

// alignedBuf returns an n-byte slice whose first byte is directAlign-aligned.
func alignedBuf(n int) []byte {
	b := make([]byte, n+directAlign)
	off := (directAlign - int(uintptr(unsafe.Pointer(unsafe.SliceData(b)))%directAlign)) % directAlign
	return b[off : off+n : off+n]
}

// wrote records one chunk written to entry i. After the file's last chunk
// of this run it applies mode and mtime through the open descriptor (cheaper
// than by path), fsyncs it where each file is synced (syncEachFile), and
// closes it. That runs outside the table's lock; a stream that wants the
// file meanwhile waits for it, as for an open.
func (t *fileTable) wrote(i int) error {
	t.mu.Lock()
	of := t.open[i]
	if of == nil {
		t.mu.Unlock()
		return nil
	}
	of.writeLeft--
	if of.writeLeft > 0 || of.sf == nil {
		t.mu.Unlock()
		return nil
	}
	sf := of.sf
	of.sf = nil
	closing := make(chan struct{})
	of.opening = closing
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		of.opening = nil
		close(closing)
		t.mu.Unlock()
	}()

	e, err := t.r.t.Entry(i)
	if err == nil {
		err = setMeta(sf.File, &e)
	}
	if err == nil && syncEachFile && t.r.durable {
		if err = sf.File.Sync(); err != nil {
			t.mu.Lock()
			t.syncErr = cmp.Or(t.syncErr, err)
			t.mu.Unlock()
		}
	}
	if cerr := sf.close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%w: %s: %v", errWrite, e.Path, err)
	}
	return nil
}

// syncOpen makes the chunks written to the staging files of entries
// durable where each file is synced (syncEachFile): those still open are
// fsynced here; one closed since was fsynced before its close (wrote), and
// one being closed is waited for. A Sync that finds its file closed has
// nothing left to do.
func (t *fileTable) syncOpen(entries []int) error {
	for _, i := range entries {
		for {
			var f *os.File
			var wait chan struct{}
			t.mu.Lock()
			if of := t.open[i]; of != nil && of.sf != nil {
				f = of.sf.File
			} else if of != nil {
				wait = of.opening
			}
			t.mu.Unlock()
			if wait != nil {
				<-wait
				continue
			}
			if f != nil {
				if err := f.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
					return err
				}
			}
			break
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.syncErr
}

// setMeta applies the entry's mode and mtime to an open file.
func setMeta(f *os.File, e *manifest.Entry) error {
	if err := f.Chmod(os.FileMode(e.Mode)); err != nil {
		return err
	}
	return setTimes(f, e.MTime)
}

func (t *fileTable) closeAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, of := range t.open {
		if of.sf != nil {
			of.sf.close()
		}
		delete(t.open, i)
	}
}
