package store

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/pcp-p2p/pcp/manifest"
)

// What a transfer was, for people (pcp status): the first of the offer's
// top-level names, how many there are in all, and the sender's peer ID.
// It is stored under keyMeta in the transfer's bucket, so Delete (and
// prune) removes it with the transfer. A transfer recorded by an older pcp
// has none.
//
// Encoding (all integers big-endian):
//
//	u8  version (1)
//	u32 top-level names in all
//	u16 peer length (0..MaxMetaPeerLen), the peer ID's text
//	u8  names kept (0..MaxMetaNames)
//	per name: u16 length (1..MaxMetaNameLen), the name's bytes

// Bounds on a stored TransferMeta; a record past them is ErrCorrupt, and
// SetMeta refuses one.
const (
	metaVersion    = 1
	MaxMetaNames   = 8
	MaxMetaNameLen = 4096
	MaxMetaPeerLen = 256
)

// TransferMeta describes a transfer's offer.
type TransferMeta struct {
	Names     []string // the first top-level names, at most MaxMetaNames
	NameCount int      // all top-level names
	Peer      string   // the sender's peer ID
}

// SetMeta records m for root's transfer. An absent or pending root:
// ErrNotFound.
func (l *ResumeLog) SetMeta(root manifest.Hash, m TransferMeta) error {
	enc, err := encodeMeta(m)
	if err != nil {
		return fmt.Errorf("store: meta %s: %w", root.Short(), err)
	}
	err = l.db.Update(func(tx *bolt.Tx) error {
		b, _, err := transfer(tx, root)
		if err != nil {
			return err
		}
		return b.Put(keyMeta, enc)
	})
	if err != nil {
		return fmt.Errorf("store: meta %s: %w", root.Short(), err)
	}
	return nil
}

// Meta returns what SetMeta recorded for root's transfer, and false when
// nothing was. An absent or pending root: ErrNotFound.
func (l *ResumeLog) Meta(root manifest.Hash) (TransferMeta, bool, error) {
	var m TransferMeta
	found := false
	err := l.db.View(func(tx *bolt.Tx) error {
		b, _, err := transfer(tx, root)
		if err != nil {
			return err
		}
		v := b.Get(keyMeta)
		if v == nil {
			return nil
		}
		found = true
		m, err = decodeMeta(v)
		return err
	})
	if err != nil {
		return TransferMeta{}, false, fmt.Errorf("store: meta %s: %w", root.Short(), err)
	}
	return m, found, nil
}

func encodeMeta(m TransferMeta) ([]byte, error) {
	switch {
	case len(m.Names) > MaxMetaNames:
		return nil, fmt.Errorf("%d names: at most %d", len(m.Names), MaxMetaNames)
	case len(m.Peer) > MaxMetaPeerLen:
		return nil, fmt.Errorf("peer of %d bytes: at most %d", len(m.Peer), MaxMetaPeerLen)
	case m.NameCount < len(m.Names) || int64(m.NameCount) > 1<<32-1:
		return nil, fmt.Errorf("%d names in all, %d kept", m.NameCount, len(m.Names))
	}
	b := []byte{metaVersion}
	b = binary.BigEndian.AppendUint32(b, uint32(m.NameCount))
	b = binary.BigEndian.AppendUint16(b, uint16(len(m.Peer)))
	b = append(b, m.Peer...)
	b = append(b, byte(len(m.Names)))
	for _, n := range m.Names {
		if len(n) == 0 || len(n) > MaxMetaNameLen {
			return nil, fmt.Errorf("name of %d bytes: 1 to %d", len(n), MaxMetaNameLen)
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(n)))
		b = append(b, n...)
	}
	return b, nil
}

func decodeMeta(b []byte) (TransferMeta, error) {
	bad := func(what string) (TransferMeta, error) {
		return TransferMeta{}, fmt.Errorf("%w: meta: %s", ErrCorrupt, what)
	}
	if len(b) < 1+4+2 || b[0] != metaVersion {
		return bad("bad header")
	}
	m := TransferMeta{NameCount: int(binary.BigEndian.Uint32(b[1:]))}
	pl := int(binary.BigEndian.Uint16(b[5:]))
	b = b[7:]
	if pl > MaxMetaPeerLen || pl+1 > len(b) {
		return bad("bad peer length")
	}
	m.Peer, b = string(b[:pl]), b[pl:]
	n := int(b[0])
	b = b[1:]
	if n > MaxMetaNames || n > m.NameCount {
		return bad(fmt.Sprintf("%d names kept of %d", n, m.NameCount))
	}
	for range n {
		if len(b) < 2 {
			return bad("short name")
		}
		l := int(binary.BigEndian.Uint16(b))
		b = b[2:]
		if l == 0 || l > MaxMetaNameLen || l > len(b) {
			return bad("bad name length")
		}
		m.Names = append(m.Names, string(b[:l]))
		b = b[l:]
	}
	if len(b) != 0 {
		return bad("trailing bytes")
	}
	return m, nil
}
