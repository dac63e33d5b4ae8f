package engine

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/pcp-p2p/pcp/engine/swarm"
	"github.com/pcp-p2p/pcp/engine/wire"
)

// haveFrames writes frames from a source's side of a pipe and returns the
// receiver's side.
func haveFrames(t *testing.T, write func(w net.Conn)) net.Conn {
	t.Helper()
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	go func() {
		write(a)
		a.Close()
	}()
	return b
}

func haveMapFrame(t *testing.T, total, start, span uint32, held ...uint32) []byte {
	t.Helper()
	set := swarm.NewSet(total)
	for _, i := range held {
		set.Add(i)
	}
	p, err := wire.AppendHaveMap(nil, total, set.HaveMap(start, span))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadHaveMaps(t *testing.T) {
	const total = 10
	// Two maps in order, Wait between: the set is their union.
	c := haveFrames(t, func(w net.Conn) {
		wire.WriteFrame(w, wire.THaveMap, haveMapFrame(t, total, 0, 4, 1, 3))
		wire.WriteFrame(w, wire.TWait, nil)
		wire.WriteFrame(w, wire.THaveMap, haveMapFrame(t, total, 4, 6, 9))
	})
	set, err := readHaveMaps(c, wire.NewReader(c), total, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if set.Count() != 3 || !set.Has(1) || !set.Has(3) || !set.Has(9) || set.Has(0) {
		t.Errorf("set holds %d chunks, want 1, 3 and 9", set.Count())
	}
	// Out of order, a gap, the wrong frame, another manifest's size: all
	// protocol violations.
	for name, write := range map[string]func(w net.Conn){
		"gap":         func(w net.Conn) { wire.WriteFrame(w, wire.THaveMap, haveMapFrame(t, total, 4, 6)) },
		"other total": func(w net.Conn) { wire.WriteFrame(w, wire.THaveMap, haveMapFrame(t, total+1, 0, total+1)) },
		"update first": func(w net.Conn) {
			p, _ := wire.AppendHaveUpdate(nil, []uint32{1})
			wire.WriteFrame(w, wire.THaveUpdate, p)
		},
	} {
		c := haveFrames(t, write)
		if _, err := readHaveMaps(c, wire.NewReader(c), total, 10*time.Second); !errors.Is(err, ErrPeerMisbehaving) {
			t.Errorf("%s: err = %v, want ErrPeerMisbehaving", name, err)
		}
	}
	// A source that says nothing is given up on after the stall.
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	var ne net.Error
	if _, err := readHaveMaps(b, wire.NewReader(b), total, 50*time.Millisecond); !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("silent source: err = %v, want a timeout", err)
	}
}

// idleSource is a swarm.Source that is never asked for anything in this
// test (it runs no scheduler): it only carries a have-set.
type idleSource struct{}

func (idleSource) Fetch(context.Context, []uint32, func(uint32, []byte)) error { return nil }

func TestFollowHaves(t *testing.T) {
	const total = 10
	s := swarm.New(swarm.Want{Total: total, ChunkSize: 1 << 16}, func(uint32, []byte) (bool, error) { return true, nil }, swarm.Options{})
	p, err := s.Add([32]byte{}, swarm.NewSet(total), idleSource{})
	if err != nil {
		t.Fatal(err)
	}
	c := haveFrames(t, func(w net.Conn) {
		u, _ := wire.AppendHaveUpdate(nil, []uint32{2, 7})
		wire.WriteFrame(w, wire.THaveUpdate, u)
		wire.WriteFrame(w, wire.TWait, nil)
		u, _ = wire.AppendHaveUpdate(nil, []uint32{8})
		wire.WriteFrame(w, wire.THaveUpdate, u)
	})
	if err := followHaves(c, wire.NewReader(c), total, p, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if p.Stats().Err != nil {
		t.Errorf("source dropped: %v", p.Stats().Err)
	}
	for i := uint32(0); i < total; i++ {
		if want := i == 2 || i == 7 || i == 8; p.Holds(i) != want {
			t.Errorf("chunk %d held: %v, want %v", i, p.Holds(i), want)
		}
	}
	// An update past the manifest drops the source.
	c = haveFrames(t, func(w net.Conn) {
		u, _ := wire.AppendHaveUpdate(nil, []uint32{total})
		wire.WriteFrame(w, wire.THaveUpdate, u)
	})
	if err := followHaves(c, wire.NewReader(c), total, p, 10*time.Second); !errors.Is(err, ErrPeerMisbehaving) {
		t.Errorf("update past the end: err = %v, want ErrPeerMisbehaving", err)
	}
	if !errors.Is(p.Stats().Err, ErrPeerMisbehaving) {
		t.Errorf("source not dropped: %v", p.Stats().Err)
	}
}
