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
//     (dht.ModeAuto: client unless publicly reachable), shared by Advertise
//     and Find and closed when the last of them ends. Bootstrap peers are
//     the public Amino ones unless Options.Bootstrap replaces them.
//   - No busy loops: every DHT retry waits, 1 s doubling to 30 s, so a host
//     with no reachable DHT peer stays near 0% CPU.
//   - Find never yields the host itself. Candidates are deduplicated by peer
//     ID; a peer comes again only when a source adds addresses not yet
//     yielded, and then carries every address known so far. Candidates are
//     unauthenticated: the caller must authenticate each and drop failures.
//   - Loopback and private addresses are not filtered (the DHT's
//     AddressFilter is left nil), so a private DHT on one machine or a LAN
//     works; a receiver may therefore get addresses it cannot reach and
//     must dial candidates with a timeout.
package discovery
