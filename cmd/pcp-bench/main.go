// Command pcp-bench measures pcp's throughput against ceilings measured in the
// same run: rsync's daemon (no encryption; -z with zstd for text), a plain
// TCP file-to-file copy and a plain TLS 1.3 file-to-file copy (Go
// crypto/tls), on loopback. Each pcp figure runs the sender and the
// receiver as separate child processes, so their peak RSS and CPU are their
// own, and is given as a ratio to rsync on the same workload and link.
//
// The random and text workloads run on two paths: direct (the receiver is
// given the sender's 127.0.0.1 TCP address) and default (the sender listens
// on every interface, TCP and QUIC, and the receiver finds it by mDNS, as
// users run pcp). As root on Linux the default path runs between two network
// namespaces joined by a veth, and rsync is measured over that veth too;
// otherwise on this machine's own interfaces. rsync is installed with
// apt-get when missing and the bench runs as root; without it its rows are
// skipped with a note.
//
//	go run ./cmd/pcp-bench [-dir DIR] [-size MiB] [-only random,text,slow,small,resume]
//
// Environment, for experiments: PCP_BENCH_CPUPROFILE=DIR writes send.prof
// and recv.prof; PCP_BENCH_MEMPROFILE=DIR writes the receiver's heap at the
// offer; PCP_BENCH_HASHCACHE=DIR gives the sender a hash cache (the resume
// workload always has one, as cmd/pcp does); PCP_BENCH_STREAMS=N and
// PCP_BENCH_WINDOW_MIB=N override the receiver's streams and in-flight window.
package main

import (
	"bufio"
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/pcp-p2p/pcp/auth"
	"github.com/pcp-p2p/pcp/engine"
)

