package discovery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Sources of a Candidate.
const (
	SourceMDNS = "mdns"
	SourceDHT  = "dht"
)

// ErrNoMechanism is returned when neither mDNS nor the DHT could be started.
var ErrNoMechanism = errors.New("discovery: no discovery mechanism could start")

// Options configures Advertise and Find. The zero value works: mDNS and the
// DHT, public Amino bootstrap peers, 5-minute slots, the system clock, no
// logging.
type Options struct {
	// MDNS and DHT select the mechanisms; both false means both true.
	MDNS, DHT bool
	// Bootstrap are the DHT peers to join; nil = the public Amino bootstrap
	// peers (dht.GetDefaultBootstrapPeerAddrInfos). A non-nil list replaces
	// them (a private DHT). The first Advertise or Find on a host creates
	// its DHT client, and its list is the one used.
	Bootstrap []peer.AddrInfo
	// SlotLen is the rendezvous slot length; 0 = DefaultSlot.
	SlotLen time.Duration
	// Clock returns the time used to pick slots; nil = time.Now.
	Clock func() time.Time
	// Logger receives debug logs and background errors; nil = discard.
	Logger *slog.Logger
	// Provided, if not nil, is called after each successful DHT provide
	// with the addresses announced.
	Provided func(addrs []ma.Multiaddr)
}

func (o Options) withDefaults() Options {
	if !o.MDNS && !o.DHT {
		o.MDNS, o.DHT = true, true
	}
	if o.SlotLen <= 0 {
		o.SlotLen = DefaultSlot
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return o
}

// Candidate is a peer that answered to the rendezvous key. It is not
// authenticated.
type Candidate struct {
	Info   peer.AddrInfo
	Source string // SourceMDNS or SourceDHT
}

// Advertise publishes h under the channel's rendezvous key (mDNS service +
// DHT provide, re-published when the slot changes) until ctx ends. It
// returns once advertising has started; errors from the background go to the
// logger. It fails only when no requested mechanism could start.
func Advertise(ctx context.Context, h host.Host, channel string, opts Options) error {
	opts = opts.withDefaults()
	log := opts.Logger.With("role", "advertise")
	started := 0
	var errs []error
	if opts.MDNS {
		if err := startMDNSAdvertiser(ctx, h, channel, opts, log); err != nil {
			errs = append(errs, err)
			log.Debug("mdns advertise failed", "err", err)
		} else {
			started++
		}
	}
	if opts.DHT {
		d, err := acquireDHT(ctx, h, opts.Bootstrap, log)
		if err != nil {
			errs = append(errs, err)
			log.Debug("dht start failed", "err", err)
		} else {
			started++
			go func() {
				defer d.release()
				d.advertise(ctx, channel, opts, log)
			}()
		}
	}
	if started == 0 {
		return fmt.Errorf("%w: %w", ErrNoMechanism, errors.Join(errs...))
	}
	return nil
}

// Find yields candidates for the channel's rendezvous key (never h itself;
// deduplicated by peer ID) until ctx ends; the channel is closed then. It
// fails only when no requested mechanism could start.
func Find(ctx context.Context, h host.Host, channel string, opts Options) (<-chan Candidate, error) {
	opts = opts.withDefaults()
	log := opts.Logger.With("role", "find")
	raw := make(chan Candidate, 16)
	var wg sync.WaitGroup
	started := 0
	var errs []error
	if opts.MDNS {
		if err := startMDNSBrowser(ctx, &wg, h, channel, opts, raw, log); err != nil {
			errs = append(errs, err)
			log.Debug("mdns browse failed", "err", err)
		} else {
			started++
		}
	}
	if opts.DHT {
		d, err := acquireDHT(ctx, h, opts.Bootstrap, log)
		if err != nil {
			errs = append(errs, err)
			log.Debug("dht start failed", "err", err)
		} else {
			started++
			wg.Go(func() {
				defer d.release()
				d.find(ctx, channel, opts, raw, log)
			})
		}
	}
	if started == 0 {
		return nil, fmt.Errorf("%w: %w", ErrNoMechanism, errors.Join(errs...))
	}
	go func() {
		wg.Wait()
		close(raw)
	}()
	out := make(chan Candidate)
	go dedup(ctx, h.ID(), raw, out)
	return out, nil
}

// dedup forwards candidates from in to out, dropping self and peers whose
// addresses were all yielded before. It closes out when in is closed; after
// ctx ends it only drains in.
func dedup(ctx context.Context, self peer.ID, in <-chan Candidate, out chan<- Candidate) {
	defer close(out)
	seen := map[peer.ID][]ma.Multiaddr{}
	for c := range in {
		if c.Info.ID == self || c.Info.ID == "" || ctx.Err() != nil {
			continue
		}
		known, ok := seen[c.Info.ID]
		merged, added := mergeAddrs(known, c.Info.Addrs)
		if ok && !added {
			continue
		}
		seen[c.Info.ID] = merged
		c.Info.Addrs = slices.Clone(merged)
		select {
		case out <- c:
		case <-ctx.Done():
		}
	}
}

// mergeAddrs appends to known the addresses of add it lacks.
func mergeAddrs(known, add []ma.Multiaddr) (merged []ma.Multiaddr, added bool) {
	merged = known
	for _, a := range add {
		if !slices.ContainsFunc(merged, a.Equal) {
			merged = append(merged, a)
			added = true
		}
	}
	return merged, added
}

// send delivers c unless ctx ends first.
func send(ctx context.Context, out chan<- Candidate, c Candidate) bool {
	select {
	case out <- c:
		return true
	case <-ctx.Done():
		return false
	}
}

// sleep waits d or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
