package auth

import (
	"crypto/ecdh"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
)

// Wire format; doc.go has the same table for readers.
const (
	protocolVersion = 1

	headerLen    = 3   // type(1) | length(2, big-endian)
	maxFrameBody = 128 // hard bound, checked before the body is read
	pointLen     = 65  // SEC1 uncompressed P-256 point: 0x04 | x(32) | y(32)
	confirmLen   = 32  // HMAC-SHA256
)

type msgType uint8

const (
	msgSenderHello   msgType = 0x01 // version(1) | X(65)
	msgReceiverReply msgType = 0x02 // Y(65) | receiverConfirm(32)
	msgSenderConfirm msgType = 0x03 // senderConfirm(32)
	msgAbort         msgType = 0x7f // reason(1)
)

// bodyLen is the exact body length of every known message type.
func bodyLen(t msgType) (int, bool) {
	switch t {
	case msgSenderHello:
		return 1 + pointLen, true
	case msgReceiverReply:
		return pointLen + confirmLen, true
	case msgSenderConfirm:
		return confirmLen, true
	case msgAbort:
		return 1, true
	}
	return 0, false
}

func (t msgType) String() string {
	switch t {
	case msgSenderHello:
		return "sender-hello"
	case msgReceiverReply:
		return "receiver-reply"
	case msgSenderConfirm:
		return "sender-confirm"
	case msgAbort:
		return "abort"
	}
	return fmt.Sprintf("type-0x%02x", uint8(t))
}

// abortReason is the body of an abort message.
type abortReason uint8

const (
	abortWrongPassphrase abortReason = 0x01 // key confirmation failed
	abortProtocol        abortReason = 0x02 // the peer's message was invalid
	abortVersion         abortReason = 0x03 // unsupported protocol version
)

// errFrame marks a frame that violates the format (as opposed to an I/O
// error). It wraps ErrHandshake.
var errFrame = fmt.Errorf("%w: malformed message", ErrHandshake)

// appendFrame appends the encoded frame to dst.
func appendFrame(dst []byte, t msgType, body []byte) []byte {
	dst = append(dst, byte(t), 0, 0)
	binary.BigEndian.PutUint16(dst[len(dst)-2:], uint16(len(body)))
	return append(dst, body...)
}

// writeFrame writes one frame with a single Write call.
func writeFrame(w io.Writer, t msgType, body []byte) error {
	var buf [headerLen + maxFrameBody]byte
	if len(body) > maxFrameBody {
		return fmt.Errorf("%w: %v body of %d bytes exceeds %d", errFrame, t, len(body), maxFrameBody)
	}
	_, err := w.Write(appendFrame(buf[:0], t, body))
	return err
}

// readFrame reads one frame into buf and returns its type and body (a slice
// of buf). The type must be known and the length must be exactly that
// type's length (hence at most maxFrameBody) before any body byte is read.
// Format violations wrap errFrame; I/O errors are returned as they are,
// with io.EOF turned into io.ErrUnexpectedEOF.
func readFrame(r io.Reader, buf *[maxFrameBody]byte) (msgType, []byte, error) {
	var hdr [headerLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, unexpectedEOF(err)
	}
	t := msgType(hdr[0])
	n := int(binary.BigEndian.Uint16(hdr[1:]))
	if n > maxFrameBody {
		return 0, nil, fmt.Errorf("%w: %v frame of %d bytes exceeds the bound of %d", errFrame, t, n, maxFrameBody)
	}
	want, ok := bodyLen(t)
	if !ok {
		return 0, nil, fmt.Errorf("%w: unknown message %v", errFrame, t)
	}
	if n != want {
		return 0, nil, fmt.Errorf("%w: %v of %d bytes, want %d", errFrame, t, n, want)
	}
	body := buf[:n]
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, unexpectedEOF(err)
	}
	return t, body, nil
}

func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// encodePoint returns the SEC1 uncompressed encoding of (x, y).
func encodePoint(x, y *big.Int) ([]byte, error) {
	if x == nil || y == nil || x.Sign() < 0 || y.Sign() < 0 || x.BitLen() > 256 || y.BitLen() > 256 {
		return nil, errors.New("auth: PAKE produced an invalid point")
	}
	out := make([]byte, pointLen)
	out[0] = 4
	x.FillBytes(out[1:33])
	y.FillBytes(out[33:65])
	if _, err := ecdh.P256().NewPublicKey(out); err != nil {
		return nil, fmt.Errorf("auth: PAKE produced an invalid point: %w", err)
	}
	return out, nil
}

// decodePoint validates a SEC1 uncompressed P-256 point (on the curve,
// coordinates reduced, not the identity) and returns its coordinates.
func decodePoint(b []byte) (x, y *big.Int, err error) {
	if len(b) != pointLen {
		return nil, nil, fmt.Errorf("%w: point of %d bytes", errFrame, len(b))
	}
	if _, err := ecdh.P256().NewPublicKey(b); err != nil {
		return nil, nil, fmt.Errorf("%w: invalid P-256 point", errFrame)
	}
	return new(big.Int).SetBytes(b[1:33]), new(big.Int).SetBytes(b[33:65]), nil
}

// senderHello is M1.
type senderHello struct {
	version uint8
	x       []byte // pointLen bytes
}

func (m senderHello) body() []byte { return append([]byte{m.version}, m.x...) }

// parseSenderHello checks the version before the point, so that a future
// version with another layout is reported as a version mismatch.
func parseSenderHello(b []byte) (senderHello, error) {
	if len(b) != 1+pointLen {
		return senderHello{}, fmt.Errorf("%w: sender-hello of %d bytes", errFrame, len(b))
	}
	m := senderHello{version: b[0], x: b[1:]}
	if m.version != protocolVersion {
		return m, fmt.Errorf("%w: peer speaks pcp-auth version %d, this side %d", ErrHandshake, m.version, protocolVersion)
	}
	if _, _, err := decodePoint(m.x); err != nil {
		return m, err
	}
	return m, nil
}

// receiverReply is M2.
type receiverReply struct {
	y       []byte // pointLen bytes
	confirm []byte // confirmLen bytes
}

func (m receiverReply) body() []byte { return append(append([]byte(nil), m.y...), m.confirm...) }

func parseReceiverReply(b []byte) (receiverReply, error) {
	if len(b) != pointLen+confirmLen {
		return receiverReply{}, fmt.Errorf("%w: receiver-reply of %d bytes", errFrame, len(b))
	}
	m := receiverReply{y: b[:pointLen], confirm: b[pointLen:]}
	if _, _, err := decodePoint(m.y); err != nil {
		return m, err
	}
	return m, nil
}
