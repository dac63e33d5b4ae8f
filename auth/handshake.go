package auth

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/schollz/pake/v3"
)

// pakeCurve is the pake/v3 curve. P-256 is prime order (no cofactor), its
// arithmetic is Go's constant-time crypto/internal/nistec, and it costs
// about 1 ms per handshake here; see BenchmarkPAKECurves for the others.
const pakeCurve = "p256"

// maxPeerIDLen bounds Config.LocalID and RemoteID. libp2p peer IDs are
// multihashes of 34 to 42 bytes for the usual key types.
const maxPeerIDLen = 1024

// Role says which side of the transfer this peer is. The zero Role is
// invalid, so that a forgotten field is caught.
type Role uint8

const (
	RoleSender   Role = 1 // offers the files; writes the first handshake message
	RoleReceiver Role = 2 // typed the passphrase and connected to the sender
)

func (r Role) String() string {
	switch r {
	case RoleSender:
		return "sender"
	case RoleReceiver:
		return "receiver"
	}
	return fmt.Sprintf("Role(%d)", uint8(r))
}

// Config is one side's input to Handshake.
type Config struct {
	Role       Role
	Passphrase Passphrase
	LocalID    []byte // this peer's libp2p peer ID bytes
	RemoteID   []byte // the other peer's libp2p peer ID bytes, as seen on the authenticated transport
}

func (c *Config) validate() error {
	switch {
	case c.Role != RoleSender && c.Role != RoleReceiver:
		return fmt.Errorf("auth: %w: role %v", ErrConfig, c.Role)
	case c.Passphrase.IsZero():
		return fmt.Errorf("auth: %w: no passphrase", ErrConfig)
	case len(c.LocalID) == 0 || len(c.RemoteID) == 0:
		return fmt.Errorf("auth: %w: both peer IDs are required", ErrConfig)
	case len(c.LocalID) > maxPeerIDLen || len(c.RemoteID) > maxPeerIDLen:
		return fmt.Errorf("auth: %w: peer ID longer than %d bytes", ErrConfig, maxPeerIDLen)
	case bytes.Equal(c.LocalID, c.RemoteID):
		return fmt.Errorf("auth: %w: local and remote peer IDs are equal", ErrConfig)
	}
	return nil
}

// Session is the result of a successful handshake.
type Session struct {
	Key [32]byte // HKDF-derived session secret; the engine may derive further keys from it
	ID  [32]byte // public session identifier derived from the transcript; safe to log
}

// String shows the first bytes of ID only, so that %v never prints Key.
func (s Session) String() string { return "auth.Session{ID:" + hex.EncodeToString(s.ID[:8]) + "}" }

// GoString hides Key from %#v.
func (s Session) GoString() string { return s.String() }

// LogValue hides Key from slog.
func (s Session) LogValue() slog.Value { return slog.StringValue(hex.EncodeToString(s.ID[:8])) }

// deadliner is implemented by net.Conn and libp2p's network.Stream.
type deadliner interface {
	SetDeadline(time.Time) error
}

// Handshake runs the PAKE and the mutual key confirmation over rw, as the
// side cfg.Role, and returns the session once the peer has proved that it
// knows the same passphrase for the same pair of peer IDs. The two sides
// must have different roles.
//
// Both sides return an error wrapping ErrWrongPassphrase when the
// passphrases (or the peer IDs each side sees) differ; neither side then
// waits for a timeout. Garbage from the peer, an unknown version or a broken
// connection give an error wrapping ErrHandshake; a bad cfg gives ErrConfig.
//
// Cancellation: if rw has SetDeadline (net.Conn, libp2p streams), ctx's
// deadline is applied to rw and cancellation sets a past deadline, so
// Handshake returns promptly with an error wrapping ctx.Err(); on a normal
// return the deadline is cleared (set to zero). If rw has no SetDeadline,
// the I/O runs in a goroutine and Handshake returns at once on
// cancellation; that goroutine stays blocked until the caller closes rw
// (or otherwise makes its Read or Write return), which the caller must do.
//
// A peer that stops talking is only bounded by ctx: give it a deadline.
func Handshake(ctx context.Context, rw io.ReadWriter, cfg Config) (*Session, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, interrupted(ctx)
	}
	if d, ok := rw.(deadliner); ok {
		return handshakeDeadline(ctx, d, rw, &cfg)
	}
	return handshakeAsync(ctx, rw, &cfg)
}

func interrupted(ctx context.Context) error {
	return fmt.Errorf("auth: handshake interrupted: %w", ctx.Err())
}

