// Package p2p builds the libp2p hosts pcp runs on: the host a sender or
// receiver uses (NewHost), and the long-running `pcp node` (NewNode), which
// is a Kademlia DHT server plus a circuit-v2 relay sized for file transfer.
//
// Invariants:
//   - Transports are TCP and QUIC only. Security offers TLS first and Noise
//     second (TLS costs about 25% less CPU on our machines); TLS writes the
//     records of each Write with one write(2) (tlsbatch.go); the only stream
//     muxer is yamux, with a 4 MiB initial stream window (max 16 MiB). An
//     ordinary dial tries TCP first and QUIC one step later (ranker.go:
//     30 ms on private addresses, 250 ms on public ones), so bulk data goes
//     over TCP, at a third of QUIC's CPU, wherever both reach the peer; a
//     hole punch (simultaneous connect) still dials both at once.
//   - Every host runs the AutoNAT client, the circuit-v2 relay client
//     (transport), and pcp's own DCUtR service (punch.go): it offers, beside
//     observed addresses, a guess for the transport not yet observed, and a
//     sender punches again while a receiver is reached only through a relay
//     (Upgrade). Relays from --relay and from a RelaySource (the DHT) feed
//     autorelay, which reserves at once; a host on a machine with no public
//     interface address is private from the start. NAT port mapping
//     (UPnP/NAT-PMP, portmap.go) is on unless turned off.
//   - A relayed connection is Limited when its relay set a per-circuit limit.
//     A connection is TransferGrade (may carry data) when it is not Limited,
//     or when the limits its relay sent in the circuit handshake reach
//     MinTransferCircuitData and MinTransferCircuitDuration. A transfer-grade
//     node without an operator's limits sets none; one with them
//     (RelayLimits: rate, data and time per circuit, circuit and reservation
//     counts) is still transfer-grade, and Check refuses limits below it. A
//     public-like relay (PublicRelayResources, libp2p's 128 KiB / 2 min) is
//     for meeting only. Callers open meeting streams with
//     network.WithAllowLimitedConn; data streams on an unlimited connection,
//     or with NewStreamOn on a TransferCircuit, never on a meeting-only one.
//     The swarm prefers an unlimited connection to a limited one, and a
//     direct one to a relayed one.
//   - A node's Rate is enforced on its relay's hop streams (relayrate.go):
//     every relayed byte passes one token bucket once.
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
