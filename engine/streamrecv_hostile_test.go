package engine

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/manifest"
)

// endlessChunk is chunk i of a stream that never ends.
func endlessChunk(i uint32, cs int) []byte {
	b := make([]byte, cs)
	for j := range b {
		b[j] = byte(int(i)*7 + j)
	}
	return b
}

// endlessAnnounce announces endlessChunk 0, 1, ... until the stream breaks.
func endlessAnnounce(ss *streamSender, s network.Stream) {
	cs := int(ss.info.ChunkSize)
	for i := uint32(0); ; i += 16 {
		var hs []manifest.Hash
		for k := range uint32(16) {
			hs = append(hs, manifest.HashChunk(endlessChunk(i+k, cs)))
		}
		if ss.announceAll(s, int(i), hs) != nil {
			return
		}
	}
}

func endlessServe(ss *streamSender, s network.Stream, i uint32) error {
	c := endlessChunk(i, int(ss.info.ChunkSize))
	p := wire.AppendChunkHeader(nil, wire.ChunkHeader{Ref: wire.Ref{Chunk: i}, Enc: wire.EncRaw, RawLen: uint32(len(c))})
	return wire.WriteFrame(s, wire.TChunk, append(p, c...))
}

// limitWriter takes n bytes, then fails as a closed pipe does.
type limitWriter struct {
	bytes.Buffer
	n int
}

func (w *limitWriter) Write(b []byte) (int, error) {
	if w.Len()+len(b) > w.n {
		return 0, errors.New("broken pipe")
	}
	return w.Buffer.Write(b)
}

