package discovery

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"
)

// netnsEnv marks the re-executed test binary running inside a fresh network
// namespace.
const netnsEnv = "PCP_DISCOVERY_MDNS_NETNS"

// receiverHeadStart is how long a receiver that starts first looks before the
// sender comes up. It is part of the scenario, not a wait for readiness:
// longer than mdnsRequery, so only the announcement path can deliver.
const receiverHeadStart = 3 * time.Second

// inNetns re-executes the calling test inside a new network namespace,
// after running setup there, and reports true in the parent (which should
// return). In the child it reports false and the test body runs.
func inNetns(t *testing.T, setup string) bool {
	t.Helper()
	if os.Getenv(netnsEnv) == t.Name() {
		return false
	}
	if os.Geteuid() != 0 {
		t.Skip("mDNS tests need root to create a network namespace")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("mDNS tests need unshare(1): " + err.Error())
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("mDNS tests need ip(8): " + err.Error())
	}
	cmd := exec.CommandContext(t.Context(), unshare, "-n", "sh", "-c",
		setup+` && exec "$0" -test.run "^$1\$" -test.v -test.count=1`, os.Args[0], t.Name())
	cmd.Env = append(os.Environ(), netnsEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	t.Logf("in netns:\n%s", out)
	if err != nil {
		t.Fatalf("netns run failed: %v", err)
	}
	return true
}

// TestMDNSNoMulticast: in a namespace whose only interface is down, mDNS
// cannot start and Find and Advertise say so.
func TestMDNSNoMulticast(t *testing.T) {
	if inNetns(t, "true") {
		return
	}
	h := newHost(t)
	_, err := Find(t.Context(), h, "apple", Options{MDNS: true})
	if !errors.Is(err, ErrNoMechanism) || !errors.Is(err, ErrNoMulticast) {
		t.Fatalf("Find: want ErrNoMechanism and ErrNoMulticast, got %v", err)
	}
	if err := Advertise(t.Context(), h, "apple", Options{MDNS: true}); !errors.Is(err, ErrNoMechanism) || !errors.Is(err, ErrNoMulticast) {
		t.Fatalf("Advertise: want ErrNoMechanism and ErrNoMulticast, got %v", err)
	}
}

// TestMDNSInNetns checks that a receiver finds a sender over mDNS within 1 s
// of both being up, 5 times out of 5, alternating who starts first. mDNS
// must not send packets out of the real interfaces, so the test re-executes
// itself in a new network namespace that has only a multicast-enabled
// loopback; that needs root and unshare(1).
func TestMDNSInNetns(t *testing.T) {
	if inNetns(t, "ip link set lo up multicast on") {
		return
	}
	for i := range 5 {
		t.Run(fmt.Sprintf("rep%d", i), func(t *testing.T) {
			channel := fmt.Sprintf("mdns-rep-%d-%d", i, time.Now().UnixNano())
			sender, receiver := newHost(t), newHost(t)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			opts := Options{MDNS: true}
			advertise := func() {
				if err := Advertise(ctx, sender, channel, opts); err != nil {
					t.Fatal(err)
				}
			}
			// A receiver on another channel must hear nothing.
			other, err := Find(ctx, newHost(t), channel+"-other", opts)
			if err != nil {
				t.Fatal(err)
			}
			var ch <-chan Candidate
			find := func() {
				var err error
				if ch, err = Find(ctx, receiver, channel, opts); err != nil {
					t.Fatal(err)
				}
			}
			if i%2 == 0 {
				advertise()
				find()
			} else {
				// The receiver has been looking for a while (past its
				// initial re-query burst) when the sender comes up.
				find()
				time.Sleep(receiverHeadStart)
				advertise()
			}
			up := time.Now()
			c := first(t, ch, time.Second)
			took := time.Since(up)
			t.Logf("%s first: found %s via %s in %v", map[bool]string{true: "sender", false: "receiver"}[i%2 == 0], c.Info.ID, c.Source, took)
			if c.Info.ID != sender.ID() || c.Source != SourceMDNS {
				t.Fatalf("candidate %v via %s, want %s via mdns", c.Info.ID, c.Source, sender.ID())
			}
			if len(c.Info.Addrs) == 0 {
				t.Fatal("candidate has no addresses")
			}
			if err := receiver.Connect(ctx, c.Info); err != nil {
				t.Fatalf("candidate not dialable: %v", err)
			}
			select {
			case c := <-other:
				t.Fatalf("receiver on another channel got %v", c.Info.ID)
			case <-time.After(took + 100*time.Millisecond):
			}
			cancel()
			for range ch {
			}
		})
	}
}

// TestBothInNetns runs the zero-value mechanisms (mDNS and a private DHT)
// together: the first candidate is the sender, and the DHT's later answer
// for the same peer and addresses is not yielded again.
func TestBothInNetns(t *testing.T) {
	if inNetns(t, "ip link set lo up multicast on") {
		return
	}
	boot := privateDHT(t, 3)
	sender, receiver := newHost(t), newHost(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	opts := Options{Bootstrap: boot}
	if err := Advertise(ctx, sender, "both", opts); err != nil {
		t.Fatal(err)
	}
	ch, err := Find(ctx, receiver, "both", opts)
	if err != nil {
		t.Fatal(err)
	}
	c := first(t, ch, 10*time.Second)
	if c.Info.ID != sender.ID() {
		t.Fatalf("candidate %v, want %v", c.Info.ID, sender.ID())
	}
	t.Logf("first candidate via %s: %v", c.Source, c.Info.Addrs)
	// The DHT needs about a second here (one backoff step); give it three.
	select {
	case again := <-ch:
		if again.Info.ID == sender.ID() && len(again.Info.Addrs) <= len(c.Info.Addrs) {
			t.Fatalf("duplicate candidate via %s with no new address: %v", again.Source, again.Info.Addrs)
		}
		t.Logf("second candidate via %s: %v", again.Source, again.Info.Addrs)
	case <-time.After(3 * time.Second):
	}
}
