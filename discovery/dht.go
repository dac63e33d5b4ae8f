package discovery

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Retry pacing for DHT work: wait minBackoff after the first failure,
// doubling up to maxBackoff.
const (
	minBackoff = time.Second
	maxBackoff = 30 * time.Second
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
	d, err := dht.New(h,
		dht.Mode(dht.ModeAuto),
		dht.BootstrapPeers(bootstrap...),
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
// and provides again whenever the slot changes, until ctx ends.
func (s *sharedDHT) advertise(ctx context.Context, channel string, opts Options, log *slog.Logger) {
	var bo backoff
	for ctx.Err() == nil {
		now := opts.Clock()
		key := RendezvousKey(channel, now, opts.SlotLen)
		s.ensurePeers(ctx, log)
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
		log.Debug("dht provided", "key", key)
		// Sleep until the slot ends, judged by the (possibly injected) clock.
		sleep(ctx, max(slotEnd(now, opts.SlotLen).Sub(opts.Clock()), minBackoff))
	}
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
		sleep(ctx, bo.next())
	}
}
