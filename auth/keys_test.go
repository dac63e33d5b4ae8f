package auth

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// The vectors below were computed independently with Python's hashlib and
// hmac (HKDF written out from RFC 5869), not with this package.

func unhex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func katTranscript() transcript {
	x := []byte{4}
	y := []byte{4}
	for i := range 64 {
		x = append(x, byte(1+i))
		y = append(y, byte(101+i))
	}
	return transcript{senderMsg: x, receiverMsg: y, senderID: testPeerID(0x10), receiverID: testPeerID(0x50), channel: "orbit"}
}

func TestPasswordScalarKAT(t *testing.T) {
	got := passwordScalar("mango-fiscal-tiger")
	if want := unhex(t, "f39ae10ddf0d7654a4f39de9bd6e0b847cf3ae8a8f53c61b48b861babb2e8678"); !bytes.Equal(got, want) {
		t.Fatalf("passwordScalar = %x, want %x", got, want)
	}
	// The secret is what Passphrase.secret returns: the channel word is not in it.
	p := mustParse(t, "Orbit mango FISCAL-tiger")
	if p.secret() != "mango-fiscal-tiger" {
		t.Fatalf("secret = %q", p.secret())
	}
}

func TestKeyScheduleKAT(t *testing.T) {
	tr := katTranscript()
	th := tr.hash()
	if want := unhex(t, "3e05b408dbe3a96e8344cd340a5ebee7dd9ce2eb1f4fca25c6d8df2a31d4ea5b"); !bytes.Equal(th[:], want) {
		t.Fatalf("transcript hash = %x, want %x", th, want)
	}
	pakeKey := make([]byte, 32)
	for i := range pakeKey {
		pakeKey[i] = byte(i)
	}
	k := schedule(pakeKey, th)
	for _, v := range []struct {
		name string
		got  [32]byte
		want string
	}{
		{"session key", k.session, "9773a4f7ac2d6f9cab03669bc04871a9e6a4c729c94efe1ef908882d4a84cc6f"},
		{"sender confirm", k.senderConfirm, "af442cb6c948e6809574640ec9387ad9529c0ef7d44d26a84ca1605a2b01ad5e"},
		{"receiver confirm", k.receiverConfirm, "c04b4f5dc11d784ebfa7e7ec73bfad1971613a9e60459b08d92423aa23be6eee"},
		{"session id", k.id, "d80c27f329620c41ddee9e77a9d13900fbdc74e8f5d4dd9aab4d7b3fc78ad9fb"},
	} {
		if want := unhex(t, v.want); !bytes.Equal(v.got[:], want) {
			t.Errorf("%s = %x, want %x", v.name, v.got, want)
		}
	}
}

// TestTranscriptBindsEveryField: changing any field, or moving bytes
// between adjacent fields, changes the transcript hash.
func TestTranscriptBindsEveryField(t *testing.T) {
	base := katTranscript()
	h0 := base.hash()
	mutations := map[string]func(*transcript){
		"sender msg":        func(t *transcript) { t.senderMsg = append([]byte{}, t.senderMsg...); t.senderMsg[5] ^= 1 },
		"receiver msg":      func(t *transcript) { t.receiverMsg = append([]byte{}, t.receiverMsg...); t.receiverMsg[5] ^= 1 },
		"sender id":         func(t *transcript) { t.senderID = testPeerID(0x11) },
		"receiver id":       func(t *transcript) { t.receiverID = testPeerID(0x51) },
		"ids swapped":       func(t *transcript) { t.senderID, t.receiverID = t.receiverID, t.senderID },
		"channel":           func(t *transcript) { t.channel = "ocean" },
		"messages swapped":  func(t *transcript) { t.senderMsg, t.receiverMsg = t.receiverMsg, t.senderMsg },
		"byte moved across": func(t *transcript) { t.receiverID = append(t.receiverID, 'o'); t.channel = "rbit" },
	}
	for name, mut := range mutations {
		tr := katTranscript()
		mut(&tr)
		if tr.hash() == h0 {
			t.Errorf("%s: transcript hash unchanged", name)
		}
	}
	// The confirmations differ by role, and from the session key.
	k := schedule(make([]byte, 32), h0)
	if k.senderConfirm == k.receiverConfirm || k.session == k.senderConfirm || k.session == k.id {
		t.Fatal("key schedule outputs collide")
	}
}
