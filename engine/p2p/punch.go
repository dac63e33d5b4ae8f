package p2p

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/holepunch"
	"github.com/libp2p/go-libp2p/p2p/protocol/identify"
)

// punchingHost is a pcp peer's host. It runs its own DCUtR service instead
// of libp2p's, for two reasons: libp2p punches only when an inbound relayed
// connection appears (three attempts, then never again), and it offers only
// the transports it has seen observed. pcp punches again while a transfer
// runs relayed (Upgrade), and offers guessed addresses (punchAddrs).
type punchingHost struct {
	host.Host
	svc *holepunch.Service
	sub event.Subscription
}

// withPuncher starts the hole punch service on h. The service answers
// DCUtR requests and punches on every inbound relayed connection, as
// libp2p's would.
func withPuncher(h host.Host, onPunch func(peer.ID, bool, error)) (host.Host, error) {
	ider, ok := h.(interface{ IDService() identify.IDService })
	if !ok {
		return nil, fmt.Errorf("p2p: host %T has no identify service", h)
	}
	sub, err := h.EventBus().Subscribe(new(event.EvtPeerIdentificationCompleted))
	if err != nil {
		return nil, fmt.Errorf("p2p: subscribe to identify: %w", err)
	}
	pa := &punchAddrs{h: h}
	go pa.watch(sub)
	var opts []holepunch.Option
	if onPunch != nil {
		opts = append(opts, holepunch.WithTracer(punchTracer(onPunch)))
	}
	svc, err := holepunch.NewService(h, ider.IDService(), pa.addrs, opts...)
	if err != nil {
		sub.Close()
		return nil, fmt.Errorf("p2p: hole punch service: %w", err)
	}
	return &punchingHost{Host: h, svc: svc, sub: sub}, nil
}

// Close stops the hole punch service, which ends any punch in progress,
// then the host.
func (h *punchingHost) Close() error {
	h.svc.Close()
	h.sub.Close()
	return h.Host.Close()
}

// punch runs one DCUtR exchange with p over the relayed connection (three
// timed attempts). It returns at once with an error until the service has a
// public address to offer: the service registers its handler only then.
func (h *punchingHost) punch(p peer.ID) error {
	if !h.ready() {
		return errNoPublicAddr
	}
	return h.svc.DirectConnect(p)
}

// ready reports whether the service has found a public address and set its
// DCUtR handler; before that, DirectConnect would block until it does.
func (h *punchingHost) ready() bool {
	for _, id := range h.Mux().Protocols() {
		if id == holepunch.Protocol {
			return true
		}
	}
	return false
}

// punchTracer reports the end of each hole punch attempt.
type punchTracer func(peer.ID, bool, error)

func (f punchTracer) Trace(e *holepunch.Event) {
	if end, ok := e.Evt.(*holepunch.EndHolePunchEvt); ok {
		var err error
		if !end.Success {
			err = errors.New(end.Error)
		}
		f(e.Remote, end.Success, err)
	}
}

var errNoPublicAddr = fmt.Errorf("p2p: no public address to offer for a hole punch yet")

// Upgrade punches holes to p whenever every connection to it is relayed,
// until the peer is gone or ctx ends. Only the side holding the inbound
// relayed connection may start DCUtR (the other side refuses it), so a pcp
// sender calls it for its receivers.
//
// libp2p's own three attempts run when the relayed connection opens; a busy
// machine, or a NAT mapping that appeared late, can make all three miss, and
// a transfer that then runs for minutes over a relay should still move to a
// direct path when one can be had. A direct connection can also close again
// (a punched one under load in the lab, a NAT mapping that expires), and the
// transfer then falls back to the relay: Upgrade keeps watching while the
// path is direct and punches again once it is not. The first try comes
// after first; while libp2p's own punch is still running, every first;
// after a punch that missed, with backoff up to 30 s (reset once a direct
// path was had). report, if not nil, is called after each try.
func Upgrade(ctx context.Context, h host.Host, p peer.ID, first time.Duration, report func(attempt int, err error)) {
	ph, ok := h.(*punchingHost)
	if !ok {
		return
	}
	wait, backoff := first, first
	for attempt := 1; ; {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		switch PathOf(h, p) {
		case PathNone:
			return // the peer is gone
		case PathDirect:
			wait, backoff = first, first // watch it
			continue
		}
		err := ph.punch(p)
		if report != nil {
			report(attempt, err)
		}
		attempt++
		if PathOf(h, p) != PathRelayed {
			wait, backoff = first, first
			continue
		}
		if errors.Is(err, holepunch.ErrHolePunchActive) || errors.Is(err, errNoPublicAddr) {
			wait = first // not a miss: someone else is punching, or nothing to offer yet
			continue
		}
		backoff = min(2*backoff, 30*time.Second)
		wait = backoff
	}
}
