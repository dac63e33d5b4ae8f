package discovery

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"time"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// DefaultSlot is the rendezvous time slot used when Options.SlotLen is 0.
const DefaultSlot = 5 * time.Minute

// keyDomain separates pcp's rendezvous hashes from any other SHA-256 use.
const keyDomain = "pcp-rendezvous/1\x00"

// RendezvousKey returns the rendezvous key of channel for the slot holding
// the instant slot. slotLen <= 0 means DefaultSlot. The derivation is
//
//	n   = floor(slot.UnixNano() / slotLen.Nanoseconds())          (int64)
//	key = hex(SHA-256("pcp-rendezvous/1" 0x00 || be64(slotLen ns) || be64(n) || channel))
//
// 64 lowercase hex digits. The fixed-size fields come before the channel, so
// no two inputs share an encoding.
func RendezvousKey(channel string, slot time.Time, slotLen time.Duration) string {
	if slotLen <= 0 {
		slotLen = DefaultSlot
	}
	return keyForSlot(channel, slotNumber(slot, slotLen), slotLen)
}

func keyForSlot(channel string, n int64, slotLen time.Duration) string {
	b := make([]byte, 0, len(keyDomain)+16+len(channel))
	b = append(b, keyDomain...)
	b = binary.BigEndian.AppendUint64(b, uint64(slotLen.Nanoseconds()))
	b = binary.BigEndian.AppendUint64(b, uint64(n))
	b = append(b, channel...)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// slotNumber is floor(t / slotLen) counted from the Unix epoch.
func slotNumber(t time.Time, slotLen time.Duration) int64 {
	ns, l := t.UnixNano(), slotLen.Nanoseconds()
	n := ns / l
	if ns%l != 0 && ns < 0 {
		n--
	}
	return n
}

// slotEnd is the first instant of the slot after the one holding t.
func slotEnd(t time.Time, slotLen time.Duration) time.Time {
	return time.Unix(0, (slotNumber(t, slotLen)+1)*slotLen.Nanoseconds())
}

// searchKeys are the keys a receiver looks for at instant t: the current
// slot first, then the previous one.
func searchKeys(channel string, t time.Time, slotLen time.Duration) []string {
	n := slotNumber(t, slotLen)
	return []string{keyForSlot(channel, n, slotLen), keyForSlot(channel, n-1, slotLen)}
}

// keyCID is the DHT content ID of a rendezvous key: CIDv1, codec raw,
// SHA2-256 multihash of the key's 64 ASCII hex digits.
func keyCID(key string) cid.Cid {
	h, err := mh.Sum([]byte(key), mh.SHA2_256, -1)
	if err != nil { // SHA2_256 is always registered
		panic("discovery: multihash: " + err.Error())
	}
	return cid.NewCidV1(cid.Raw, h)
}

// mdnsService is the DNS-SD service type for a rendezvous key:
// "_pcp-" + the key's first 10 hex digits + "._udp". The service part stays
// within DNS-SD's 15-character limit.
func mdnsService(key string) string {
	return "_pcp-" + key[:10] + "._udp"
}