func handshakeDeadline(ctx context.Context, d deadliner, rw io.ReadWriter, cfg *Config) (*Session, error) {
	_, hasDeadline := ctx.Deadline()
	if dl, ok := ctx.Deadline(); ok {
		_ = d.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = d.SetDeadline(time.Unix(1, 0)) })
	s, err := run(rw, cfg)
	if !stop() {
		// ctx is done and rw carries a past deadline: the session is unusable.
		return nil, interrupted(ctx)
	}
	_ = d.SetDeadline(time.Time{})
	switch {
	case err == nil:
		return s, nil
	case ctx.Err() != nil:
		return nil, interrupted(ctx)
	case hasDeadline && errors.Is(err, os.ErrDeadlineExceeded):
		// rw's copy of the ctx deadline fired before ctx's own timer.
		return nil, fmt.Errorf("auth: handshake interrupted: %w", context.DeadlineExceeded)
	}
	return nil, err
}

func handshakeAsync(ctx context.Context, rw io.ReadWriter, cfg *Config) (*Session, error) {
	type result struct {
		s   *Session
		err error
	}
	ch := make(chan result, 1)
	go func() {
		s, err := run(rw, cfg)
		ch <- result{s, err}
	}()
	select {
	case r := <-ch:
		return r.s, r.err
	case <-ctx.Done():
		return nil, interrupted(ctx)
	}
}

// run is the message sequence, one function per role.
func run(rw io.ReadWriter, cfg *Config) (*Session, error) {
	h := &handshake{rw: rw, cfg: cfg, pw: passwordScalar(cfg.Passphrase.secret())}
	if cfg.Role == RoleSender {
		return h.sender()
	}
	return h.receiver()
}

type handshake struct {
	rw  io.ReadWriter
	cfg *Config
	pw  []byte
	buf [maxFrameBody]byte
}

// sender: write M1, read M2, verify the receiver's confirmation, write M3.
func (h *handshake) sender() (*Session, error) {
	p, err := pakeInit(h.pw, 0, h.cfg.LocalID, h.cfg.RemoteID)
	if err != nil {
		return nil, err
	}
	x, err := encodePoint(p.Xᵤ, p.Xᵥ)
	if err != nil {
		return nil, err
	}
	if err := writeFrame(h.rw, msgSenderHello, senderHello{protocolVersion, x}.body()); err != nil {
		return nil, ioError("sending", msgSenderHello, err)
	}

	// The receiver now waits for M3, so every rejection below is announced
	// with an abort message instead.
	t, body, err := readFrame(h.rw, &h.buf)
	if err != nil {
		if errors.Is(err, errFrame) {
			h.abort(abortProtocol)
			return nil, err
		}
		return nil, ioError("reading", msgReceiverReply, err)
	}
	switch t {
	case msgAbort:
		return nil, peerAborted(body)
	case msgReceiverReply:
	default:
		h.abort(abortProtocol)
		return nil, fmt.Errorf("%w: got %v, want %v", errFrame, t, msgReceiverReply)
	}
	m, err := parseReceiverReply(body)
	if err != nil {
		h.abort(abortProtocol)
		return nil, err
	}
	y := slices.Clone(m.y)
	if err := pakeUpdate(p, 1, y); err != nil {
		h.abort(abortProtocol)
		return nil, err
	}
	key, err := p.SessionKey()
	if err != nil {
		h.abort(abortProtocol)
		return nil, fmt.Errorf("auth: %w: pake: %w", ErrHandshake, err)
	}
	tr := transcript{senderMsg: x, receiverMsg: y, senderID: h.cfg.LocalID, receiverID: h.cfg.RemoteID, channel: h.cfg.Passphrase.Channel()}
	k := schedule(key, tr.hash())
	if !hmac.Equal(m.confirm, k.receiverConfirm[:]) {
		h.abort(abortWrongPassphrase)
		return nil, fmt.Errorf("auth: %w", ErrWrongPassphrase)
	}
	if err := writeFrame(h.rw, msgSenderConfirm, k.senderConfirm[:]); err != nil {
		return nil, ioError("sending", msgSenderConfirm, err)
	}
	return &Session{Key: k.session, ID: k.id}, nil
}

