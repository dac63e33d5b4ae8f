package engine

import (
	"context"
	"log/slog"
	"sync"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"

	"github.com/pcp-p2p/pcp/discovery"
)

// A sender that restarts (the same identity and words: cmd keeps both per
// offer) may listen somewhere else: another port, another network. While
// its sender is unreachable, a receiver that found it by discovery runs
// discovery again on the same channel and adds every address found for the
// sender's peer ID to its peerstore, so that its next re-dial (opener.go)
// reaches the sender where it is now. The restarted sender refuses the old
// session, and renew (renew.go) authenticates again. A sender found on the
// channel as another peer (restarted without its identity) is kept aside
// (other), and the opener continues with it if it passes PAKE and offers
// the same root (switchTo). A receiver given --direct addresses, or with
// discovery off, has nothing to search with.

// maxOthers bounds the other peers found on the channel kept for a try:
// anyone who knows the first word can advertise there.
const maxOthers = 8

// follower searches for one sender while it is unreachable.
type follower struct {
	h       host.Host
	current func() peer.ID // the sender's peer ID (it changes on a switch)
	channel string
	opts    discovery.Options
	log     *slog.Logger

	mu     sync.Mutex
	cancel context.CancelFunc // of the running search
	done   chan struct{}      // closed when the running search has ended
	others []discovery.Candidate
	seen   map[peer.ID]bool // other peers kept once: never tried twice
}

// newFollower returns a follower for the sender id, or nil when the
// receiver does not use discovery.
func newFollower(h host.Host, current func() peer.ID, channel string, n NetworkOptions, log *slog.Logger) *follower {
	if len(n.Direct) > 0 || n.NoDiscovery {
		return nil
	}
	dopts, err := discoveryOptions(n, log)
	if err != nil {
		return nil
	}
	return &follower{h: h, current: current, channel: channel, opts: dopts, log: log, seen: map[peer.ID]bool{}}
}

// start begins a search unless one is running; it runs until stop, or
// until ctx ends.
func (f *follower) start(ctx context.Context) {
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done != nil {
		select {
		case <-f.done: // ended with its ctx: start another
		default:
			return
		}
	}
	fctx, cancel := context.WithCancel(ctx)
	ch, err := discovery.Find(fctx, f.h, f.channel, f.opts)
	if err != nil {
		cancel()
		f.log.Debug("searching for the lost sender", "err", err)
		return
	}
	f.log.Debug("sender unreachable: searching for it again")
	done := make(chan struct{})
	f.cancel, f.done = cancel, done
	go func() {
		defer close(done)
		for c := range ch {
			id := f.current()
			if c.Info.ID != id {
				f.keep(c)
				continue
			}
			f.log.Debug("sender found again", "source", c.Source, "addrs", c.Info.Addrs)
			f.h.Peerstore().AddAddrs(id, c.Info.Addrs, peerstore.PermanentAddrTTL)
			if sw, ok := f.h.Network().(*swarm.Swarm); ok {
				sw.Backoff().Clear(id)
			}
		}
	}()
}

// stop ends the running search, if any, and waits until it has.
func (f *follower) stop() {
	if f == nil {
		return
	}
	f.mu.Lock()
	cancel, done := f.cancel, f.done
	f.cancel, f.done = nil, nil
	f.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// keep sets c aside for other, once per peer.
func (f *follower) keep(c discovery.Candidate) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seen[c.Info.ID] || len(f.seen) >= maxOthers {
		return
	}
	f.seen[c.Info.ID] = true
	f.others = append(f.others, c)
}

// other returns a peer other than the sender found on the channel, not
// returned before, if there is one.
func (f *follower) other() (discovery.Candidate, bool) {
	if f == nil {
		return discovery.Candidate{}, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.others) == 0 {
		return discovery.Candidate{}, false
	}
	c := f.others[0]
	f.others = f.others[1:]
	return c, true
}