func main() {
	if role := os.Getenv("PCP_BENCH_CHILD"); role != "" {
		child(role)
		return
	}
	dir := flag.String("dir", "", "work directory (default: a new temp dir, removed after)")
	sizeMiB := flag.Int64("size", 1024, "size of the large files in MiB")
	manyN := flag.Int("many", 100_000, "files of 100 B in the many workload")
	links := flag.Bool("links", false, "many: make the files hard links to 100 distinct ones (creating a million inodes takes long; the receiver still writes every file)")
	only := flag.String("only", "random,text,slow,small,resume", "workloads to run (slow: Go source over a 200 Mbit veth, as root; also: streams, a sweep of 1/2/4/8 streams on the random file; many, -many files of 100 B)")
	flag.Parse()
	if *dir == "" {
		d, err := os.MkdirTemp("", "pcp-bench-")
		check(err)
		defer os.RemoveAll(d)
		*dir = d
	}
	size := *sizeMiB << 20
	fmt.Printf("pcp-bench: %d MiB files, work dir %s, GOMAXPROCS=%d\n\n", *sizeMiB, *dir, runtimeProcs())
	random := filepath.Join(*dir, "random")
	writeRandom(filepath.Join(random, "random.bin"), size)
	tcp := copyCeiling(filepath.Join(random, "random.bin"), filepath.Join(*dir, "tcp.out"), false)
	settle()
	tlsr := copyCeiling(filepath.Join(random, "random.bin"), filepath.Join(*dir, "tls.out"), true)
	os.Remove(filepath.Join(*dir, "tcp.out"))
	os.Remove(filepath.Join(*dir, "tls.out"))
	settle()
	dflt, closeRoute := defaultRoute()
	defer closeRoute()
	haveRsync := ensureRsync()
	fmt.Printf("default path: %s\n\n", dflt.label)
	fmt.Printf("%-46s %9s %9s %9s %9s %12s %12s\n", "workload", "MB/s", "vs rsync", "vs TLS", "CPU-s", "sender RSS", "recv RSS")
	row := func(name string, mbs, ref float64, r result) {
		vs, cpu := "-", "-"
		if ref > 0 {
			vs = fmt.Sprintf("%.2fx", mbs/ref)
		}
		if r.cpu > 0 {
			cpu = fmt.Sprintf("%.2f", r.cpu.Seconds())
		}
		fmt.Printf("%-46s %9.0f %9s %8.2fx %9s %9d MiB %9d MiB\n", name, mbs, vs, mbs/tlsr, cpu, r.sRSS>>20, r.rRSS>>20)
	}
	// rsyncRow measures and prints rsync on src (loopback, and over the
	// default route when it has a link of its own) and returns MB/s for
	// each: 0 when skipped.
	rsyncRow := func(name, src string, z bool) (lo, viaDefault float64) {
		if !haveRsync {
			fmt.Printf("%-46s skipped: rsync is not installed (and the bench is not root, or apt-get failed)\n", "rsync daemon "+name)
			return 0, 0
		}
		zf := ""
		if z {
			zf = " -z"
		}
		lo, note, ok := rsyncCeiling(src, *dir, z, nil)
		if !ok {
			fmt.Printf("%-46s skipped: %s\n", "rsync daemon"+zf+" "+name, note)
			return 0, 0
		}
		row("ceiling: rsync daemon"+zf+" "+name, lo, lo, result{})
		if dflt.ns == nil {
			return lo, lo
		}
		v, note, ok := rsyncCeiling(src, *dir, z, dflt)
		if !ok {
			fmt.Printf("%-46s skipped: %s\n", "rsync daemon"+zf+" "+name+", veth", note)
			return lo, 0
		}
		row("ceiling: rsync daemon"+zf+" "+name+", veth", v, v, result{})
		return lo, v
	}
	row("ceiling: TCP file copy", tcp, 0, result{})
	row("ceiling: TLS 1.3 file copy", tlsr, 0, result{})
	for _, w := range strings.Split(*only, ",") {
		switch w {
		case "streams":
			for _, n := range []int{1, 2, 4, 8} {
				os.Setenv("PCP_BENCH_STREAMS", fmt.Sprint(n))
				r := transfer(nil, random, filepath.Join(*dir, "out-streams"), nil)
				row(fmt.Sprintf("pcp random, %d streams", n), mb(size, r.elapsed), 0, r)
			}
			os.Unsetenv("PCP_BENCH_STREAMS")
		case "random":
			lo, via := rsyncRow("random", random, false)
			r := transfer(nil, random, filepath.Join(*dir, "out-random"), nil)
			row("pcp random, direct", mb(size, r.elapsed), lo, r)
			r = transfer(dflt, random, filepath.Join(*dir, "out-random"), nil)
			row("pcp random, default ("+r.transport+")", mb(size, r.elapsed), via, r)
			// The same bytes as a pipe: send - from a pipe into
			// receive --stdout (pipe.go), on the default path.
			r = pipeTransfer(dflt, filepath.Join(random, "random.bin"), size)
			row("pcp random, pipe ("+r.transport+")", mb(size, r.elapsed), via, r)
		case "text":
			text := filepath.Join(*dir, "text")
			writeText(filepath.Join(text, "text.txt"), size)
			lo, via := rsyncRow("text", text, true)
			r := transfer(nil, text, filepath.Join(*dir, "out-text"), nil)
			row(fmt.Sprintf("pcp text, direct (%.0f%% wire)", 100*float64(r.wire)/float64(size)), mb(size, r.elapsed), lo, r)
			r = transfer(dflt, text, filepath.Join(*dir, "out-text"), nil)
			row(fmt.Sprintf("pcp text, default (%s, %.0f%% wire)", r.transport, 100*float64(r.wire)/float64(size)), mb(size, r.elapsed), via, r)
			os.RemoveAll(text)
		case "slow":
			slowLink(dflt, *dir, size, row)
		case "small":
			small := filepath.Join(*dir, "small")
			writeSmall(small, 10_000, 4096)
			lo, _ := rsyncRow("10k x 4 KiB", small, false)
			r := transfer(nil, small, filepath.Join(*dir, "out-small"), nil)
			row(fmt.Sprintf("pcp 10k x 4 KiB (%.2f s)", r.elapsed.Seconds()), mb(10_000*4096, r.elapsed), lo, r)
		case "many":
			many := filepath.Join(*dir, "many")
			if *links {
				writeLinks(many, *manyN, 100)
			} else {
				writeSmall(many, *manyN, 100)
			}
			r := transfer(nil, many, filepath.Join(*dir, "out-many"), nil)
			row(fmt.Sprintf("pcp %dk x 100 B (%.1f s)", *manyN/1000, r.elapsed.Seconds()), mb(int64(*manyN)*100, r.elapsed), 0, r)
			os.RemoveAll(many)
		case "resume":
			// The sender keeps a hash cache, as cmd/pcp does by default: a
			// restarted sender does not hash unchanged files again.
			if os.Getenv("PCP_BENCH_HASHCACHE") == "" {
				hc := filepath.Join(*dir, "hashcache")
				check(os.MkdirAll(hc, 0o700))
				os.Setenv("PCP_BENCH_HASHCACHE", hc)
				defer os.Unsetenv("PCP_BENCH_HASHCACHE")
			}
			out := filepath.Join(*dir, "out-resume")
			first := transfer(nil, random, out, func(done, total int64) bool { return done >= total*4/10 })
			r := transfer(nil, random, out, nil)
			missing := size - r.skipped
			resumed := mb(missing, r.elapsed)
			row(fmt.Sprintf("pcp resume after %d%%", 100*first.done/size), resumed, 0, r)
			fmt.Printf("%-28s %d MiB verified before the kill, %d MiB of it kept (durable and logged), %d MiB fetched again\n", "",
				first.done>>20, r.skipped>>20, max(0, first.done-r.skipped)>>20)
			// The target: the rerun is no slower than sending the missing
			// bytes fresh, as a new file of that size (hashed, as new data is).
			part := filepath.Join(*dir, "part")
			writeRandom(filepath.Join(part, "part.bin"), missing)
			f := transfer(nil, part, filepath.Join(*dir, "out-part"), nil)
			fresh := mb(missing, f.elapsed)
			row(fmt.Sprintf("pcp fresh %d MiB (missing)", missing>>20), fresh, 0, f)
			fmt.Printf("%-28s resume / fresh = %.2f (target >= 1)\n", "", resumed/fresh)
			os.RemoveAll(part)
		}
	}
	fmt.Println("\nMB/s = manifest bytes / wall time from the receiver's start to its exit, hashing included;")
	fmt.Println("rsync: bytes / wall time of the client. vs rsync: against rsync on the same workload and link")
	fmt.Println("(text: rsync -z with zstd). CPU-s: user+system of sender and receiver. (tcp), (quic): the transport")
	fmt.Println("the receiver's summary reports.")
	fmt.Println("resume: MB/s over the missing bytes only, against a fresh send of as many bytes in the same run.")
}

