package auth

import (
	"testing"

	"github.com/schollz/pake/v3"
)

// BenchmarkPAKECurves measures the bare pake/v3 exchange (both roles, no
// I/O) for the curves it offers, to justify pakeCurve.
func BenchmarkPAKECurves(b *testing.B) {
	pw := passwordScalar("mango-fiscal-tiger")
	for _, curve := range []string{"p256", "siec", "ed25519"} {
		b.Run(curve, func(b *testing.B) {
			for b.Loop() {
				a, err := pake.InitCurveWithIdentities(pw, 0, curve, senderID, receiverID)
				if err != nil {
					b.Fatal(err)
				}
				r, err := pake.InitCurveWithIdentities(pw, 1, curve, senderID, receiverID)
				if err != nil {
					b.Fatal(err)
				}
				if err := r.Update(a.Bytes()); err != nil {
					b.Fatal(err)
				}
				if err := a.Update(r.Bytes()); err != nil {
					b.Fatal(err)
				}
				ka, _ := a.SessionKey()
				kr, _ := r.SessionKey()
				if string(ka) != string(kr) {
					b.Fatal("keys differ")
				}
			}
		})
	}
}
