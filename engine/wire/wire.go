package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unsafe"

	"github.com/pcp-p2p/pcp/manifest"
)

// ProtocolID is the libp2p protocol of every pcp transfer stream.
//
// 2.0.0 added Wait and ManifestInfo before the manifest (a receiver bounds
// the manifest by what the sender declares, and gives up on a silent one).
// 3.0.0: one sender serves many receivers at once, each its own session
// (the frames of 2.0.0 keep their meaning; the version marks the start of
// the multi-peer protocol, issue 14, so that a peer of either side can tell
// an older pcp from a broken one).
const ProtocolID = "/pcp/transfer/3.0.0"

// OldProtocolID is the previous version. A sender registers it only to
// refuse it, so that its user hears of a receiver with an older pcp; a
// receiver that finds a peer speaking only it reports ErrOldPeer.
const OldProtocolID = "/pcp/transfer/2.0.0"

// Frame types.
type Type uint8

const (
	TOpen         Type = 1
	TManifest     Type = 2
	TManifestEnd  Type = 3
	TAccept       Type = 4
	TDecline      Type = 5
	TRequest      Type = 6
	TChunk        Type = 7
	TError        Type = 8
	TDone         Type = 9
	TDoneAck      Type = 10
	TWait         Type = 11
	TManifestInfo Type = 12
)