func runtimeProcs() int { return int(mustAtoi(os.Getenv("GOMAXPROCS"), 0)) }

func mustAtoi(s string, d int64) int64 {
	var v int64
	if _, err := fmt.Sscan(s, &v); err != nil {
		return d
	}
	return v
}

func mb(n int64, d time.Duration) float64 { return float64(n) / 1e6 / d.Seconds() }

type result struct {
	elapsed                      time.Duration
	sRSS, rRSS                   int64
	wire, fetched, skipped, done int64
	cpu                          time.Duration // user+system, both children
	transport                    string        // as the receiver's summary reports it
}

// transfer runs a sender and a receiver child on route rt (nil: direct);
// with killAt it SIGKILLs the receiver once killAt(done, total) is true.
func transfer(rt *route, src, dest string, killAt func(done, total int64) bool) result {
	pass, err := auth.Generate(4)
	check(err)
	env := append(os.Environ(), "PCP_BENCH_PASS="+pass.String(), "PCP_BENCH_SRC="+src, "PCP_BENCH_DEST="+dest,
		"PCP_BENCH_LOG="+dest+".resume.db")
	env = append(env, rt.env()...)
	snd := rt.command(0)
	snd.Env = append(env, "PCP_BENCH_CHILD=send")
	if p := os.Getenv("PCP_BENCH_PIPE"); p != "" {
		snd.Stdin = pipeInput(p)
	}
	sout, err := snd.StdoutPipe()
	check(err)
	snd.Stderr = os.Stderr
	check(snd.Start())
	ss := bufio.NewScanner(sout)
	var addrs []string
	for ss.Scan() {
		var m map[string][]string
		if json.Unmarshal(ss.Bytes(), &m) == nil && m["addrs"] != nil {
			addrs = m["addrs"]
			break
		}
	}
	if addrs == nil {
		fail("sender did not start")
	}
	start := time.Now()
	rcv := rt.command(1)
	rcv.Env = append(env, "PCP_BENCH_CHILD=recv", "PCP_BENCH_ADDRS="+strings.Join(addrs, " "))
	rout, err := rcv.StdoutPipe()
	check(err)
	rcv.Stderr = os.Stderr
	check(rcv.Start())
	var res result
	rs := bufio.NewScanner(rout)
	for rs.Scan() {
		var tm map[string]string
		if json.Unmarshal(rs.Bytes(), &tm) == nil && tm["transport"] != "" {
			res.transport = tm["transport"]
		}
		var m map[string]int64
		if json.Unmarshal(rs.Bytes(), &m) != nil {
			continue
		}
		if t, ok := m["total"]; ok {
			res.done = m["bytes"]
			if killAt != nil && killAt(m["bytes"], t) {
				rcv.Process.Signal(syscall.SIGKILL)
				break
			}
		}
		if _, ok := m["fetched"]; ok {
			res.wire, res.fetched, res.skipped = m["wire"], m["fetched"], m["skipped"]
		}
	}
	rerr := rcv.Wait()
	res.elapsed = time.Since(start)
	if killAt != nil {
		snd.Process.Kill()
		snd.Wait()
		return res
	}
	if rerr != nil {
		fail("receiver: %v", rerr)
	}
	if err := snd.Wait(); err != nil {
		fail("sender: %v", err)
	}
	res.rRSS = maxRSS(rcv.ProcessState)
	res.sRSS = maxRSS(snd.ProcessState)
	for _, ps := range []*os.ProcessState{snd.ProcessState, rcv.ProcessState} {
		res.cpu += ps.UserTime() + ps.SystemTime()
	}
	os.RemoveAll(dest)
	os.Remove(dest + ".resume.db")
	settle()
	return res
}

