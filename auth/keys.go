package auth

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"hash"
)

// Labels of the key schedule. Changing any of them changes the protocol:
// bump protocolLabel and protocolVersion together.
const (
	protocolLabel   = "pcp-auth/1"
	curveLabel      = "P-256"
	passwordLabel   = "pcp-auth/1 password"
	sessionKeyLabel = "pcp-auth/1 session key"
	confirmKeyLabel = "pcp-auth/1 confirm key"
	sessionIDLabel  = "pcp-auth/1 session id"
	senderLabel     = "pcp-auth/1 sender"
	receiverLabel   = "pcp-auth/1 receiver"
)

// writeField writes a 4-byte big-endian length and then v, so that
// concatenated fields cannot be re-split differently.
func writeField(h hash.Hash, v []byte) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(v)))
	h.Write(n[:])
	h.Write(v)
}

// passwordScalar maps the secret words to the PAKE password input:
// SHA-256(field(passwordLabel) || field(secret)). The channel word is not
// part of it.
func passwordScalar(secret string) []byte {
	h := sha256.New()
	writeField(h, []byte(passwordLabel))
	writeField(h, []byte(secret))
	return h.Sum(nil)
}

// transcript is what both sides must agree on for confirmation to succeed.
type transcript struct {
	senderMsg   []byte // the sender's PAKE element X, as sent (65 bytes)
	receiverMsg []byte // the receiver's PAKE element Y, as sent (65 bytes)
	senderID    []byte // the sender's libp2p peer ID bytes
	receiverID  []byte // the receiver's libp2p peer ID bytes
	channel     string // the public channel word
}

// hash returns SHA-256 over the length-prefixed fields protocolLabel,
// curveLabel, senderMsg, receiverMsg, senderID, receiverID, channel.
func (t *transcript) hash() [32]byte {
	h := sha256.New()
	writeField(h, []byte(protocolLabel))
	writeField(h, []byte(curveLabel))
	writeField(h, t.senderMsg)
	writeField(h, t.receiverMsg)
	writeField(h, t.senderID)
	writeField(h, t.receiverID)
	writeField(h, []byte(t.channel))
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// keys is the output of the key schedule.
type keys struct {
	session         [32]byte // Session.Key
	id              [32]byte // Session.ID
	senderConfirm   [32]byte // what the sender sends in M3
	receiverConfirm [32]byte // what the receiver sends in M2
}

// schedule derives everything from the PAKE key and the transcript hash th:
//
//	prk             = HKDF-Extract(SHA-256, salt = th, secret = pakeKey)
//	session         = HKDF-Expand(prk, "pcp-auth/1 session key", 32)
//	kc              = HKDF-Expand(prk, "pcp-auth/1 confirm key", 32)
//	senderConfirm   = HMAC-SHA256(kc, "pcp-auth/1 sender"   || th)
//	receiverConfirm = HMAC-SHA256(kc, "pcp-auth/1 receiver" || th)
//	id              = SHA-256("pcp-auth/1 session id" || th)
//
// id depends on public values only, so it is safe to log.
func schedule(pakeKey []byte, th [32]byte) keys {
	var k keys
	prk, err := hkdf.Extract(sha256.New, pakeKey, th[:])
	if err != nil {
		panic("auth: hkdf extract: " + err.Error()) // only possible under FIPS 140-only mode with a non-approved hash
	}
	expand := func(dst *[32]byte, label string) {
		out, err := hkdf.Expand(sha256.New, prk, label, len(dst))
		if err != nil {
			panic("auth: hkdf expand: " + err.Error())
		}
		copy(dst[:], out)
	}
	expand(&k.session, sessionKeyLabel)
	var kc [32]byte
	expand(&kc, confirmKeyLabel)
	mac := func(dst *[32]byte, label string) {
		m := hmac.New(sha256.New, kc[:])
		m.Write([]byte(label))
		m.Write(th[:])
		m.Sum(dst[:0])
	}
	mac(&k.senderConfirm, senderLabel)
	mac(&k.receiverConfirm, receiverLabel)
	h := sha256.New()
	h.Write([]byte(sessionIDLabel))
	h.Write(th[:])
	h.Sum(k.id[:0])
	return k
}
