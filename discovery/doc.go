// Package discovery finds the other peer of a pcp transfer: the sender
// advertises its host under a rendezvous key, the receiver looks the key up
// and gets peer candidates. It runs mDNS (LAN) and the Kademlia DHT
// (internet) in parallel and yields whatever comes first.
//
// Terms and invariants:
//   - The rendezvous key is a function of the channel (the passphrase's
//     first word, which the caller passes as a plain string) and a time slot
//     (DefaultSlot, 5 minutes); see RendezvousKey. This package never sees
//     the secret words, and nothing derived from them is published.
//   - The sender advertises the current slot's key and re-advertises when
//     the slot changes. The receiver searches the current and the previous
//     slot, so a sender that started just before a slot boundary is found.
//   - mDNS: the service type is "_pcp-<first 10 hex digits of the key>._udp",
//     so channels do not see each other's announcements. The record format
//     is go-libp2p's mdns one: each TXT string is "dnsaddr=<full multiaddr
//     ending in /p2p/<id>>". Only the advertiser answers; the receiver only
//     queries, so receivers never appear as candidates to each other.
//     Within a second, always: the advertiser queries its own service right
//     after registering (0, 0.25 s, 1 s), so its answer reaches receivers
//     that are already browsing without waiting for zeroconf's probing (up
//     to 1 s); a receiver re-queries at 0.25, 0.5, 1 and 2 s for senders
//     that were up before it.
//   - DHT: the sender Provides keyCID(key) (CIDv1 raw, SHA2-256 of the key);
//     the receiver runs FindProvidersAsync on it. A host gets one DHT client
//     (dht.ModeClient: a sender or receiver lives for minutes and must not
//     leave dead entries in others' routing tables; a `pcp node` is the
//     server), shared by Advertise, Find and FindRelays and closed when the
//     last of them ends. Bootstrap peers are the public Amino ones unless
//     Options.Bootstrap replaces them.
//   - A provide waits for a peer in the routing table and an address to
//     announce (DHT servers refuse a record without one), and is repeated
//     when the announced addresses change (a relay reservation arrives).
//   - Scope (scope.go): the DHT's scope is the widest of its bootstrap
//     addresses (public, private or loopback). Only addresses at least that
//     wide are announced or kept from it: the public DHT never carries
//     loopback or private addresses, a LAN or lab DHT carries private ones.
//   - Relays (relays.go): a transfer-grade `pcp node` provides RelayKey.
//     FindRelays yields those when there are any, best first by the limits
//     each states over RelayInfoProtocol (relayinfo.go; an answer is at most
//     1 KiB and 3 s, validated by ParseRelayInfo), else the routing table's
//     relay-capable peers (public relays: for meeting, not for data).
//   - No busy loops: every DHT retry waits, 1 s doubling to 30 s (1 s for
//     lookups, since a record may appear any moment), so a host with no
//     reachable DHT peer stays near 0% CPU.
//   - Find never yields the host itself. Candidates are deduplicated by peer
//     ID; a peer comes again only when a source adds addresses not yet
//     yielded, and then carries every address known so far. Candidates are
//     unauthenticated: the caller must authenticate each and drop failures.
//   - Within the DHT's scope, addresses are not filtered further: a
//     receiver may get addresses it cannot reach and must dial candidates
//     with a timeout.
package discovery