func (t Type) String() string {
	switch t {
	case THaveMap:
		return "HaveMap"
	case THaveUpdate:
		return "HaveUpdate"
	case TStreamInfo:
		return "StreamInfo"
	case TAnnounce:
		return "Announce"
	case TStreamEnd:
		return "StreamEnd"
	case TOpen:
		return "Open"
	case TManifest:
		return "Manifest"
	case TManifestEnd:
		return "ManifestEnd"
	case TAccept:
		return "Accept"
	case TDecline:
		return "Decline"
	case TRequest:
		return "Request"
	case TChunk:
		return "Chunk"
	case TError:
		return "Error"
	case TDone:
		return "Done"
	case TDoneAck:
		return "DoneAck"
	case TWait:
		return "Wait"
	case TManifestInfo:
		return "ManifestInfo"
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

// Stream kinds in an Open frame.
const (
	KindControl uint8 = 1
	KindData    uint8 = 2
	// KindManifest: the receiver fetches the manifest on its own stream
	// of the session, when ManifestInfo has FlagManifestStream.
	KindManifest uint8 = 3
	// KindHave: the receiver asks which chunks the source holds
	// (have-map frames, havemap.go), for fetching from several sources.
	KindHave uint8 = 4
)

// hasSession reports whether an Open of kind k carries a session ID.
func hasSession(k uint8) bool { return k == KindData || k == KindManifest || k == KindHave }

// Done flags: the payload of a Done frame is empty, or one byte of them.
const (
	// DoneSelected: the receiver took a selection of the offer (receive
	// --only/--skip), not all of it.
	DoneSelected uint8 = 1
)

// Chunk encodings.
const (
	EncRaw  uint8 = 0
	EncZstd uint8 = 1
)

// Bounds.
const (
	HeaderSize       = 5
	MaxManifestPiece = 1 << 20
	MaxRefs          = 1024
	MaxErrorMsg      = 1024
	chunkHeader      = 13
	// MaxChunkData bounds a Chunk frame's data: the largest chunk size plus
	// zstd's worst-case expansion.
	MaxChunkData = manifest.MaxChunkSize + manifest.MaxChunkSize/128 + 1024
)

// MaxPayload returns the largest payload a frame of type t may carry, and
// false for an unknown type.
func MaxPayload(t Type) (int, bool) {
	if n, ok := HaveMaxPayload(t); ok { // havemap.go
		return n, true
	}
	if n, ok := StreamMaxPayload(t); ok { // stream.go
		return n, true
	}
	switch t {
	case TOpen:
		return 1 + 32, true
	case TManifest:
		return MaxManifestPiece, true
	case TManifestEnd:
		return 32, true
	case TAccept, TDecline, TDoneAck, TWait:
		return 0, true
	case TDone:
		return 1, true // flags: DoneSelected
	case TManifestInfo:
		return manifestInfoSize + 1, true
	case TRequest:
		return 2 + 8*MaxRefs, true
	case TChunk:
		return chunkHeader + MaxChunkData, true
	case TError:
		return 2 + MaxErrorMsg, true
	}
	return 0, false
}

// ErrFrame is wrapped by every decoding failure.
var ErrFrame = errors.New("wire: bad frame")

// Reader reads frames, reusing one buffer that grows to at most the largest
// payload seen (bounded by MaxPayload).
type Reader struct {
	r     io.Reader
	hdr   [HeaderSize]byte
	buf   []byte
	off   int // payloads start at buf[off:]
	align int
	at    int
}

// NewReader returns a frame reader on r.
func NewReader(r io.Reader) *Reader { return &Reader{r: r} }

// NewAlignedReader returns a frame reader whose payloads have their byte at
// offset at aligned in memory to align bytes (a power of two). With
// at = ChunkDataOffset and the file system's block size, a Chunk frame's data
// can be written with O_DIRECT straight from the payload.
func NewAlignedReader(r io.Reader, align, at int) *Reader {
	return &Reader{r: r, align: align, at: at}
}

// ChunkDataOffset is where a Chunk payload's data starts.
const ChunkDataOffset = chunkHeader

// Next reads one frame. The returned payload is valid until the next call.
func (fr *Reader) Next() (Type, []byte, error) {
	if _, err := io.ReadFull(fr.r, fr.hdr[:]); err != nil {
		return 0, nil, err
	}
	t := Type(fr.hdr[0])
	n := binary.BigEndian.Uint32(fr.hdr[1:])
	max, ok := MaxPayload(t)
	if !ok {
		return 0, nil, fmt.Errorf("%w: unknown type %d", ErrFrame, fr.hdr[0])
	}
	if int64(n) > int64(max) {
		return 0, nil, fmt.Errorf("%w: %v payload of %d bytes exceeds %d", ErrFrame, t, n, max)
	}
	if cap(fr.buf)-fr.off < int(n) {
		fr.buf = make([]byte, int(n)+fr.align)
		fr.off = 0
		if fr.align > 0 {
			fr.off = alignOffset(fr.buf, fr.align, fr.at)
		}
	}
	p := fr.buf[fr.off : fr.off+int(n)]
	if _, err := io.ReadFull(fr.r, p); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	return t, p, nil
}

// alignOffset returns the smallest off such that &b[off+at] is aligned.
func alignOffset(b []byte, align, at int) int {
	addr := uintptr(unsafe.Pointer(unsafe.SliceData(b))) + uintptr(at)
	return int((uintptr(align) - addr%uintptr(align)) % uintptr(align))
}

// Expect reads one frame and fails unless it has type want. An Error frame is
// returned as a *RemoteError.
func (fr *Reader) Expect(want Type) ([]byte, error) {
	t, p, err := fr.Next()
	if err != nil {
		return nil, err
	}
	if t == want {
		return p, nil
	}
	if t == TError {
		re, err := DecodeError(p)
		if err != nil {
			return nil, err
		}
		return nil, re
	}
	return nil, fmt.Errorf("%w: got %v, want %v", ErrFrame, t, want)
}

// WriteFrame writes one frame as a single Write of header and payload when
// the payload is small, or two Writes otherwise.
func WriteFrame(w io.Writer, t Type, payload []byte) error {
	max, ok := MaxPayload(t)
	if !ok || len(payload) > max {
		return fmt.Errorf("%w: refusing to write %v of %d bytes", ErrFrame, t, len(payload))
	}
	if len(payload) <= 4096 {
		var b [HeaderSize + 4096]byte
		b[0] = byte(t)
		binary.BigEndian.PutUint32(b[1:], uint32(len(payload)))
		n := copy(b[HeaderSize:], payload)
		_, err := w.Write(b[:HeaderSize+n])
		return err
	}
	var h [HeaderSize]byte
	h[0] = byte(t)
	binary.BigEndian.PutUint32(h[1:], uint32(len(payload)))
	if _, err := w.Write(h[:]); err != nil {
		return err
	}
	_, err := w.Write(payload)
	return err
}

// Open is the first frame of every stream.
type Open struct {
	Kind    uint8
	Session [32]byte
}

func (o Open) Append(b []byte) []byte {
	b = append(b, o.Kind)
	if hasSession(o.Kind) {
		b = append(b, o.Session[:]...)
	}
	return b
}

func DecodeOpen(p []byte) (Open, error) {
	var o Open
	if len(p) < 1 {
		return o, fmt.Errorf("%w: empty Open", ErrFrame)
	}
	o.Kind = p[0]
	switch o.Kind {
	case KindControl:
		if len(p) != 1 {
			return o, fmt.Errorf("%w: control Open with %d bytes", ErrFrame, len(p))
		}
	case KindData, KindManifest, KindHave:
		if len(p) != 33 {
			return o, fmt.Errorf("%w: Open of kind %d with %d bytes", ErrFrame, o.Kind, len(p))
		}
		copy(o.Session[:], p[1:])
	default:
		return o, fmt.Errorf("%w: unknown stream kind %d", ErrFrame, o.Kind)
	}
	return o, nil
}

// Ref names one chunk: an index into the manifest's entries and a chunk index
// within that file.
type Ref struct {
	Entry uint32
	Chunk uint32
}

// AppendRequest encodes a Request payload.
func AppendRequest(b []byte, refs []Ref) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(refs)))
	for _, r := range refs {
		b = binary.BigEndian.AppendUint32(b, r.Entry)
		b = binary.BigEndian.AppendUint32(b, r.Chunk)
	}
	return b
}