func child(role string) {
	debug.SetMemoryLimit(engine.MemoryLimit) // as cmd/pcp's main does
	if d := os.Getenv("PCP_BENCH_CPUPROFILE"); d != "" {
		f, err := os.Create(filepath.Join(d, role+".prof"))
		check(err)
		check(pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}
	pass, err := auth.Parse(os.Getenv("PCP_BENCH_PASS"))
	check(err)
	out := json.NewEncoder(os.Stdout)
	net := childNetwork()
	ctx := context.Background()
	switch role {
	case "send":
		cache := ""
		if d := os.Getenv("PCP_BENCH_HASHCACHE"); d != "" { // as cmd/pcp does by default
			cache = filepath.Join(d, "hashcache.db")
		}
		paths := []string{os.Getenv("PCP_BENCH_SRC")}
		var stdin io.Reader
		if os.Getenv("PCP_BENCH_PIPE") != "" {
			paths, stdin, cache = nil, os.Stdin, filepath.Join(os.Getenv("PCP_BENCH_DEST")+".spool", "hashcache.db")
		}
		_, err := engine.Send(ctx, engine.SendOptions{Paths: paths, Stdin: stdin, Passphrase: pass, Network: net,
			HashCachePath: cache,
			Events: func(e engine.Event) {
				if l, ok := e.(engine.ListeningEvent); ok {
					out.Encode(map[string][]string{"addrs": l.Addrs})
				}
			}})
		check(err)
	case "recv":
		if net.NoDiscovery {
			net.Direct = strings.Fields(os.Getenv("PCP_BENCH_ADDRS"))
		}
		logPath := os.Getenv("PCP_BENCH_LOG")
		if os.Getenv("PCP_BENCH_NOLOG") != "" {
			logPath = "" // no resume log: no syncfs, nothing durable
		}
		var stdout *countWriter
		if os.Getenv("PCP_BENCH_PIPE") != "" {
			stdout = &countWriter{}
		}
		sum, err := engine.Receive(ctx, engine.ReceiveOptions{Passphrase: pass, Dest: os.Getenv("PCP_BENCH_DEST"), Network: net,
			ResumeLogPath: logPath,
			Stdout:        stdout.writer(),
			Streams:       int(mustAtoi(os.Getenv("PCP_BENCH_STREAMS"), 0)),
			MaxInFlight:   mustAtoi(os.Getenv("PCP_BENCH_WINDOW_MIB"), 0) << 20,
			Confirm: func(engine.Offer) bool {
				if d := os.Getenv("PCP_BENCH_MEMPROFILE"); d != "" { // the heap with manifest and plan built
					f, err := os.Create(filepath.Join(d, "recv.heap"))
					check(err)
					runtime.GC()
					check(pprof.WriteHeapProfile(f))
					f.Close()
				}
				return true
			},
			Events: func(e engine.Event) {
				if p, ok := e.(engine.ProgressEvent); ok {
					out.Encode(map[string]int64{"bytes": p.Bytes, "total": p.TotalBytes})
				}
			}})
		check(err)
		if stdout != nil {
			sum.WireBytes, sum.FetchedBytes = stdout.n, stdout.n // the bytes written out, checked by pipeTransfer
		}
		out.Encode(map[string]string{"transport": cmp.Or(sum.Transport, sum.Path, "unknown")})
		out.Encode(map[string]int64{"wire": sum.WireBytes, "fetched": sum.FetchedBytes, "skipped": sum.SkippedBytes})
	}
}

// copyCeiling copies src to dst over one loopback connection, plain or TLS
// 1.3, file to file, and returns MB/s.
func copyCeiling(src, dst string, useTLS bool) float64 {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	var cfg *tls.Config
	if useTLS {
		cfg = selfSigned()
		ln = tls.NewListener(ln, cfg)
	}
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		f, err := os.Create(dst)
		if err != nil {
			done <- err
			return
		}
		_, err = io.CopyBuffer(f, c, make([]byte, 1<<20))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		done <- err
	}()
	start := time.Now()
	var c net.Conn
	if useTLS {
		c, err = tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
	} else {
		c, err = net.Dial("tcp", ln.Addr().String())
	}
	check(err)
	f, err := os.Open(src)
	check(err)
	n, err := io.CopyBuffer(c, f, make([]byte, 1<<20))
	check(err)
	f.Close()
	c.Close()
	check(<-done)
	ln.Close()
	return mb(n, time.Since(start))
}