// TestStreamReceiveHostile runs a sender that speaks the stream protocol
// correctly up to a point and then breaks a rule. Each case checks the
// error and that the output holds only verified bytes: a prefix of the
// stream, or, for a file, nothing at the destination.
func TestStreamReceiveHostile(t *testing.T) {
	const cs = manifest.MinChunkSize
	data := randomBytes(12*cs + 77)
	hashes := func() []manifest.Hash { return newStreamSender(t, data, cs).withData(data).hashes() }
	cases := map[string]struct {
		announce func(ss *streamSender, s network.Stream)
		serve    func(ss *streamSender, s network.Stream, i uint32) error
		spooled  bool
		want     error
		file     bool
	}{
		"out of order": {
			announce: func(ss *streamSender, s network.Stream) {
				hs := hashes()
				if ss.announceAll(s, 0, hs[:3]) == nil && ss.announceAll(s, 5, hs[5:]) == nil {
					drain(s)
				}
			},
			want: ErrPeerMisbehaving,
		},
		"root mismatch": {
			announce: func(ss *streamSender, s network.Stream) {
				if ss.announceAll(s, 0, hashes()) != nil {
					return
				}
				end := wire.StreamEnd{Size: uint64(len(ss.data)), Root: manifest.HashChunk([]byte("not the root"))}
				_ = wire.WriteFrame(s, wire.TStreamEnd, end.Append(nil))
				drain(s)
			},
			want: ErrPeerMisbehaving, file: true,
		},
		"size does not fit": {
			announce: func(ss *streamSender, s network.Stream) {
				if ss.announceAll(s, 0, hashes()) != nil {
					return
				}
				end := wire.StreamEnd{Size: uint64(len(ss.data)) + cs, Root: ss.root()}
				_ = wire.WriteFrame(s, wire.TStreamEnd, end.Append(nil))
				drain(s)
			},
			want: ErrPeerMisbehaving, file: true,
		},
		"chunk not as announced": {
			serve: func(ss *streamSender, s network.Stream, i uint32) error {
				if i == 4 {
					c := randomBytes(cs)
					p := wire.AppendChunkHeader(nil, wire.ChunkHeader{Ref: wire.Ref{Chunk: i}, Enc: wire.EncRaw, RawLen: cs})
					return wire.WriteFrame(s, wire.TChunk, append(p, c...))
				}
				return ss.honestServe(s, i)
			},
			want: ErrPeerMisbehaving,
		},
		"chunk not as announced, file": {
			serve: func(ss *streamSender, s network.Stream, i uint32) error {
				if i == 4 {
					c := randomBytes(cs)
					p := wire.AppendChunkHeader(nil, wire.ChunkHeader{Ref: wire.Ref{Chunk: i}, Enc: wire.EncRaw, RawLen: cs})
					return wire.WriteFrame(s, wire.TChunk, append(p, c...))
				}
				return ss.honestServe(s, i)
			},
			want: ErrPeerMisbehaving, file: true,
		},
		"goes silent": {
			announce: func(ss *streamSender, s network.Stream) {
				if ss.announceAll(s, 0, hashes()[:2]) == nil {
					drain(s) // and never a Wait
				}
			},
			want: ErrInterrupted,
		},
		"gone without a spool": {
			serve: func(ss *streamSender, s network.Stream, i uint32) error {
				if i == 2 {
					return wire.WriteFrame(s, wire.TError, wire.AppendError(nil, wire.CodeGone, "gone"))
				}
				return ss.honestServe(s, i)
			},
			want: ErrStreamGone,
		},
		"short chunk before the end": {
			announce: func(ss *streamSender, s network.Stream) {
				hs := hashes()
				hs[1] = manifest.HashChunk(ss.data[cs : 2*cs-1])
				if ss.announceAll(s, 0, hs) == nil {
					drain(s) // no StreamEnd yet
				}
			},
			serve: func(ss *streamSender, s network.Stream, i uint32) error {
				if i == 1 {
					c := ss.data[cs : 2*cs-1]
					p := wire.AppendChunkHeader(nil, wire.ChunkHeader{Ref: wire.Ref{Chunk: i}, Enc: wire.EncRaw, RawLen: uint32(len(c))})
					return wire.WriteFrame(s, wire.TChunk, append(p, c...))
				}
				return ss.honestServe(s, i)
			},
			want: ErrPeerMisbehaving,
		},
		"short chunk in the middle": {
			serve: func(ss *streamSender, s network.Stream, i uint32) error {
				if i == 1 {
					c := ss.data[cs : 2*cs-1]
					p := wire.AppendChunkHeader(nil, wire.ChunkHeader{Ref: wire.Ref{Chunk: i}, Enc: wire.EncRaw, RawLen: uint32(len(c))})
					return wire.WriteFrame(s, wire.TChunk, append(p, c...))
				}
				return ss.honestServe(s, i)
			},
			want: ErrPeerMisbehaving,
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			ss := newStreamSender(t, data, cs)
			ss.announce, ss.serve = c.announce, c.serve
			if !c.spooled {
				ss.info.Flags = 0
			}
			ss.start()
			dest := t.TempDir()
			ro := streamOpts(ss, dest)
			ro.manifestIdle = 500 * time.Millisecond
			var out bytes.Buffer
			if !c.file {
				ro.Stdout = &out
				ro.ResumeLogPath = filepath.Join(t.TempDir(), "resume.db")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			_, err := Receive(ctx, ro)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			t.Logf("err = %v", err)
			if !bytes.HasPrefix(data, out.Bytes()) {
				t.Fatalf("the output holds %d bytes that are not the stream's prefix", out.Len())
			}
			if _, err := os.Lstat(filepath.Join(dest, "stdin")); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("the stream reached the destination: %v", err)
			}
			if c.file {
				staged, _ := os.ReadFile(filepath.Join(dest, streamStage("stdin"), streamDataFile))
				if !bytes.HasPrefix(data, staged) {
					t.Fatalf("the staging file holds %d bytes that are not the stream's prefix", len(staged))
				}
			}
		})
	}
}

// withData sets the stream's data (for building hashes in a case table).
func (ss *streamSender) withData(b []byte) *streamSender { ss.data = b; return ss }