// DecodeRequest decodes a Request payload, appending to refs[:0].
func DecodeRequest(p []byte, refs []Ref) ([]Ref, error) {
	if len(p) < 2 {
		return nil, fmt.Errorf("%w: short Request", ErrFrame)
	}
	n := int(binary.BigEndian.Uint16(p))
	if n == 0 || n > MaxRefs || len(p) != 2+8*n {
		return nil, fmt.Errorf("%w: Request of %d refs in %d bytes", ErrFrame, n, len(p))
	}
	refs = refs[:0]
	for i := 0; i < n; i++ {
		o := 2 + 8*i
		refs = append(refs, Ref{binary.BigEndian.Uint32(p[o:]), binary.BigEndian.Uint32(p[o+4:])})
	}
	return refs, nil
}

// ChunkHeader is the fixed part of a Chunk payload.
type ChunkHeader struct {
	Ref
	Enc    uint8
	RawLen uint32
}

// AppendChunkHeader encodes the fixed part of a Chunk payload.
func AppendChunkHeader(b []byte, h ChunkHeader) []byte {
	b = binary.BigEndian.AppendUint32(b, h.Entry)
	b = binary.BigEndian.AppendUint32(b, h.Chunk)
	b = append(b, h.Enc)
	return binary.BigEndian.AppendUint32(b, h.RawLen)
}

// DecodeChunk splits a Chunk payload into its header and data.
func DecodeChunk(p []byte) (ChunkHeader, []byte, error) {
	var h ChunkHeader
	if len(p) < chunkHeader {
		return h, nil, fmt.Errorf("%w: short Chunk", ErrFrame)
	}
	h.Entry = binary.BigEndian.Uint32(p)
	h.Chunk = binary.BigEndian.Uint32(p[4:])
	h.Enc = p[8]
	h.RawLen = binary.BigEndian.Uint32(p[9:])
	data := p[chunkHeader:]
	switch h.Enc {
	case EncRaw:
		if uint32(len(data)) != h.RawLen {
			return h, nil, fmt.Errorf("%w: raw chunk of %d bytes claims %d", ErrFrame, len(data), h.RawLen)
		}
	case EncZstd:
	default:
		return h, nil, fmt.Errorf("%w: unknown chunk encoding %d", ErrFrame, h.Enc)
	}
	if h.RawLen > manifest.MaxChunkSize {
		return h, nil, fmt.Errorf("%w: chunk length %d exceeds %d", ErrFrame, h.RawLen, manifest.MaxChunkSize)
	}
	return h, data, nil
}

// Error codes carried by Error frames. They map to the sentinels below in one
// table (codeErrors).
type Code uint16

const (
	CodeInternal     Code = 1 // the peer failed for its own reasons
	CodeBadRequest   Code = 2 // a malformed or out-of-range request
	CodeSourceChange Code = 3 // the sender's file changed since it was hashed
	CodeUnknownSess  Code = 4 // a data stream named a session that does not exist
	CodeBusy         Code = 5 // the sender serves as many data streams as it allows
	CodeGone         Code = 6 // a stream's chunk the sender no longer holds (not spooled)
	CodeNotHeld      Code = 7 // a chunk the source does not hold (a re-seeder's have-map lacks it)
)

var (
	ErrRemoteInternal = errors.New("peer internal error")
	ErrBadRequest     = errors.New("bad request")
	ErrSourceChanged  = errors.New("the sender's file changed since it was hashed")
	ErrUnknownSession = errors.New("unknown session")
	ErrBusy           = errors.New("too many data streams")
	ErrGone           = errors.New("the sender no longer holds this part of the stream (sent without a spool)")
	ErrNotHeld        = errors.New("the source does not hold this chunk")
)

