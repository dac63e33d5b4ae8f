package discovery

import (
	"testing"
	"time"
)

// Known answers, cross-checked with an independent Python implementation of
// the derivation in RendezvousKey's doc.
func TestRendezvousKeyKnownAnswers(t *testing.T) {
	for _, c := range []struct {
		channel string
		unix    int64
		slotLen time.Duration
		want    string
	}{
		{"apple", 0, 0, "f808c1bd3f438b6e71c29963015926d6257241c6cf0d38fec9b6991cb53a065e"},
		{"apple", 299, 0, "f808c1bd3f438b6e71c29963015926d6257241c6cf0d38fec9b6991cb53a065e"},
		{"apple", 300, 0, "3ab2b0bd0e529ee2524053dc33543659cc0584fa9a8b932586b82dad54227ccf"},
		{"apple", 300, DefaultSlot, "3ab2b0bd0e529ee2524053dc33543659cc0584fa9a8b932586b82dad54227ccf"},
		{"zebra", 1700000000, 0, "b2e2ad198b9538dea96ea2f4977bea5c3f386231af1af33ced8f661367841727"},
		{"zebra", 1700000000, time.Minute, "4f16ad3b5f7766927f4b10745dfa7e92009b41c03fbd76b9f0d153d6171124e4"},
		{"", -1, 0, "e0724492f5cc269ae28d9fa15b8dcc18c8104b17f816b660e14eeda89ac0acf0"}, // slot -1: floor, not truncation
	} {
		if got := RendezvousKey(c.channel, time.Unix(c.unix, 0), c.slotLen); got != c.want {
			t.Errorf("RendezvousKey(%q, %d, %v) = %s, want %s", c.channel, c.unix, c.slotLen, got, c.want)
		}
	}
}

func TestSearchKeysCoverPreviousSlot(t *testing.T) {
	boundary := time.Unix(1700000100, 0) // a multiple of 300 s
	if slotNumber(boundary, DefaultSlot)*300 != boundary.Unix() {
		t.Fatal("test boundary is not a slot boundary")
	}
	senderAt := boundary.Add(-time.Second)      // advertised just before the boundary
	receiverAt := boundary.Add(2 * time.Second) // looked up just after it
	advertised := RendezvousKey("apple", senderAt, DefaultSlot)
	keys := searchKeys("apple", receiverAt, DefaultSlot)
	if keys[0] == advertised {
		t.Fatal("slots did not change across the boundary")
	}
	if keys[1] != advertised {
		t.Fatalf("receiver does not search the previous slot: %v, advertised %s", keys, advertised)
	}
	// Two slots later the key is no longer searched.
	if k := searchKeys("apple", receiverAt.Add(DefaultSlot), DefaultSlot); k[0] == advertised || k[1] == advertised {
		t.Fatal("key searched two slots later")
	}
	if got := slotEnd(senderAt, DefaultSlot); !got.Equal(boundary) {
		t.Fatalf("slotEnd = %v, want %v", got, boundary)
	}
}

func TestServiceAndCIDDerivation(t *testing.T) {
	k := RendezvousKey("apple", time.Unix(0, 0), 0)
	if s := mdnsService(k); s != "_pcp-f808c1bd3f._udp" {
		t.Fatalf("service %q", s)
	}
	if c := keyCID(k); c.Prefix().Version != 1 || c.Type() != 0x55 || c != keyCID(k) {
		t.Fatalf("cid %v", c)
	}
	if keyCID(k) == keyCID(RendezvousKey("pear", time.Unix(0, 0), 0)) {
		t.Fatal("two channels share a CID")
	}
}