// TestStreamReceiveEndlessFile: a stream that never ends, into a file,
// stops at MaxStream, before a byte past it is written.
func TestStreamReceiveEndlessFile(t *testing.T) {
	const cs = manifest.MinChunkSize
	ss := newStreamSender(t, nil, cs)
	ss.announce, ss.serve = endlessAnnounce, endlessServe
	ss.start()
	dest := t.TempDir()
	ro := streamOpts(ss, dest)
	ro.MaxStream = 10*cs + 5
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, err := Receive(ctx, ro)
	if !errors.Is(err, ErrStreamTooLarge) {
		t.Fatalf("err = %v, want ErrStreamTooLarge", err)
	}
	if _, err := os.Lstat(filepath.Join(dest, "stdin")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the stream reached the destination: %v", err)
	}
	st, err := os.Stat(filepath.Join(dest, streamStage("stdin"), streamDataFile))
	if err != nil || st.Size() > ro.MaxStream {
		t.Fatalf("staging file: %v, %v; want at most %d bytes", st, err, ro.MaxStream)
	}
}

// TestStreamReceiveEndlessStdout: a stream that never ends, to a writer,
// keeps the receiver's memory within its window: never more chunks
// requested or waiting than the window holds. The writer stops it.
func TestStreamReceiveEndlessStdout(t *testing.T) {
	const cs = manifest.MinChunkSize
	ss := newStreamSender(t, nil, cs)
	ss.announce, ss.serve = endlessAnnounce, endlessServe
	ss.start()
	ro := streamOpts(ss, "")
	ro.ResumeLogPath = filepath.Join(t.TempDir(), "resume.db")
	out := &limitWriter{n: 200 * cs}
	ro.Stdout = out
	var peak, held uint64
	ro.streamDone = func(s *streamRecv) { peak, held = s.peak, uint64(len(s.hashes)) }
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, err := Receive(ctx, ro)
	if !errors.Is(err, ErrOutputClosed) {
		t.Fatalf("err = %v, want ErrOutputClosed", err)
	}
	if out.Len() != 200*cs {
		t.Fatalf("wrote %d bytes, want %d", out.Len(), 200*cs)
	}
	for i := range uint32(200) {
		if !bytes.Equal(out.Bytes()[int(i)*cs:][:cs], endlessChunk(i, cs)) {
			t.Fatalf("chunk %d of the output differs", i)
		}
	}
	slots := uint64(ro.MaxInFlight / (2 * cs))
	if peak == 0 || peak > slots {
		t.Errorf("at most %d chunks were ahead of the output at once; the window holds %d", peak, slots)
	}
	if held > slots+2*wire.MaxAnnounce {
		t.Errorf("%d announcements held, more than %d", held, slots+2*wire.MaxAnnounce)
	}
}

// TestStreamReceiveNoSpace: a stream into a file stops, resumable, when
// the destination has no room for its next chunk, before writing it.
func TestStreamReceiveNoSpace(t *testing.T) {
	const cs = manifest.MinChunkSize
	ss := newStreamSender(t, nil, cs)
	ss.announce, ss.serve = endlessAnnounce, endlessServe
	ss.start()
	dest := t.TempDir()
	ro := streamOpts(ss, dest)
	var wrote int64
	ro.freeSpace = func(string) (int64, bool) {
		if wrote > 0 {
			return 0, true // full after the first look
		}
		wrote = 1
		return 3 * cs, true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, err := Receive(ctx, ro)
	if !errors.Is(err, ErrNoSpace) || !errors.Is(err, ErrInterrupted) {
		t.Fatalf("err = %v, want ErrInterrupted and ErrNoSpace", err)
	}
	st, err := os.Stat(filepath.Join(dest, streamStage("stdin"), streamDataFile))
	if err != nil || st.Size() > 3*cs {
		t.Fatalf("staging file: %v, %v; want at most %d bytes", st, err, 3*cs)
	}
}