var codeErrors = map[Code]error{
	CodeInternal:     ErrRemoteInternal,
	CodeBadRequest:   ErrBadRequest,
	CodeSourceChange: ErrSourceChanged,
	CodeUnknownSess:  ErrUnknownSession,
	CodeBusy:         ErrBusy,
	CodeGone:         ErrGone,
	CodeNotHeld:      ErrNotHeld,
}

// RemoteError is an Error frame received from the peer.
type RemoteError struct {
	Code Code
	Msg  string
}

func (e *RemoteError) Error() string { return fmt.Sprintf("peer: %s", e.Msg) }

// Unwrap maps the code to its sentinel, so errors.Is works on remote errors.
func (e *RemoteError) Unwrap() error {
	if s, ok := codeErrors[e.Code]; ok {
		return s
	}
	return ErrRemoteInternal
}

// AppendError encodes an Error payload; msg is truncated to MaxErrorMsg.
func AppendError(b []byte, code Code, msg string) []byte {
	if len(msg) > MaxErrorMsg {
		msg = msg[:MaxErrorMsg]
	}
	b = binary.BigEndian.AppendUint16(b, uint16(code))
	return append(b, msg...)
}

// DecodeError decodes an Error payload.
func DecodeError(p []byte) (*RemoteError, error) {
	if len(p) < 2 {
		return nil, fmt.Errorf("%w: short Error", ErrFrame)
	}
	return &RemoteError{Code: Code(binary.BigEndian.Uint16(p)), Msg: string(p[2:])}, nil
}

// CodeOf returns the code for a local error, for sending in an Error frame.
func CodeOf(err error) Code {
	for c, s := range codeErrors {
		if errors.Is(err, s) {
			return c
		}
	}
	return CodeInternal
}

// ManifestWriter splits a byte stream into Manifest frames of at most
// MaxManifestPiece bytes. Close flushes; it does not write ManifestEnd.
type ManifestWriter struct {
	w   io.Writer
	buf []byte
}

func NewManifestWriter(w io.Writer) *ManifestWriter {
	return &ManifestWriter{w: w, buf: make([]byte, 0, 256<<10)}
}

func (mw *ManifestWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		k := copy(mw.buf[len(mw.buf):cap(mw.buf)], p)
		mw.buf = mw.buf[:len(mw.buf)+k]
		p = p[k:]
		if len(mw.buf) == cap(mw.buf) {
			if err := mw.Flush(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

func (mw *ManifestWriter) Flush() error {
	if len(mw.buf) == 0 {
		return nil
	}
	err := WriteFrame(mw.w, TManifest, mw.buf)
	mw.buf = mw.buf[:0]
	return err
}

// ManifestReader presents consecutive Manifest frames as one byte stream. It
// returns io.EOF at the first frame of another type, which it keeps for
// Pending.
type ManifestReader struct {
	fr      *Reader
	cur     []byte
	endT    Type
	endP    []byte
	done    bool
	total   int64
	maxSize int64
}

// NewManifestReader reads Manifest frames from fr, failing once more than
// maxSize bytes arrive (0 = no bound beyond the decoder's own limits).
func NewManifestReader(fr *Reader, maxSize int64) *ManifestReader {
	return &ManifestReader{fr: fr, maxSize: maxSize}
}

func (mr *ManifestReader) Read(p []byte) (int, error) {
	for len(mr.cur) == 0 {
		if mr.done {
			return 0, io.EOF
		}
		t, payload, err := mr.fr.Next()
		if err != nil {
			return 0, err
		}
		if t != TManifest {
			mr.done = true
			mr.endT = t
			mr.endP = append([]byte(nil), payload...)
			return 0, io.EOF
		}
		mr.total += int64(len(payload))
		if mr.maxSize > 0 && mr.total > mr.maxSize {
			return 0, fmt.Errorf("%w: manifest larger than %d bytes", ErrFrame, mr.maxSize)
		}
		mr.cur = payload
	}
	n := copy(p, mr.cur)
	mr.cur = mr.cur[n:]
	return n, nil
}

// End reads up to and returns the first non-Manifest frame after the
// manifest bytes. It fails if manifest bytes remain unread.
func (mr *ManifestReader) End() (Type, []byte, error) {
	if len(mr.cur) > 0 {
		return 0, nil, fmt.Errorf("%w: %d trailing manifest bytes", ErrFrame, len(mr.cur))
	}
	if !mr.done {
		var buf [1]byte
		if n, err := mr.Read(buf[:]); n > 0 {
			return 0, nil, fmt.Errorf("%w: trailing manifest bytes", ErrFrame)
		} else if err != io.EOF {
			return 0, nil, err
		}
	}
	return mr.endT, mr.endP, nil
}
