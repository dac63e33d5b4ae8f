package discovery

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Retry pacing for DHT work: wait minBackoff after the first failure,
// doubling up to maxBackoff.
const (
	minBackoff = time.Second
	maxBackoff = 30 * time.Second
	// findMaxBackoff caps the pause between lookups: a sender's record may
	// appear any moment (once it has a relay address), and a receiver
	// waiting for it should see it within seconds.
	findMaxBackoff = time.Second
	// lookupTimeout bounds one FindProviders round for one key.
	lookupTimeout = 30 * time.Second
	// provideTimeout bounds one Provide.
	provideTimeout = 2 * time.Minute
	// dialTimeout bounds a connection attempt to one bootstrap peer.
	dialTimeout = 15 * time.Second
)

// sharedDHT is the one DHT client of a host, reference-counted across the
// Advertise and Find calls that use it.
type sharedDHT struct {
	h         host.Host
	d         *dht.IpfsDHT
	bootstrap []peer.AddrInfo
	refs      int // guarded by registryMu
}

var (
	registryMu sync.Mutex
	registry   = map[host.Host]*sharedDHT{}
)

// acquireDHT returns the host's DHT client, creating it on first use.
func acquireDHT(ctx context.Context, h host.Host, bootstrap []peer.AddrInfo, log *slog.Logger) (*sharedDHT, error) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if s, ok := registry[h]; ok {
		s.refs++
		return s, nil
	}
	if bootstrap == nil {
		bootstrap = dht.GetDefaultBootstrapPeerAddrInfos()
	}
	// A sender or receiver lives for minutes: as a DHT server it would
	// leave dead routing entries behind in other peers' tables.
	d, err := dht.New(h,
		dht.Mode(dht.ModeClient),
		dht.BootstrapPeers(bootstrap...),
		dht.AddressFilter(scopeFilter(dhtScope(bootstrap))),
	)
	if err != nil {
		return nil, fmt.Errorf("discovery: new dht: %w", err)
	}
	s := &sharedDHT{h: h, d: d, bootstrap: bootstrap, refs: 1}
	registry[h] = s
	go s.connectBootstrap(ctx, log)
	return s, nil
}

// release drops one reference and closes the DHT after the last one.
func (s *sharedDHT) release() {
	registryMu.Lock()
	s.refs--
	last := s.refs == 0
	if last {
		delete(registry, s.h)
	}
	registryMu.Unlock()
	if last {
		s.d.Close()
	}
}

// connectBootstrap dials every bootstrap peer in parallel and waits for the
// dials to end. The DHT adds the ones that speak Kademlia to its routing
// table once identify completes.
func (s *sharedDHT) connectBootstrap(ctx context.Context, log *slog.Logger) {
	var wg sync.WaitGroup
	for _, b := range s.bootstrap {
		if b.ID == s.h.ID() {
			continue
		}
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, dialTimeout)
			defer cancel()
			if err := s.h.Connect(cctx, b); err != nil {
				log.Debug("dht bootstrap dial failed", "peer", b.ID, "err", err)
			}
		})
	}
	wg.Wait()
}

// ensurePeers re-dials the bootstrap peers when the routing table is empty.
func (s *sharedDHT) ensurePeers(ctx context.Context, log *slog.Logger) {
	if s.d.RoutingTable().Size() == 0 {
		s.connectBootstrap(ctx, log)
	}
}

type backoff struct{ d time.Duration }

func (b *backoff) next() time.Duration {
	if b.d == 0 {
		b.d = minBackoff
	} else {
		b.d = min(2*b.d, maxBackoff)
	}
	return b.d
}

func (b *backoff) reset() { b.d = 0 }

