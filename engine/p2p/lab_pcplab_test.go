//go:build pcplab

package p2p

import (
	"os"
	"os/exec"
	"testing"

	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// TestLabPublicCIDR re-runs this test binary with PCP_LAB_PUBLIC_CIDR set
// (it is read at init) and checks the lab range became public while the
// rest of 10/8 stayed private.
func TestLabPublicCIDR(t *testing.T) {
	if os.Getenv(LabPublicCIDREnv) == "" {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestLabPublicCIDR$", "-test.v")
		cmd.Env = append(os.Environ(), LabPublicCIDREnv+"=10.77.0.0/24")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		// Without the variable nothing changes.
		if manet.IsPublicAddr(ma.StringCast("/ip4/10.77.0.10/tcp/1")) {
			t.Fatal("10.77.0.10 public without " + LabPublicCIDREnv)
		}
		return
	}
	if !manet.IsPublicAddr(ma.StringCast("/ip4/10.77.0.10/tcp/1")) {
		t.Fatal("10.77.0.10 not public")
	}
	if manet.IsPublicAddr(ma.StringCast("/ip4/10.77.1.11/tcp/1")) || !manet.IsPrivateAddr(ma.StringCast("/ip4/10.77.1.11/tcp/1")) {
		t.Fatal("10.77.1.11 (lab LAN) must stay private")
	}
}
