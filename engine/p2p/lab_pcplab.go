//go:build pcplab

package p2p

import (
	"net"
	"os"

	manet "github.com/multiformats/go-multiaddr/net"
)

// LabPublicCIDREnv names the environment variable read at init in pcplab
// builds: a CIDR (the lab's "internet", 10.77.0.0/24) that libp2p must treat
// as public so AutoNAT, autorelay and DCUtR behave as on the real internet.
const LabPublicCIDREnv = "PCP_LAB_PUBLIC_CIDR"

func init() {
	s := os.Getenv(LabPublicCIDREnv)
	if s == "" {
		return
	}
	_, pub, err := net.ParseCIDR(s)
	if err != nil {
		panic("p2p: " + LabPublicCIDREnv + ": " + err.Error())
	}
	manet.Private4 = subtractCIDR(manet.Private4, pub)
	manet.Unroutable4 = subtractCIDR(manet.Unroutable4, pub)
}
