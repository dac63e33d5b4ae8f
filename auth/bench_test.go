package auth

import (
	"context"
	"net"
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

// BenchmarkHandshakeTCP runs the handshake over a real loopback TCP
// connection; the dial and accept are part of each iteration.
func BenchmarkHandshakeTCP(b *testing.B) {
	p := mustParse(b, "orbit-mango-fiscal-tiger")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	ctx := context.Background()
	for b.Loop() {
		accepted := make(chan net.Conn, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				b.Error(err)
			}
			accepted <- c
		}()
		rconn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		sconn := <-accepted
		if sconn == nil {
			b.FailNow()
		}
		s, r := runPair(b, ctx, senderCfg(p), receiverCfg(p), sconn, rconn)
		if s.err != nil || r.err != nil {
			b.Fatal(s.err, r.err)
		}
		sconn.Close()
		rconn.Close()
	}
}