// receiver: read M1, write M2 with its confirmation, read and verify M3.
func (h *handshake) receiver() (*Session, error) {
	// The sender now waits for M2, so every rejection of M1 is announced
	// with an abort message.
	t, body, err := readFrame(h.rw, &h.buf)
	if err != nil {
		if errors.Is(err, errFrame) {
			h.abort(abortProtocol)
			return nil, err
		}
		return nil, ioError("reading", msgSenderHello, err)
	}
	switch t {
	case msgAbort:
		return nil, peerAborted(body)
	case msgSenderHello:
	default:
		h.abort(abortProtocol)
		return nil, fmt.Errorf("%w: got %v, want %v", errFrame, t, msgSenderHello)
	}
	m, err := parseSenderHello(body)
	if err != nil {
		if m.version != protocolVersion {
			h.abort(abortVersion)
		} else {
			h.abort(abortProtocol)
		}
		return nil, err
	}
	x := slices.Clone(m.x)
	p, err := pakeInit(h.pw, 1, h.cfg.RemoteID, h.cfg.LocalID)
	if err != nil {
		return nil, err
	}
	if err := pakeUpdate(p, 0, x); err != nil {
		h.abort(abortProtocol)
		return nil, err
	}
	y, err := encodePoint(p.Yᵤ, p.Yᵥ)
	if err != nil {
		h.abort(abortProtocol)
		return nil, err
	}
	key, err := p.SessionKey()
	if err != nil {
		h.abort(abortProtocol)
		return nil, fmt.Errorf("auth: %w: pake: %w", ErrHandshake, err)
	}
	tr := transcript{senderMsg: x, receiverMsg: y, senderID: h.cfg.RemoteID, receiverID: h.cfg.LocalID, channel: h.cfg.Passphrase.Channel()}
	k := schedule(key, tr.hash())
	if err := writeFrame(h.rw, msgReceiverReply, receiverReply{y, k.receiverConfirm[:]}.body()); err != nil {
		return nil, ioError("sending", msgReceiverReply, err)
	}

	// The sender reads nothing more, so nothing below sends an abort.
	t, body, err = readFrame(h.rw, &h.buf)
	if err != nil {
		if errors.Is(err, errFrame) {
			return nil, err
		}
		return nil, ioError("reading", msgSenderConfirm, err)
	}
	switch t {
	case msgAbort:
		return nil, peerAborted(body)
	case msgSenderConfirm:
	default:
		return nil, fmt.Errorf("%w: got %v, want %v", errFrame, t, msgSenderConfirm)
	}
	if !hmac.Equal(body, k.senderConfirm[:]) {
		return nil, fmt.Errorf("auth: %w", ErrWrongPassphrase)
	}
	return &Session{Key: k.session, ID: k.id}, nil
}

// abort tells a peer that is waiting for our next message that the
// handshake is over. It is best effort: the error that matters is ours.
func (h *handshake) abort(r abortReason) {
	_ = writeFrame(h.rw, msgAbort, []byte{byte(r)})
}

func peerAborted(body []byte) error {
	switch abortReason(body[0]) {
	case abortWrongPassphrase:
		return fmt.Errorf("auth: %w", ErrWrongPassphrase)
	case abortVersion:
		return fmt.Errorf("auth: %w: the peer does not speak pcp-auth version %d", ErrHandshake, protocolVersion)
	}
	return fmt.Errorf("auth: %w: the peer rejected our handshake message", ErrHandshake)
}

func ioError(verb string, t msgType, err error) error {
	return fmt.Errorf("auth: %w: %s %v: %w", ErrHandshake, verb, t, err)
}

// pakeInit wraps pake.InitCurveWithIdentities; idA is always the sender's
// peer ID and idB the receiver's, so the PAKE key is bound to both.
func pakeInit(pw []byte, role int, idSender, idReceiver []byte) (p *pake.Pake, err error) {
	defer recoverPake(&err)
	p, err = pake.InitCurveWithIdentities(pw, role, pakeCurve, idSender, idReceiver)
	if err != nil {
		return nil, fmt.Errorf("auth: pake init: %w", err)
	}
	return p, nil
}

// pakeUpdate feeds the peer's validated point to p. pake/v3 only accepts
// its JSON encoding, so the point is re-encoded locally; pake's JSON never
// crosses the wire. peerRole 0 carries X, 1 carries Y.
func pakeUpdate(p *pake.Pake, peerRole int, point []byte) (err error) {
	defer recoverPake(&err)
	px, py, err := decodePoint(point)
	if err != nil {
		return err
	}
	q := &pake.Pake{Role: peerRole}
	if peerRole == 0 {
		q.Xᵤ, q.Xᵥ = px, py
	} else {
		q.Yᵤ, q.Yᵥ = px, py
	}
	msg, err := json.Marshal(q)
	if err != nil {
		return fmt.Errorf("auth: %w: encoding pake message: %w", ErrHandshake, err)
	}
	if err := p.Update(msg); err != nil {
		return fmt.Errorf("auth: %w: pake: %w", ErrHandshake, err)
	}
	return nil
}

// recoverPake turns a panic inside pake or crypto/elliptic (which panic on
// some invalid inputs) into ErrHandshake. Inputs are validated first, so
// this is defence in depth.
func recoverPake(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("auth: %w: pake panicked: %v", ErrHandshake, r)
	}
}
