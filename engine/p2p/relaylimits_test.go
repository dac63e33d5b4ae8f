package p2p

import (
	"testing"
	"time"
)

func TestRelayLimitsCheck(t *testing.T) {
	for _, tc := range []struct {
		l  RelayLimits
		ok bool
	}{
		{RelayLimits{}, true},
		{RelayLimits{CircuitData: MinTransferCircuitData, CircuitDuration: MinTransferCircuitDuration, Rate: 1, Circuits: 4}, true},
		{RelayLimits{CircuitData: 128 << 10}, false},
		{RelayLimits{CircuitDuration: 2 * time.Minute}, false},
		{RelayLimits{CircuitDuration: 2 * unboundedDuration}, false},
		{RelayLimits{Rate: -1}, false},
	} {
		if err := tc.l.Check(); (err == nil) != tc.ok {
			t.Errorf("%+v.Check() = %v, want ok=%v", tc.l, err, tc.ok)
		}
	}
}

// The relay resources carry the operator's limits: none at all without
// per-circuit limits (circuits are then not Limited), and both halves of a
// circuit limit when either is set, the unset one unbounded.
func TestRelayLimitsResources(t *testing.T) {
	if r := (RelayLimits{}).resources(); r.Limit != nil || r.MaxCircuits != 16 || r.MaxReservations != 256 {
		t.Errorf("zero limits: %+v, want no circuit limit, 16 circuits, 256 reservations", r)
	}
	r := RelayLimits{CircuitData: 1 << 30, Circuits: 2, Reservations: 9}.resources()
	if r.Limit == nil || r.Limit.Data != 1<<30 || r.Limit.Duration != unboundedDuration || r.MaxCircuits != 2 || r.MaxReservations != 9 {
		t.Errorf("data limit: %+v %+v", r, r.Limit)
	}
	r = RelayLimits{CircuitDuration: time.Hour}.resources()
	if r.Limit == nil || r.Limit.Duration != time.Hour || r.Limit.Data != unboundedData {
		t.Errorf("duration limit: %+v", r.Limit)
	}
	if got := uint32(unboundedDuration / time.Second); time.Duration(got)*time.Second != unboundedDuration {
		t.Errorf("the unbounded duration does not survive the circuit handshake's uint32 seconds")
	}
}
