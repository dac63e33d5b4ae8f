package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/manifest"
)

// streamSink takes a stream's verified chunks in order.
type streamSink interface {
	write(b []byte) error
	// commit records that the first n chunks, whose announced hashes
	// digest to sum (prefixHasher), are written. The sink decides how
	// often the record is made durable; final is the last call.
	commit(n uint64, sum manifest.Hash, final bool) error
}

// stdoutSink writes the stream to ReceiveOptions.Stdout. It keeps no
// record: a receive to a writer always starts at byte 0, since the output
// is new (a pipe cannot be appended to where the last run stopped).
type stdoutSink struct{ w io.Writer }

func (o stdoutSink) write(b []byte) error {
	if _, err := o.w.Write(b); err != nil {
		return fmt.Errorf("%w: %v", ErrOutputClosed, err)
	}
	return nil
}

func (stdoutSink) commit(uint64, manifest.Hash, bool) error { return nil }

// fileSink writes the stream into a staging file in the destination, in a
// staging directory named after the stream's name (streamStage), and keeps
// beside it a state file: the stream's id and chunk size, how many chunks
// and bytes of the file are verified, and the digest of their announced
// hashes. The data is synced before the state that vouches for it, so a
// new run finds a verified prefix that is really on disk. Once the stream
// ended and its root matched, place renames the file into place without
// replacing anything (unless Overwrite).
type fileSink struct {
	dest      *os.Root
	name      string // the stream's name: the file at the destination
	stageName string
	stage     *os.Root
	f         *os.File
	info      wire.StreamInfo

	max     int64                // bytes the file may reach; 0 = no bound
	free    func() (int64, bool) // free bytes at the destination
	room    int64                // free bytes as last read, less what was written since
	written int64                // bytes in the file
	since   int64                // bytes written since the last durable record
	last    time.Time            // the last durable record
	now     func() time.Time     // time.Now
	fresh   bool                 // nothing to continue: begin starts the file over
}

// Durable records: at least this often, in time or bytes.
const (
	streamCommitEvery = time.Second
	streamCommitBytes = 32 << 20
	streamStateFile   = "state"
	streamDataFile    = "data"
	streamStateSize   = 32 + 4 + 8 + 8 + 32 + 32
	streamRoomReread  = 64 << 20
)

// streamStage is the staging directory of a stream named name.
func streamStage(name string) string {
	return ".pcp-partial-s" + manifest.HashChunk([]byte(name)).String()[:16]
}

// streamResume is what an earlier run left of a stream.
type streamResume struct {
	chunks    uint64
	bytes     int64
	sum       manifest.Hash
	restarted bool // a partial of another stream was discarded
}

// openFileSink opens (or creates) the staging of stream info in dest and
// reports what of it an earlier run verified.
func openFileSink(dest *os.Root, info wire.StreamInfo) (*fileSink, streamResume, error) {
	k := &fileSink{dest: dest, name: info.Name, stageName: streamStage(info.Name), info: info, now: time.Now}
	var res streamResume
	st, err := dest.Lstat(k.stageName)
	if err == nil && !st.IsDir() {
		if err := dest.Remove(k.stageName); err != nil {
			return nil, res, fmt.Errorf("removing %s, which is not a staging directory: %w", k.stageName, err)
		}
	}
	if err := dest.Mkdir(k.stageName, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, res, fmt.Errorf("creating staging directory: %w", err)
	}
	if k.stage, err = dest.OpenRoot(k.stageName); err != nil {
		return nil, res, fmt.Errorf("opening staging directory: %w", err)
	}
	if r, ok := k.readState(); ok {
		if k.f, err = k.stage.OpenFile(streamDataFile, os.O_RDWR, 0); err == nil {
			if fi, err := k.f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() >= r.bytes &&
				k.f.Truncate(r.bytes) == nil {
				if _, err := k.f.Seek(r.bytes, io.SeekStart); err == nil {
					k.written = r.bytes
					return k, r, nil
				}
			}
			k.f.Close()
		}
		k.f = nil
	} else if _, err := k.stage.Lstat(streamStateFile); err == nil {
		res.restarted = true
	}
	k.fresh = true // start over once accepted (begin): nothing there is vouched for
	return k, res, nil
}

// begin prepares the staging file once the offer is accepted: a fresh
// one unless an earlier run's prefix continues.
func (k *fileSink) begin() error {
	if !k.fresh {
		return nil
	}
	for _, n := range []string{streamStateFile, streamStateFile + ".tmp", streamDataFile} {
		if err := k.stage.RemoveAll(n); err != nil {
			return fmt.Errorf("cleaning staging directory: %w", err)
		}
	}
	f, err := k.stage.OpenFile(streamDataFile, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("creating the staging file: %w", err)
	}
	k.f, k.fresh = f, false
	return nil
}

// unused closes a sink whose offer was declined, leaving what an earlier
// run kept as it was, and removes the staging directory if it is empty
// (it was made for this offer).
func (k *fileSink) unused() {
	k.close()
	_ = k.dest.Remove(k.stageName) // fails, as it should, unless empty
}

