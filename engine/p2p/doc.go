// Package p2p builds the libp2p hosts pcp runs on: the host a sender or
// receiver uses (NewHost), and the long-running `pcp node` (NewNode), which
// is a Kademlia DHT server plus a circuit-v2 relay sized for file transfer.
//
// Invariants:
//   - Transports are TCP and QUIC only. Security offers TLS first and Noise
//     second (TLS costs about 25% less CPU on our machines); the only stream
//     muxer is yamux, with a 4 MiB initial stream window (max 16 MiB).
//   - Every host runs the AutoNAT client, the circuit-v2 relay client
//     (transport), and DCUtR hole punching. Static relays, when given, feed
//     autorelay. NAT port mapping (UPnP/NAT-PMP) is off unless asked for.
//   - A node's relay never resets a circuit after the libp2p default
//     128 KiB / 2 min: its per-circuit limit is NodeRelayLimit. Relayed
//     connections still carry a (large) limit, so they stay marked Limited:
//     callers must open streams on them with network.WithAllowLimitedConn,
//     and the swarm keeps preferring a direct connection once one exists.
//   - A node's identity is a libp2p private key persisted, marshalled with
//     crypto.MarshalPrivateKey, in a file of mode 0600; the same file yields
//     the same peer ID across restarts.
//   - Nothing here prints or exits; logging goes to the *slog.Logger in the
//     options (nil = discard).
//
// The build-tagged file lab_pcplab.go (tag pcplab) lets the network lab treat
// its "internet" range as public, for hole-punching tests. It is never part
// of a normal build.
package p2p
