// Package lab is pcp's network lab: integration tests that run real pcp
// processes in Linux network namespaces joined by veth pairs, bridges and
// nftables NAT routers, and check discovery and reachability end to end
// (project issue 4). It has no non-test code; `go test ./discovery/lab/`
// runs it, as root.
//
// The lab (one per test, built fresh and torn down in t.Cleanup):
//
//	a 10.77.1.11 ─┐                        ┌─ p1 10.77.0.10, p2 .11, …  (pcp node: DHT, relay)
//	b 10.77.1.12 ─┤ bridge in <pfx>lan     │  bridge in <pfx>wan: 10.77.0.0/24, the "internet"
//	              └─ ra 10.77.1.1 ─────────┤  ra wan0 10.77.0.1
//	                                       └─ rc wan0 10.77.0.2 ── c 10.77.2.11 (rc lan0 10.77.2.1)
//
// Invariants:
//   - Everything lives in namespaces named <pfx><role>, where pfx is
//     "pcpl<pid%1000>-<n>-" and unique per lab; nothing (no link, route or
//     nft rule) is created in the root namespace. Teardown kills every
//     process left in the lab's namespaces and deletes them, which removes
//     their links, qdiscs and nft tables; each test then asserts that
//     `ip netns list` shows none of its namespaces.
//   - One process per namespace, started with `ip netns exec` (namespaces
//     apply per OS thread, so a Go process never switches namespace). The
//     pcp binary is built once per run in TestMain with -tags pcplab.
//   - Routers: NAT "cone" is nft masquerade (endpoint-independent mapping),
//     "symmetric" is masquerade random,fully-random, and both drop
//     unsolicited inbound on wan0 like a home router; "none" is a plain
//     router, and the rest of the internet gets a route to its LAN.
//     conntrack is flushed after every NAT change.
//   - A link drop downs the far end of a host's veth (downing eth0 inside
//     the host would delete its default route); a rate limit is tc tbf on
//     both ends of the link.
//   - Tests wait on events (JSON lines from pcp --json, process exits),
//     never on sleeps; only link-down durations are timers.
//   - Every test skips, saying why, unless run as root with ip, nft,
//     unshare, tc, conntrack and sysctl available.
//
// Running: `go test -v ./discovery/lab/` as root (about 3 minutes, most of
// it the 60 s link drop). A passing result is cached by `go test` only
// while every .go file, go.mod and go.sum of the module is unchanged (the
// tests stat them, since they run a binary go test cannot see); -count=1
// forces a run. PCPLAB_DUMP=1 logs every process's JSON events and stderr
// tail even when the test passes (a failing test always does).
package lab
