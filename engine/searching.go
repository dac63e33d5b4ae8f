package engine

import "time"

// searchProgress emits a SearchingEvent at once and returns a func that
// emits the next one; findSender calls it on a ticker. candidates counts
// the peers tried so far.
func searchProgress(opts ReceiveOptions, timeout time.Duration, candidates func() int) func() {
	start := time.Now()
	methods := searchMethods(opts.Network)
	report := func() {
		emit(opts.Events, SearchingEvent{Elapsed: time.Since(start), Timeout: timeout,
			Methods: methods, Candidates: candidates()})
	}
	report()
	return report
}

// searchMethods names what a receiver with these options tries.
func searchMethods(n NetworkOptions) []string {
	switch {
	case len(n.Direct) > 0:
		return []string{"direct"}
	case n.NoDiscovery:
		return nil
	case n.MDNSOnly:
		return []string{"mdns"}
	case n.DHTOnly:
		return []string{"dht"}
	}
	return []string{"mdns", "dht"}
}
