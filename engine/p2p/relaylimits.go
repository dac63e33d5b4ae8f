package p2p

import (
	"cmp"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	relayv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
)

// RelayLimits are what the operator of a `pcp node` grants the peers that
// relay through it. The zero value is a transfer-grade relay without
// per-circuit limits.
type RelayLimits struct {
	// CircuitData and CircuitDuration bound one relayed connection (bytes
	// each way, and time); 0 = no bound. When either is set the relay sends
	// both to the peers (libp2p's circuit limit, which marks the connection
	// Limited); the unset one is then sent as unboundedData/Duration.
	CircuitData     int64
	CircuitDuration time.Duration
	// Rate bounds the bytes per second the relay carries, all circuits
	// together (each byte counted once); 0 = no bound.
	Rate int64
	// Circuits bounds the open circuits per peer; 0 = 16.
	Circuits int
	// Reservations bounds the peers that may hold a slot; 0 = 256.
	Reservations int
}

// What a relay with an operator's limit must grant to be transfer-grade:
// a circuit that carries at least MinTransferCircuitData each way and lasts
// MinTransferCircuitDuration moves data at a useful pace, and the receiver
// resumes on a new circuit when one ends. libp2p's defaults (128 KiB, 2
// minutes) are far below; they make a relay for meeting only.
const (
	MinTransferCircuitData     = 64 << 20
	MinTransferCircuitDuration = 10 * time.Minute
)

// The bounds sent for the unset half of a limit. Duration travels in
// seconds as a uint32.
const (
	unboundedData     = 1 << 50
	unboundedDuration = 365 * 24 * time.Hour
)

// Check reports a limit that would make the node useless for transfers,
// so that `pcp node` refuses it at start instead of advertising a relay
// that no peer will use for data.
func (l RelayLimits) Check() error {
	switch {
	case l.CircuitData < 0 || l.CircuitDuration < 0 || l.Rate < 0 || l.Circuits < 0 || l.Reservations < 0:
		return fmt.Errorf("relay limits must not be negative")
	case l.CircuitData > 0 && l.CircuitData < MinTransferCircuitData:
		return fmt.Errorf("a circuit data limit under %d MiB makes a relay for meeting only; give at least that, or 0 for none", MinTransferCircuitData>>20)
	case l.CircuitDuration > 0 && l.CircuitDuration < MinTransferCircuitDuration:
		return fmt.Errorf("a circuit duration limit under %v makes a relay for meeting only; give at least that, or 0 for none", MinTransferCircuitDuration)
	case l.CircuitDuration > unboundedDuration:
		return fmt.Errorf("a circuit duration limit over %v: use 0 for none", unboundedDuration)
	}
	return nil
}

// resources are the relay resources for l.
func (l RelayLimits) resources() relayv2.Resources {
	r := relayv2.DefaultResources()
	r.Limit = nil
	if l.CircuitData > 0 || l.CircuitDuration > 0 {
		r.Limit = &relayv2.RelayLimit{Data: l.CircuitData, Duration: l.CircuitDuration}
		if r.Limit.Data == 0 {
			r.Limit.Data = unboundedData
		}
		if r.Limit.Duration == 0 {
			r.Limit.Duration = unboundedDuration
		}
	}
	r.MaxReservations = cmp.Or(l.Reservations, 256)
	r.MaxCircuits = cmp.Or(l.Circuits, 16) // open circuits per peer
	r.BufferSize = 64 << 10                // the default 2 KiB costs a syscall per 2 KiB
	r.MaxReservationsPerIP = 16            // peers behind one NAT share an IP
	r.MaxReservationsPerASN = 64
	return r
}

// TransferGrade reports whether c may carry data streams: it is not
// Limited, or it is a circuit whose relay's limits (which libp2p's circuit
// client records in the connection's Stat) reach MinTransferCircuitData and
// MinTransferCircuitDuration.
func TransferGrade(c network.Conn) bool {
	st := c.Stat()
	if !st.Limited {
		return true
	}
	data, _ := st.Extra[client.StatLimitData].(uint64)
	dur, _ := st.Extra[client.StatLimitDuration].(time.Duration)
	return data >= MinTransferCircuitData && dur >= MinTransferCircuitDuration
}
