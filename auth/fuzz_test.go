package auth

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"
)

// realFrames records the three frames of a real handshake.
func realFrames(tb testing.TB) (m1, m2, m3 []byte) {
	tb.Helper()
	var mu sync.Mutex
	var frames [][]byte
	rl := &relay{tamper: func(_ int, f []byte) {
		mu.Lock()
		frames = append(frames, bytes.Clone(f))
		mu.Unlock()
	}}
	p := mustParse(tb, "orbit-mango-fiscal-tiger")
	sconn, rconn := middle(tb, rl)
	s, r := runPair(tb, testCtx(tb), senderCfg(p), receiverCfg(p), sconn, rconn)
	if s.err != nil || r.err != nil {
		tb.Fatal(s.err, r.err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(frames) != 3 {
		tb.Fatalf("%d frames", len(frames))
	}
	return frames[0], frames[1], frames[2]
}

// FuzzReadFrame checks the frame decoder and the message parsers: no
// panic, lengths within the bound, and anything accepted re-encodes to the
// same bytes.
func FuzzReadFrame(f *testing.F) {
	m1, m2, m3 := realFrames(f)
	for _, s := range [][]byte{m1, m2, m3, appendFrame(nil, msgAbort, []byte{1}), {0x01, 0xff, 0xff}, {0x02, 0x00}, nil} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var buf [maxFrameBody]byte
		typ, body, err := readFrame(bytes.NewReader(data), &buf)
		if err != nil {
			if !errors.Is(err, ErrHandshake) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("error %v is neither a frame error nor a short read", err)
			}
			return
		}
		want, ok := bodyLen(typ)
		if !ok || len(body) != want || len(body) > maxFrameBody {
			t.Fatalf("accepted %v with %d bytes", typ, len(body))
		}
		if enc := appendFrame(nil, typ, body); !bytes.Equal(enc, data[:len(enc)]) {
			t.Fatalf("re-encoding %x differs from input %x", enc, data[:len(enc)])
		}
		var point []byte
		switch typ {
		case msgSenderHello:
			if m, err := parseSenderHello(body); err == nil {
				point = m.x
				if !bytes.Equal(m.body(), body) {
					t.Fatal("sender-hello does not round-trip")
				}
			}
		case msgReceiverReply:
			if m, err := parseReceiverReply(body); err == nil {
				point = m.y
				if !bytes.Equal(m.body(), body) {
					t.Fatal("receiver-reply does not round-trip")
				}
			}
		}
		if point != nil {
			x, y, err := decodePoint(point)
			if err != nil {
				t.Fatalf("parser accepted a point decodePoint rejects: %v", err)
			}
			if enc, err := encodePoint(x, y); err != nil || !bytes.Equal(enc, point) {
				t.Fatalf("point does not round-trip: %v", err)
			}
		}
	})
}

// FuzzHandshake plays arbitrary bytes as the peer of a real sender or
// receiver. Whatever arrives, the handshake must fail (nobody can forge a
// key confirmation) with one of the two sentinels, and must not panic.
func FuzzHandshake(f *testing.F) {
	m1, m2, m3 := realFrames(f)
	f.Add(true, m2)
	f.Add(false, m1)
	f.Add(false, append(bytes.Clone(m1), m3...))
	f.Add(true, appendFrame(nil, msgAbort, []byte{byte(abortWrongPassphrase)}))
	f.Add(false, appendFrame(nil, msgAbort, []byte{byte(abortVersion)}))
	p := mustParse(f, "orbit-mango-fiscal-tiger")
	f.Fuzz(func(t *testing.T, asSender bool, data []byte) {
		cfg := receiverCfg(p)
		if asSender {
			cfg = senderCfg(p)
		}
		s, err := Handshake(context.Background(), bare{bytes.NewReader(data), io.Discard}, cfg)
		if err == nil || s != nil {
			t.Fatalf("handshake against fuzz bytes succeeded: %v", s)
		}
		if !errors.Is(err, ErrHandshake) && !errors.Is(err, ErrWrongPassphrase) {
			t.Fatalf("error %v is not a sentinel", err)
		}
	})
}