// readState reads the state file; ok only for this stream's, intact.
func (k *fileSink) readState() (streamResume, bool) {
	b, err := k.stage.ReadFile(streamStateFile)
	if err != nil || len(b) != streamStateSize {
		return streamResume{}, false
	}
	body := b[:streamStateSize-32]
	if manifest.HashChunk(body) != manifest.Hash(b[streamStateSize-32:]) {
		return streamResume{}, false
	}
	var r streamResume
	cs := binary.BigEndian.Uint32(b[32:])
	r.chunks = binary.BigEndian.Uint64(b[36:])
	r.bytes = int64(binary.BigEndian.Uint64(b[44:]))
	r.sum = manifest.Hash(b[52:84])
	if [32]byte(b[:32]) != k.info.ID || cs != k.info.ChunkSize || r.chunks == 0 ||
		r.bytes > int64(r.chunks)*int64(cs) || r.bytes <= int64(r.chunks-1)*int64(cs) {
		return streamResume{}, false
	}
	return r, true
}

// write appends the next chunk, within MaxStream and the free space.
func (k *fileSink) write(b []byte) error {
	n := int64(len(b))
	if k.max > 0 && k.written+n > k.max {
		return fmt.Errorf("%w: writing past %d bytes", ErrStreamTooLarge, k.max)
	}
	if k.free != nil && k.room < max(n, streamRoomReread) {
		if free, ok := k.free(); ok {
			k.room = free
			if free < n {
				return fmt.Errorf("%w: %w: the stream has %d bytes so far, and its destination has %d free", ErrInterrupted, ErrNoSpace, k.written, free)
			}
		} else {
			k.room = 1 << 62
		}
	}
	if _, err := k.f.Write(b); err != nil {
		return fmt.Errorf("%w: %s: %v", errWrite, k.name, err)
	}
	k.written += n
	k.since += n
	k.room -= n
	return nil
}

// commit makes the record durable every streamCommitEvery or
// streamCommitBytes, and at the end: data first, then the state.
func (k *fileSink) commit(n uint64, sum manifest.Hash, final bool) error {
	if !final && k.since < streamCommitBytes && k.now().Sub(k.last) < streamCommitEvery || n == 0 {
		return nil
	}
	if err := k.f.Sync(); err != nil {
		return fmt.Errorf("%w: %s: %v", errWrite, k.name, err)
	}
	b := make([]byte, 0, streamStateSize)
	b = append(b, k.info.ID[:]...)
	b = binary.BigEndian.AppendUint32(b, k.info.ChunkSize)
	b = binary.BigEndian.AppendUint64(b, n)
	b = binary.BigEndian.AppendUint64(b, uint64(k.written))
	b = append(b, sum[:]...)
	check := manifest.HashChunk(b)
	b = append(b, check[:]...)
	tmp := streamStateFile + ".tmp"
	f, err := k.stage.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("%w: the stream's state: %v", errWrite, err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = k.stage.Rename(tmp, streamStateFile)
	}
	if err != nil {
		return fmt.Errorf("%w: the stream's state: %v", errWrite, err)
	}
	k.since, k.last = 0, k.now()
	return nil
}

// place puts the finished file at the destination under the stream's
// name, never replacing a file there unless overwrite, and removes the
// staging directory.
func (k *fileSink) place(overwrite bool) error {
	if err := k.f.Close(); err != nil {
		return fmt.Errorf("%w: %s: %v", errWrite, k.name, err)
	}
	k.f = nil
	from := k.stageName + "/" + streamDataFile
	var err error
	if overwrite {
		if st, lerr := k.dest.Lstat(k.name); lerr == nil && st.IsDir() {
			return fmt.Errorf("%w: %s is a directory", ErrExists, k.name)
		}
		err = k.dest.Rename(from, k.name)
	} else if err = k.dest.Link(from, k.name); errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%w: %s appeared at the destination during the transfer (the stream is kept in %s)", ErrExists, k.name, k.stageName)
	} else if err != nil { // no hard links here (FAT): check, then rename
		if _, lerr := k.dest.Lstat(k.name); lerr == nil {
			return fmt.Errorf("%w: %s appeared at the destination during the transfer", ErrExists, k.name)
		}
		err = k.dest.Rename(from, k.name)
	}
	if err != nil {
		return fmt.Errorf("%w: placing %s: %v", errWrite, k.name, err)
	}
	k.close()
	if err := k.dest.RemoveAll(k.stageName); err != nil {
		return fmt.Errorf("removing the staging directory: %w", err)
	}
	if d, err := k.dest.Open("."); err == nil {
		_ = d.Sync() // the new name, durable (where directories sync)
		d.Close()
	}
	return nil
}

// close releases the staging file and directory (kept on disk).
func (k *fileSink) close() {
	if k.f != nil {
		k.f.Close()
		k.f = nil
	}
	if k.stage != nil {
		k.stage.Close()
		k.stage = nil
	}
}
