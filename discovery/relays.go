package discovery

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// RelayKey is the DHT key under which transfer-grade relays (`pcp node`s
// without public-like limits) provide themselves. Anyone may run one; no
// address is compiled into pcp.
const RelayKey = "pcp/relay/transfer/v1"

// hopProtocol is the circuit-v2 relay protocol a relay-capable peer
// speaks.
const hopProtocol = "/libp2p/circuit/relay/0.2.0/hop"

const (
	// relayReprovide is how often a node provides RelayKey again; the
	// DHT keeps a provider record for 48 hours.
	relayReprovide = 12 * time.Hour
	// relayLookupTimeout bounds one look for relays.
	relayLookupTimeout = 10 * time.Second
	// relayGather is how long FindRelays keeps collecting transfer-grade
	// relays after the first, before it ranks and yields them.
	relayGather = time.Second
)

// AdvertiseRelay provides RelayKey from a node's DHT once it has a routing
// table, and again every relayReprovide, until ctx ends. Failures are
// retried with backoff. provided, if not nil, is called after each
// successful provide.
func AdvertiseRelay(ctx context.Context, d *dht.IpfsDHT, log *slog.Logger, provided func()) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var bo backoff
	for ctx.Err() == nil {
		if d.RoutingTable().Size() == 0 {
			sleep(ctx, min(bo.next(), findMaxBackoff))
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, provideTimeout)
		err := d.Provide(pctx, keyCID(RelayKey), true)
		cancel()
		if err != nil {
			wait := bo.next()
			log.Debug("relay provide failed", "err", err, "retry_in", wait)
			sleep(ctx, wait)
			continue
		}
		bo.reset()
		log.Debug("relay provided", "key", RelayKey)
		if provided != nil {
			provided()
		}
		sleep(ctx, relayReprovide)
	}
}

// FindRelays looks for relays in h's DHT (shared with Advertise and Find)
// and yields at most num, then closes the channel: the transfer-grade ones
// under RelayKey when there are any (gathered for relayGather after the
// first, then ranked by their stated limits), else relay-capable peers of
// the routing table (public nodes, whose limited circuits are for meeting
// only). It
// waits up to relayLookupTimeout for the routing table to fill.
func FindRelays(ctx context.Context, h host.Host, opts Options, num int) <-chan peer.AddrInfo {
	opts = opts.withDefaults()
	out := make(chan peer.AddrInfo, max(num, 1))
	log := opts.Logger.With("role", "relays")
	d, err := acquireDHT(ctx, h, opts.Bootstrap, log)
	if err != nil {
		log.Debug("relays: dht", "err", err)
		close(out)
		return out
	}
	go func() {
		defer close(out)
		defer d.release()
		ctx, cancel := context.WithTimeout(ctx, relayLookupTimeout)
		defer cancel()
		if !d.waitRoutingTable(ctx, log) {
			return
		}
		n := 0
		for _, ai := range rankRelays(ctx, h, transferRelays(ctx, h, d, num)) {
			if !sendAddr(ctx, out, ai) {
				return
			}
			n++
		}
		if n > 0 {
			log.Debug("relays: transfer-grade", "count", n)
			return
		}
		for _, p := range d.d.RoutingTable().ListPeers() {
			if n == num {
				return
			}
			if ok, _ := h.Peerstore().SupportsProtocols(p, hopProtocol); len(ok) == 0 {
				continue
			}
			ai := peer.AddrInfo{ID: p, Addrs: h.Peerstore().Addrs(p)}
			if len(ai.Addrs) > 0 && sendAddr(ctx, out, ai) {
				n++
			}
		}
		log.Debug("relays: relay-capable dht peers", "count", n)
	}()
	return out
}

// waitRoutingTable waits until the routing table has a peer; false when
// ctx ends first.
func (s *sharedDHT) waitRoutingTable(ctx context.Context, log *slog.Logger) bool {
	t := time.NewTicker(readyCheck)
	defer t.Stop()
	for s.d.RoutingTable().Size() == 0 {
		s.ensurePeers(ctx, log)
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
	return true
}

// transferRelays collects at most num providers of RelayKey with
// addresses: until the lookup ends, or relayGather after the first one.
func transferRelays(ctx context.Context, h host.Host, d *sharedDHT, num int) []peer.AddrInfo {
	var found []peer.AddrInfo
	var gather <-chan time.Time
	ch := d.d.FindProvidersAsync(ctx, keyCID(RelayKey), num)
	for {
		select {
		case ai, ok := <-ch:
			if !ok {
				return found
			}
			if ai.ID == h.ID() {
				continue
			}
			if len(ai.Addrs) == 0 {
				ai.Addrs = h.Peerstore().Addrs(ai.ID)
			}
			if len(ai.Addrs) == 0 {
				continue
			}
			found = append(found, ai)
			if gather == nil {
				gather = time.After(relayGather)
			}
		case <-gather:
			return found
		case <-ctx.Done():
			return found
		}
	}
}

// rankRelays asks each relay for its limits (in parallel, each bounded by
// relayInfoTimeout) and orders them best first (RelayInfo.better); a relay
// that does not answer keeps its place after those that did.
func rankRelays(ctx context.Context, h host.Host, relays []peer.AddrInfo) []peer.AddrInfo {
	type ranked struct {
		ai peer.AddrInfo
		ri RelayInfo
	}
	rs := make([]ranked, len(relays))
	var wg sync.WaitGroup
	for i, ai := range relays {
		rs[i].ai = ai
		wg.Go(func() {
			h.Peerstore().AddAddrs(ai.ID, ai.Addrs, time.Minute)
			if ri, err := QueryRelayInfo(ctx, h, ai.ID); err == nil {
				rs[i].ri = ri
			}
		})
	}
	wg.Wait()
	slices.SortStableFunc(rs, func(a, b ranked) int {
		switch {
		case a.ri.better(b.ri):
			return -1
		case b.ri.better(a.ri):
			return 1
		}
		return 0
	})
	out := make([]peer.AddrInfo, len(rs))
	for i, r := range rs {
		out[i] = r.ai
	}
	return out
}

func sendAddr(ctx context.Context, out chan<- peer.AddrInfo, ai peer.AddrInfo) bool {
	select {
	case out <- ai:
		return true
	case <-ctx.Done():
		return false
	}
}
