package engine

import (
	"log/slog"

	"github.com/pcp-p2p/pcp/manifest"
	"github.com/pcp-p2p/pcp/store"
)

// recordMeta keeps what pcp status shows of an accepted offer in the
// resume log (store.TransferMeta): its first top-level names, how many
// there are, and the sender. It is only a description: a failure is
// logged, and the transfer goes on.
func recordMeta(rlog *store.ResumeLog, root manifest.Hash, o Offer, peer string, log *slog.Logger) {
	m := store.TransferMeta{NameCount: max(o.TopLevelCount, len(o.TopLevel)), Peer: peer}
	for _, n := range o.TopLevel {
		if len(m.Names) == store.MaxMetaNames {
			break
		}
		if n != "" && len(n) <= store.MaxMetaNameLen {
			m.Names = append(m.Names, n)
		}
	}
	if len(m.Peer) > store.MaxMetaPeerLen {
		m.Peer = ""
	}
	if err := rlog.SetMeta(root, m); err != nil {
		log.Debug("recording the offer's names for pcp status", "err", err)
	}
}

// withMeta adds the names and peer recorded for t (none in a log written
// by an older pcp).
func withMeta(l *store.ResumeLog, t *TransferInfo, root manifest.Hash) {
	m, ok, err := l.Meta(root)
	if err != nil || !ok {
		return
	}
	t.Names, t.NameCount, t.Peer = m.Names, m.NameCount, m.Peer
}