// advertise provides the current slot's key, retrying failures with backoff,
// and provides again whenever the slot changes or the addresses it would
// announce change (a relay reservation, a port mapping), until ctx ends. It
// provides only once the routing table has a peer and there is an address
// to announce: DHT servers refuse a provider record without addresses.
func (s *sharedDHT) advertise(ctx context.Context, channel string, opts Options, log *slog.Logger) {
	sub, err := s.h.EventBus().Subscribe([]any{new(event.EvtLocalAddressesUpdated), new(event.EvtPeerIdentificationCompleted)})
	if err != nil {
		log.Debug("dht advertise: subscribe", "err", err)
		return
	}
	defer sub.Close()
	var bo backoff
	for ctx.Err() == nil {
		if !s.waitReady(ctx, sub.Out(), log) {
			return
		}
		now := opts.Clock()
		key := RendezvousKey(channel, now, opts.SlotLen)
		announced := s.d.FilteredAddrs()
		pctx, cancel := context.WithTimeout(ctx, provideTimeout)
		err := s.d.Provide(pctx, keyCID(key), true)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			wait := bo.next()
			log.Debug("dht provide failed", "err", err, "retry_in", wait)
			sleep(ctx, wait)
			continue
		}
		bo.reset()
		log.Debug("dht provided", "key", key, "addrs", announced)
		if opts.Provided != nil {
			opts.Provided(announced)
		}
		// Until the slot ends, judged by the (possibly injected) clock, or
		// the announced addresses change.
		s.waitChange(ctx, sub.Out(), max(slotEnd(now, opts.SlotLen).Sub(opts.Clock()), minBackoff), announced)
	}
}

// readyCheck bounds how long a wait for the routing table goes without a
// look: the DHT adds a peer some time after identify, with no event of its
// own.
const readyCheck = 250 * time.Millisecond

// waitReady waits until the routing table has a peer and the host has an
// address to announce; it reports false when ctx ends first.
func (s *sharedDHT) waitReady(ctx context.Context, events <-chan any, log *slog.Logger) bool {
	t := time.NewTicker(readyCheck)
	defer t.Stop()
	for {
		if s.d.RoutingTable().Size() > 0 && len(s.d.FilteredAddrs()) > 0 {
			return true
		}
		if s.d.RoutingTable().Size() == 0 {
			s.ensurePeers(ctx, log)
		}
		select {
		case <-ctx.Done():
			return false
		case <-events:
		case <-t.C:
		}
	}
}

// waitChange returns after d, or sooner when the addresses the DHT would
// announce are no longer announced, or when ctx ends.
func (s *sharedDHT) waitChange(ctx context.Context, events <-chan any, d time.Duration, announced []ma.Multiaddr) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			return
		case e := <-events:
			if _, ok := e.(event.EvtLocalAddressesUpdated); ok && !sameAddrs(s.d.FilteredAddrs(), announced) {
				return
			}
		}
	}
}

func sameAddrs(a, b []ma.Multiaddr) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.ContainsFunc(b, x.Equal) {
			return false
		}
	}
	return true
}

// find looks up the current and previous slot keys, yields what it finds,
// and repeats with backoff until ctx ends. The pace resets to minBackoff
// after a round that found a new provider, since the caller may want more.
func (s *sharedDHT) find(ctx context.Context, channel string, opts Options, out chan<- Candidate, log *slog.Logger) {
	var bo backoff
	yielded := map[peer.ID]int{} // peer -> number of addrs yielded
	for ctx.Err() == nil {
		s.ensurePeers(ctx, log)
		fresh := false
		for _, key := range searchKeys(channel, opts.Clock(), opts.SlotLen) {
			lctx, cancel := context.WithTimeout(ctx, lookupTimeout)
			for ai := range s.d.FindProvidersAsync(lctx, keyCID(key), 0) {
				if ai.ID == s.h.ID() {
					continue
				}
				if len(ai.Addrs) == 0 {
					ai.Addrs = s.h.Peerstore().Addrs(ai.ID)
				}
				if len(ai.Addrs) == 0 {
					fctx, fcancel := context.WithTimeout(ctx, lookupTimeout)
					if found, err := s.d.FindPeer(fctx, ai.ID); err == nil {
						ai.Addrs = found.Addrs
					}
					fcancel()
				}
				if len(ai.Addrs) == 0 {
					log.Debug("dht provider without addresses", "peer", ai.ID)
					continue
				}
				if n, ok := yielded[ai.ID]; !ok || n < len(ai.Addrs) {
					yielded[ai.ID] = len(ai.Addrs)
					fresh = true
				}
				if !send(ctx, out, Candidate{Info: ai, Source: SourceDHT}) {
					cancel()
					return
				}
			}
			cancel()
		}
		if fresh {
			bo.reset()
		}
		sleep(ctx, min(bo.next(), findMaxBackoff))
	}
}
