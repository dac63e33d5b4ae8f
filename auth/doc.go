// Package auth turns a low-entropy passphrase into a strong, mutually
// confirmed session between a pcp sender and receiver. It owns the BIP39
// passphrases and the PAKE handshake; it runs over an io.ReadWriter, takes
// the peer identities as bytes, and imports no libp2p, no net and nothing
// else from pcp.
//
// # Passphrases
//
// A passphrase is a channel word followed by secret words, all from the
// English BIP39 list (2048 words, 11 bits each). Generate draws the words
// uniformly and independently from crypto/rand (the low 11 bits of a
// 16-bit value: no modulo bias); the default is DefaultWords = 4. Parse is
// strict and deterministic: it splits on runs of '-', '_' and white space,
// lower-cases, and looks every word up by binary search in the one sorted
// English list, so the same input always gives the same words and the same
// channel. An unknown word is an *UnknownWordError naming the closest valid
// words. FromEnv reads EnvPassphrase, so the passphrase need not appear in
// the process list.
//
// Invariants:
//   - The first word is the channel. It is public: discovery derives the
//     rendezvous key from it, and with 2048 possible values anyone can
//     recover it from that key. It carries no secret entropy.
//   - Only the remaining words are the secret. They are used once, as the
//     PAKE password input SHA-256(len|"pcp-auth/1 password"|len|secret),
//     where secret is the words joined with '-'. Nothing derived from them
//     is public. String and Words return them; LogValue and GoString do
//     not, and no error does except *UnknownWordError, which echoes the
//     mistyped word.
//
// Entropy of the secret part, for generated passphrases:
//
//	words  secret words  secret bits  combinations
//	3      2             22           4.2e6
//	4      3             33           8.6e9   (default)
//	5      4             44           1.8e13
//	6      5             55           3.6e16
//
// A passphrase the user made up has whatever entropy the user put in;
// EntropyBits assumes a generated one.
//
// # Handshake
//
// Handshake runs PAKE v3 (github.com/schollz/pake/v3, SPAKE2-style, on
// P-256) and then key confirmation in both directions, before any other
// byte is sent. The PAKE is initialised with both peer IDs (idA = sender,
// idB = receiver). The session keys come from HKDF over the PAKE key and a
// transcript hash:
//
//	th      = SHA-256(field("pcp-auth/1") | field("P-256") | field(X) | field(Y) |
//	                  field(senderID) | field(receiverID) | field(channel))
//	          where field(v) = uint32 big-endian len(v) | v, X and Y are the
//	          PAKE elements exactly as sent, and the IDs are the libp2p peer IDs
//	          each side sees on its authenticated transport
//	prk     = HKDF-Extract(SHA-256, salt = th, secret = PAKE key)
//	Key     = HKDF-Expand(prk, "pcp-auth/1 session key", 32)
//	kc      = HKDF-Expand(prk, "pcp-auth/1 confirm key", 32)
//	confR   = HMAC-SHA256(kc, "pcp-auth/1 receiver" | th)
//	confS   = HMAC-SHA256(kc, "pcp-auth/1 sender"   | th)
//	ID      = SHA-256("pcp-auth/1 session id" | th)     (public; safe to log)
//
// Confirmations are compared in constant time. Any difference in the
// passphrase, the channel word, or the peer IDs either side sees makes the
// confirmation fail, and both sides return ErrWrongPassphrase: the sides
// cannot tell these causes apart, by design. Messages that are not valid
// pcp-auth/1 give ErrHandshake instead; they test no passphrase.
//
// Message sequence (the sender writes first):
//
//	M1 sender   -> receiver  sender-hello    version, X
//	M2 receiver -> sender    receiver-reply  Y, confR
//	M3 sender   -> receiver  sender-confirm  confS       (or abort)
//
// Who confirms first, and why that allows no offline dictionary attack:
// the receiver confirms first (M2); the sender sends its own confirmation
// only after verifying the receiver's, and otherwise sends an abort. So the
// sender, the long-lived party that faces every connection arriving on the
// public channel, never sends a key-dependent value to a peer that has not
// proved the passphrase. Neither order enables an offline attack: the
// confirmation keys derive from the PAKE key, which mixes the password with
// a Diffie-Hellman value Z. A party that took part with its own password
// guess can compute Z only for the one password it committed to in its own
// PAKE element; for any other password it would have to solve
// computational Diffie-Hellman. A confirmation therefore tests exactly the
// one guess that the online attempt already tested, and a passive observer
// can test none.
//
// A wrong passphrase never hangs either side. The sender detects it when it
// verifies confR; it sends abort(0x01) in place of M3 and returns
// ErrWrongPassphrase, and the receiver, which is waiting for M3, reads the
// abort and returns ErrWrongPassphrase too. A side that rejects the peer's
// message as garbage sends abort(0x02) (0x03 for an unknown version) if
// the peer is waiting for its next message. The receiver's check of confS
// is last: it can only fail if M3 was forged or tampered with, and the
// receiver then returns ErrWrongPassphrase without replying; the sender's
// next read sees the connection closed.
//
// # Wire format
//
// Every message is one frame:
//
//	offset  size  field
//	0       1     type
//	1       2     body length, big-endian
//	3       n     body
//
//	type  name            n   body
//	0x01  sender-hello    66  version (0x01) | X: SEC1 uncompressed P-256 point
//	                          (0x04 | x: 32 | y: 32, big-endian)
//	0x02  receiver-reply  97  Y: SEC1 uncompressed point (65) | confR (32)
//	0x03  sender-confirm  32  confS
//	0x7f  abort            1  reason: 0x01 key confirmation failed (wrong
//	                          passphrase), 0x02 invalid message, 0x03 version
//
// The reader checks that the type is known and that the length is exactly
// that type's n (so at most 128, the hard bound) before it reads the body;
// the body goes into a fixed buffer, so a frame never causes an allocation
// sized by the peer. Points must be on the curve, reduced, and not the
// identity (crypto/ecdh validation). A version other than 0x01 is rejected
// before the point is read. pake/v3's own JSON encoding never crosses the
// wire: points are re-encoded locally for it.
//
// # Cancellation
//
// ctx is honoured. If the io.ReadWriter has SetDeadline (net.Conn, libp2p
// network.Stream), the context deadline is applied to it and cancellation
// sets a past deadline; the deadline is cleared when Handshake returns
// normally. Otherwise the I/O runs in a goroutine and Handshake returns at
// once on cancellation; the caller must then close the ReadWriter to let
// that goroutine finish. A silent peer is bounded only by ctx, so callers
// give it a deadline.
//
// # Threat model
//
// An observer of mDNS or the DHT sees the rendezvous key and can recover
// the channel word from it (2048 candidates), and sees the sender's peer ID
// and addresses. It learns that a transfer is on offer, nothing about the
// secret words, and nothing about the files. It can connect as a receiver:
// each connection is one online guess (success 2^-33 for a default
// passphrase), and the sender stops after Guard.Max failures (3 by
// default), so the chance of ever guessing right is at most 3 * 2^-33,
// about 3.5e-10. It can instead advertise on the channel as a fake sender:
// each receiver connection to it is again one guess, and it can pass off no
// file (the engine exchanges no manifest before the handshake succeeds).
// It can deny service: failed guesses use up the sender's budget, and the
// sender then stops with ErrTooManyFailures. Unrelated transfers whose
// channel words collide (1 in 2048 per pair of concurrent transfers in the
// same discovery scope) have the same effect; the passphrases still do not
// match, so no wrong peer is ever accepted.
//
// A relay (libp2p circuit v2) carries the libp2p connection, which is
// encrypted and authenticated end to end to the peer IDs; it sees sizes
// and timing only. Even if it saw the handshake bytes, X and Y are blinded
// by fresh random scalars and the confirmations are keyed by the PAKE key,
// so it has nothing to run an offline dictionary attack on. A man in the
// middle that terminates both connections under its own peer ID does not
// know the passphrase; each side sees its peer ID in place of the other's,
// the transcripts differ, and confirmation fails on both sides. Its best
// move is to play the PAKE itself, which is one online guess per side per
// session, the same as any guessing attacker.
//
// A guessing attacker gets exactly one guess per handshake and nothing it
// can take offline. Protection against many guesses is the sender's Guard,
// and, on the receiver side, not retrying indefinitely.
//
// # Guard
//
// A guess is judged when the sender verifies the receiver's confirmation
// (M2): Handshake then returns a session or ErrWrongPassphrase. Only the
// latter is a failure; ErrHandshake, a timeout or a vanished peer tested
// no passphrase. Invariants, for one Guard (one offer):
//   - A handshake runs only on a slot from Guard.Reserve, taken before its
//     first message is read, and the slot is resolved exactly once:
//     Ticket.Fail for ErrWrongPassphrase, Ticket.Release otherwise.
//   - Failures plus slots held never exceed Limit. So however many
//     handshakes run at once, at most Limit wrong guesses are ever judged,
//     and at the moment the Guard is exhausted none is in flight.
//   - Once exhausted, or after Close (the offer has ended), Reserve refuses
//     at once: no handshake starts, and the sender stops.
//
// Out of scope: the terminal showing the passphrase, a passphrase given as
// a command-line argument (use EnvPassphrase), a compromised endpoint, and
// traffic analysis.
//
// # Cost
//
// On this project's 2-core machines a whole handshake over net.Pipe, both
// sides in one process, costs about 0.6 ms (BenchmarkHandshake), far below
// the 50 ms budget; the predecessor spent 3-5 s in bcrypt. The bare pake/v3
// exchange costs about 0.46 ms on P-256, 0.85 ms on ed25519 and 20 ms on
// siec (BenchmarkPAKECurves). P-256 is chosen: it is the fastest, has
// prime order (no cofactor), and runs on Go's constant-time nistec.
package auth
