package engine

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/pcp-p2p/pcp/engine/p2p"
)

// punchRetryAfter is how long the sender lets libp2p's own hole punch (run
// as the receiver's relayed connection opens) have before it punches again.
const punchRetryAfter = 5 * time.Second

// punchWhileRelayed keeps punching holes to an authenticated receiver
// whenever it is reached only through a relay (p2p.Upgrade), for as long as
// it stays connected. It runs on the sender: DCUtR is started by the side
// that holds the inbound relayed connection. Data streams move to a direct
// connection once one exists (see p2pOpener.better). watching holds the
// peers it already runs for (a receiver authenticates again after a
// reconnect). The goroutine counts as a handler, so Send's shutdown waits
// for it; closing the host ends a punch in progress.
func punchWhileRelayed(ctx context.Context, h host.Host, p peer.ID, hs *handlerSet, watching *sync.Map, log *slog.Logger) {
	if p2p.PathOf(h, p) != p2p.PathRelayed {
		return
	}
	if _, dup := watching.LoadOrStore(p, true); dup {
		return
	}
	if !hs.enter() {
		watching.Delete(p)
		return
	}
	go func() {
		defer hs.leave()
		defer watching.Delete(p)
		p2p.Upgrade(ctx, h, p, punchRetryAfter, func(attempt int, err error) {
			log.Debug("hole punch retry", "peer", p, "attempt", attempt, "err", err, "path", p2p.PathOf(h, p))
		})
	}()
}
