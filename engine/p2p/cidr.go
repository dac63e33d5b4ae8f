package p2p

import "net"

// subtractCIDR returns nets with every address of cut removed, as a list of
// CIDRs: a net inside cut is dropped, a net containing cut is split into
// the prefixes that cover it minus cut, other nets are kept as they are.
// Only the pcplab build uses it; it lives here so it is tested in every
// build.
func subtractCIDR(nets []*net.IPNet, cut *net.IPNet) []*net.IPNet {
	var out []*net.IPNet
	for _, n := range nets {
		out = append(out, subtractOne(n, cut)...)
	}
	return out
}

func subtractOne(n, cut *net.IPNet) []*net.IPNet {
	nOnes, nBits := n.Mask.Size()
	cOnes, cBits := cut.Mask.Size()
	nIP, cIP := norm(n.IP, nBits), norm(cut.IP, cBits)
	if nBits != cBits || nIP == nil || cIP == nil {
		return []*net.IPNet{n}
	}
	switch {
	case cOnes <= nOnes && cut.Contains(nIP):
		return nil // n is inside cut
	case cOnes > nOnes && n.Contains(cIP):
		// Walk down from n to cut; at each level keep the sibling half that
		// does not hold cut.
		var out []*net.IPNet
		for ones := nOnes + 1; ones <= cOnes; ones++ {
			mask := net.CIDRMask(ones, nBits)
			half := cIP.Mask(mask) // the half holding cut
			sib := append(net.IP(nil), half...)
			byteI, bit := (ones-1)/8, uint(7-(ones-1)%8)
			sib[byteI] ^= 1 << bit
			out = append(out, &net.IPNet{IP: sib, Mask: mask})
		}
		return out
	default:
		return []*net.IPNet{n}
	}
}

func norm(ip net.IP, bits int) net.IP {
	if bits == 32 {
		return ip.To4()
	}
	if bits == 128 {
		return ip.To16()
	}
	return nil
}
