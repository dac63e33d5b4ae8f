package discovery

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/zeroconf/v2"
	ma "github.com/multiformats/go-multiaddr"
)

// The mDNS record format is go-libp2p's p2p/discovery/mdns one, so the
// records are readable by any libp2p mdns browser that knows the service.
// ErrNoMulticast is returned when no network interface is up with
// multicast enabled, so mDNS cannot run.
var ErrNoMulticast = errors.New("discovery: mdns: no multicast interface")

const (
	mdnsDomain    = "local"
	dnsaddrPrefix = "dnsaddr="
	// mdnsPort is required by DNS-SD; like go-libp2p, only the TXT records
	// are used.
	mdnsPort = 4001
)

// Extra browse restarts a receiver makes shortly after it starts looking
// for a key. zeroconf's own re-query waits 4 s and an advertiser only
// announces after probing (up to 1 s), so without them a receiver that
// starts first may wait longer than a second. Each restart sends one query;
// the answers are multicast, so the long-lived browser sees them too.
var mdnsRequery = []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second}

// Self-queries an advertiser makes after registering. zeroconf announces a
// new service only after probing (up to 1 s); a query for our own service is
// answered at once, by multicast, so receivers already browsing hear the
// answer within milliseconds.
var mdnsSelfQuery = []time.Duration{0, 250 * time.Millisecond, time.Second}

// mdnsTXT returns the dnsaddr TXT strings for h: every interface listen
// address with /p2p/<id>, leaving out relay and browser transports.
func mdnsTXT(h host.Host) (txt, ips []string, err error) {
	listen, err := h.Network().InterfaceListenAddresses()
	if err != nil {
		return nil, nil, fmt.Errorf("discovery: mdns: listen addrs: %w", err)
	}
	var ip4, ip6 string
	for _, a := range listen {
		if !suitableForMDNS(a) {
			continue
		}
		full := a.Encapsulate(ma.StringCast("/p2p/" + h.ID().String()))
		txt = append(txt, dnsaddrPrefix+full.String())
		if v, err := a.ValueForProtocol(ma.P_IP4); err == nil && ip4 == "" {
			ip4 = v
		} else if v, err := a.ValueForProtocol(ma.P_IP6); err == nil && ip6 == "" {
			ip6 = v
		}
	}
	for _, ip := range []string{ip4, ip6} {
		if ip != "" {
			ips = append(ips, ip)
		}
	}
	if len(ips) == 0 {
		return nil, nil, fmt.Errorf("discovery: mdns: host has no IP listen address")
	}
	return txt, ips, nil
}

// suitableForMDNS keeps /ip4 and /ip6 addresses that are not relayed and
// not browser-only, as go-libp2p's mdns does.
func suitableForMDNS(a ma.Multiaddr) bool {
	first, _ := ma.SplitFirst(a)
	if first == nil || (first.Protocol().Code != ma.P_IP4 && first.Protocol().Code != ma.P_IP6) {
		return false
	}
	ok := true
	ma.ForEach(a, func(c ma.Component) bool {
		switch c.Protocol().Code {
		case ma.P_CIRCUIT, ma.P_WEBTRANSPORT, ma.P_WEBRTC, ma.P_WEBRTC_DIRECT,
			ma.P_P2P_WEBRTC_DIRECT, ma.P_WS, ma.P_WSS:
			ok = false
		}
		return ok
	})
	return ok
}

// parseTXT turns dnsaddr TXT strings into peers; bad entries are skipped.
func parseTXT(txt []string) []peer.AddrInfo {
	var addrs []ma.Multiaddr
	for _, s := range txt {
		rest, ok := strings.CutPrefix(s, dnsaddrPrefix)
		if !ok {
			continue
		}
		a, err := ma.NewMultiaddr(rest)
		if err != nil {
			continue
		}
		if _, id := peer.SplitAddr(a); id == "" {
			continue
		}
		addrs = append(addrs, a)
	}
	infos, err := peer.AddrInfosFromP2pAddrs(addrs...)
	if err != nil {
		return nil
	}
	return infos
}

