package p2p

import (
	"io"
	"testing"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
)

const discardProto = protocol.ID("/pcp-test/discard/1")

// BenchmarkDirectStream measures one stream between two NewHost hosts over
// loopback TCP (TLS + yamux with the 4 MiB window).
func BenchmarkDirectStream(b *testing.B) {
	a := newTestHost(b, HostOptions{})
	c := newTestHost(b, HostOptions{})
	c.SetStreamHandler(discardProto, func(s network.Stream) {
		io.Copy(io.Discard, s)
		s.Close()
	})
	if err := a.Connect(b.Context(), addrInfo(c)); err != nil {
		b.Fatal(err)
	}
	s, err := a.NewStream(b.Context(), c.ID(), discardProto)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	buf := make([]byte, 1<<20)
	b.SetBytes(int64(len(buf)))
	b.ResetTimer()
	for range b.N {
		if _, err := s.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
}