func selfSigned() *tls.Config {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	check(err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	check(err)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS13}
}

func writeRandom(path string, n int64) {
	check(os.MkdirAll(filepath.Dir(path), 0o755))
	f, err := os.Create(path)
	check(err)
	_, err = io.CopyN(f, rand.Reader, n)
	check(err)
	check(f.Close())
	settle()
}

// writeText writes log-like text: repetitive structure with varying fields,
// the kind of data users compress (about 10-20% after zstd).
func writeText(path string, n int64) {
	check(os.MkdirAll(filepath.Dir(path), 0o755))
	f, err := os.Create(path)
	check(err)
	w := bufio.NewWriterSize(f, 1<<20)
	r := mrand.New(mrand.NewPCG(1, 2))
	levels := []string{"INFO", "DEBUG", "WARN", "ERROR"}
	msgs := []string{"request served", "cache miss for key", "connection closed by peer", "retrying upload of chunk", "user logged in"}
	var written int64
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for written < n {
		t = t.Add(time.Duration(r.IntN(5000)) * time.Millisecond)
		k, _ := fmt.Fprintf(w, "%s %-5s [worker-%02d] %s id=%08x latency=%dms\n", t.Format(time.RFC3339Nano),
			levels[r.IntN(4)], r.IntN(16), msgs[r.IntN(5)], r.Uint32(), r.IntN(900))
		written += int64(k)
	}
	check(w.Flush())
	check(f.Truncate(n))
	check(f.Close())
	settle()
}

func writeSmall(dir string, n, size int) {
	buf := make([]byte, size)
	for i := 0; i < n; i++ {
		d := filepath.Join(dir, fmt.Sprintf("d%03d", i/100))
		if i%100 == 0 {
			check(os.MkdirAll(d, 0o755))
		}
		rand.Read(buf)
		check(os.WriteFile(filepath.Join(d, fmt.Sprintf("f%05d", i)), buf, 0o644))
	}
	settle()
}

// writeLinks is writeSmall with hard links to the first 100 files.
func writeLinks(dir string, n, size int) {
	writeSmall(dir, min(n, 100), size)
	for i := 100; i < n; i++ {
		d := filepath.Join(dir, fmt.Sprintf("d%03d", i/100))
		if i%100 == 0 {
			check(os.MkdirAll(d, 0o755))
		}
		check(os.Link(filepath.Join(dir, "d000", fmt.Sprintf("f%05d", i%100)), filepath.Join(d, fmt.Sprintf("f%05d", i))))
	}
	settle()
}

func check(err error) {
	if err != nil {
		fail("%v", err)
	}
}

func fail(f string, a ...any) {
	fmt.Fprintf(os.Stderr, "pcp-bench: "+f+"\n", a...)
	os.Exit(1)
}