func instanceName() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// startMDNSAdvertiser registers the current slot's service and replaces it
// with the next slot's at each slot boundary, until ctx ends.
func startMDNSAdvertiser(ctx context.Context, h host.Host, channel string, opts Options, log *slog.Logger) error {
	if err := multicastUp(); err != nil {
		return err
	}
	register := func(key string) (*zeroconf.Server, error) {
		txt, ips, err := mdnsTXT(h)
		if err != nil {
			return nil, err
		}
		name := instanceName()
		srv, err := zeroconf.RegisterProxy(name, mdnsService(key), mdnsDomain, mdnsPort, name, ips, txt, nil)
		if err != nil {
			return nil, fmt.Errorf("discovery: mdns register: %w", err)
		}
		go selfQuery(ctx, mdnsService(key))
		return srv, nil
	}
	now := opts.Clock()
	srv, err := register(RendezvousKey(channel, now, opts.SlotLen))
	if err != nil {
		return err
	}
	go func() {
		defer func() {
			if srv != nil {
				srv.Shutdown()
			}
		}()
		for sleep(ctx, max(slotEnd(now, opts.SlotLen).Sub(opts.Clock()), minBackoff)) {
			now = opts.Clock()
			if srv != nil {
				srv.Shutdown()
			}
			srv, err = register(RendezvousKey(channel, now, opts.SlotLen))
			if err != nil {
				log.Debug("mdns re-register failed", "err", err)
			}
		}
	}()
	return nil
}

// browse runs zeroconf browses for service until ctx ends, passing each
// entry to handle. It falls back to IPv4 only when the IPv4+IPv6 client
// cannot start (a host without IPv6 multicast).
//
// zeroconf.Browse closes its entries channel when it returns after starting,
// but not when its client fails to start; each attempt gets its own channel,
// and closeQuiet covers both cases.
func browse(ctx context.Context, service string, handle func(*zeroconf.ServiceEntry)) error {
	var err error
	for _, opts := range [][]zeroconf.ClientOption{nil, {zeroconf.SelectIPTraffic(zeroconf.IPv4)}} {
		ch := make(chan *zeroconf.ServiceEntry)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for e := range ch {
				handle(e)
			}
		}()
		err = zeroconf.Browse(ctx, service, mdnsDomain, ch, opts...)
		closeQuiet(ch)
		<-done
		if err == nil || ctx.Err() != nil {
			return err
		}
	}
	return err
}

func closeQuiet(ch chan *zeroconf.ServiceEntry) {
	defer func() { _ = recover() }() // already closed by zeroconf
	close(ch)
}

// multicastUp reports whether some interface is up with multicast on, which
// zeroconf needs.
func multicastUp() error {
	ifs, err := net.Interfaces()
	if err != nil {
		return fmt.Errorf("discovery: mdns: %w", err)
	}
	for _, i := range ifs {
		if i.Flags&net.FlagUp != 0 && i.Flags&net.FlagMulticast != 0 {
			return nil
		}
	}
	return ErrNoMulticast
}

// startMDNSBrowser browses the current and previous slots' services and
// sends what it finds to out, moving to new services as slots change, until
// ctx ends. It fails when no interface can do multicast.
func startMDNSBrowser(ctx context.Context, wg *sync.WaitGroup, h host.Host, channel string, opts Options, out chan<- Candidate, log *slog.Logger) error {
	if err := multicastUp(); err != nil {
		return err
	}
	handle := func(ctx context.Context) func(*zeroconf.ServiceEntry) {
		return func(e *zeroconf.ServiceEntry) {
			for _, ai := range parseTXT(e.Text) {
				if ai.ID != h.ID() {
					send(ctx, out, Candidate{Info: ai, Source: SourceMDNS})
				}
			}
		}
	}
	wg.Go(func() {
		for ctx.Err() == nil {
			now := opts.Clock()
			sctx, scancel := context.WithCancel(ctx)
			var swg sync.WaitGroup
			for _, key := range searchKeys(channel, now, opts.SlotLen) {
				service := mdnsService(key)
				swg.Go(func() {
					if err := browse(sctx, service, handle(sctx)); err != nil {
						log.Debug("mdns browse failed", "service", service, "err", err)
					}
				})
				swg.Go(func() { requery(sctx, service, handle(sctx)) })
			}
			sleep(ctx, max(slotEnd(now, opts.SlotLen).Sub(opts.Clock()), minBackoff))
			scancel()
			swg.Wait()
		}
	})
	return nil
}

// selfQuery browses the advertiser's own service at mdnsSelfQuery offsets
// to make its responder answer; the entries are not needed.
func selfQuery(ctx context.Context, service string) {
	requeryAt(ctx, service, func(*zeroconf.ServiceEntry) {}, mdnsSelfQuery)
}

// requery runs short extra browses at mdnsRequery offsets.
func requery(ctx context.Context, service string, handle func(*zeroconf.ServiceEntry)) {
	requeryAt(ctx, service, handle, mdnsRequery)
}

func requeryAt(ctx context.Context, service string, handle func(*zeroconf.ServiceEntry), offsets []time.Duration) {
	start := time.Now()
	for _, at := range offsets {
		if !sleep(ctx, at-time.Since(start)) {
			return
		}
		qctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		browse(qctx, service, handle)
		cancel()
	}
}
