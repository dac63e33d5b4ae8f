package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/pcp-p2p/pcp/auth"
	"github.com/pcp-p2p/pcp/discovery"
	"github.com/pcp-p2p/pcp/engine/wire"
	"github.com/pcp-p2p/pcp/manifest"
)

// A sender that restarted (same identity, same words: cmd keeps both per
// offer) knows none of the sessions of its previous run: it answers a data
// stream with UnknownSession. The receiver then authenticates again on the
// same peer, reads the new offer, and continues with the new session if the
// root is the same; the resume log keeps what was verified meanwhile.

// renewing is what a p2pOpener needs to authenticate again.
type renewing struct {
	pass     auth.Passphrase
	root     manifest.Hash
	stateDir string
	idle     time.Duration
	free     func(string) (int64, bool)
}

// ErrOfferChanged: the sender restarted with other files (another root):
// the receiver cannot continue with it.
var ErrOfferChanged = errors.New("the restarted sender offers other files")

// sessStream is a data stream and the session it was opened for.
type sessStream struct {
	network.Stream
	session [32]byte
}

// renew authenticates again after stream s was refused as of an unknown
// session. Workers that fail together renew once: a stream opened for a
// session that was already replaced only retries.
func (o *p2pOpener) renew(ctx context.Context, s io.ReadWriteCloser) error {
	ss, ok := unpaced(s).(sessStream)
	if !ok || o.renewal.pass.IsZero() {
		return wire.ErrUnknownSession
	}
	o.renewMu.Lock()
	defer o.renewMu.Unlock()
	if o.sessionID() != ss.session {
		return nil // renewed by another worker
	}
	ap, err := tryCandidate(ctx, o.h, discovery.Candidate{Info: o.peerInfo(), Source: "renew"}, o.renewal.pass)
	if err != nil {
		return fmt.Errorf("%w: the sender restarted, and authenticating again failed: %w", ErrInterrupted, err)
	}
	return o.continueWith(ctx, ap)
}

// switchTo continues with c, a sender found on the channel as another
// peer than the lost one (restarted without its identity), if it passes
// PAKE and offers the same root. An error leaves the opener as it was.
func (o *p2pOpener) switchTo(ctx context.Context, c discovery.Candidate) error {
	if o.renewal.pass.IsZero() {
		return wire.ErrUnknownSession
	}
	o.renewMu.Lock()
	defer o.renewMu.Unlock()
	ap, err := tryCandidate(ctx, o.h, c, o.renewal.pass)
	if err != nil {
		o.log.Debug("another sender on the channel", "peer", c.Info.ID, "err", err)
		return err
	}
	if err := o.continueWith(ctx, ap); err != nil {
		o.log.Debug("another sender on the channel", "peer", c.Info.ID, "err", err)
		return err
	}
	return nil
}

// continueWith reads the offer of ap, a sender that just passed PAKE, and
// continues the transfer with it (its peer and session) if the root is the
// same; otherwise it declines. Called with renewMu held.
func (o *p2pOpener) continueWith(ctx context.Context, ap *authPeer) error {
	defer ap.ctl.Close()
	stop := context.AfterFunc(ctx, func() { ap.ctl.Reset() })
	defer stop()
	elsewhere := manifestOpener(ctx, o.h, ap.info.ID, ap.session.ID, o.noPathWait)
	t, _, err := readManifest(ap.ctl, o.renewal.stateDir, o.renewal.idle, o.renewal.free, elsewhere)
	if err != nil {
		ap.ctl.Reset()
		return manifestError(err, o.renewal.idle)
	}
	root := t.Root()
	t.Close()
	if root != o.renewal.root {
		_ = wire.WriteFrame(ap.ctl, wire.TDecline, nil)
		return fmt.Errorf("%w (root %s, was %s): receive it as a new offer", ErrOfferChanged, root.String()[:12], o.renewal.root.String()[:12])
	}
	if err := wire.WriteFrame(ap.ctl, wire.TAccept, nil); err != nil {
		return fmt.Errorf("%w: %v", ErrInterrupted, err)
	}
	o.log.Debug("continuing with the restarted sender", "peer", ap.info.ID)
	o.mu.Lock()
	o.info, o.session = ap.info, ap.session.ID
	o.mu.Unlock()
	emit(o.events, RenewedEvent{Peer: ap.info.ID.String()})
	return nil
}

// peer is the sender's peer ID: another one once a sender that restarted
// as another peer was taken (switchTo).
func (o *p2pOpener) peer() peer.ID {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.info.ID
}

func (o *p2pOpener) peerInfo() peer.AddrInfo {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.info
}

func (o *p2pOpener) sessionID() [32]byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.session
}

// RenewedEvent (receiver): the sender restarted and the receiver
// authenticated again with it; the transfer goes on where it was.
type RenewedEvent struct{ Peer string }

func (RenewedEvent) isEvent() {}
