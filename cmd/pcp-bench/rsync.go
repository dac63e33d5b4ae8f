package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// rsyncCeiling copies the tree src to a fresh rsync daemon (no encryption)
// and returns MB/s of src's bytes over wall time, client start to exit;
// with z, rsync -z with zstd. On a route with namespaces the client runs in
// the sender's and the daemon in the receiver's. note says why it was
// skipped when ok is false.
func rsyncCeiling(src, work string, z bool, r *route) (mbs float64, note string, ok bool) {
	bin, err := exec.LookPath("rsync")
	if err != nil {
		return 0, "rsync not installed", false
	}
	dst := filepath.Join(work, "rsync.out")
	check(os.MkdirAll(dst, 0o755))
	defer os.RemoveAll(dst)
	conf := filepath.Join(work, "rsyncd.conf")
	cfg := fmt.Sprintf("use chroot = no\nreuse port = yes\n[bench]\npath = %s\nread only = no\n", dst)
	if os.Geteuid() == 0 {
		cfg += "uid = root\ngid = root\n"
	}
	check(os.WriteFile(conf, []byte(cfg), 0o644))
	defer os.Remove(conf)
	host := "127.0.0.1"
	if r != nil && r.ns != nil {
		host = r.ns.ip[1]
	}
	port := freePort()
	args := []string{"--daemon", "--no-detach", "--config=" + conf, "--address=" + host, fmt.Sprint("--port=", port)}
	var daemon *exec.Cmd
	if r != nil && r.ns != nil {
		daemon = r.ns.command(1, bin, args...)
	} else {
		daemon = exec.Command(bin, args...)
	}
	daemon.Stderr = os.Stderr
	check(daemon.Start())
	defer func() { daemon.Process.Kill(); daemon.Wait() }()
	if !waitListening(r, bin, host, port) {
		return 0, "rsync daemon did not start", false
	}
	cargs := []string{"-a", src + "/", fmt.Sprintf("rsync://%s:%d/bench/", host, port)}
	if z {
		cargs = append([]string{"-z", "--compress-choice=zstd"}, cargs...)
	}
	var client *exec.Cmd
	if r != nil && r.ns != nil {
		client = r.ns.command(0, bin, cargs...)
	} else {
		client = exec.Command(bin, cargs...)
	}
	client.Stderr = os.Stderr
	start := time.Now()
	if err := client.Run(); err != nil {
		return 0, fmt.Sprintf("rsync failed: %v", err), false
	}
	el := time.Since(start)
	settle()
	return mb(treeBytes(src), el), "", true
}

// waitListening polls the daemon with rsync's module listing until it
// answers, for up to 10 s.
func waitListening(r *route, bin, host string, port int) bool {
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		url := fmt.Sprintf("rsync://%s:%d/", host, port)
		var c *exec.Cmd
		if r != nil && r.ns != nil {
			c = r.ns.command(0, bin, url)
		} else {
			c = exec.Command(bin, url)
		}
		if c.Run() == nil {
			return true
		}
	}
	return false
}

func freePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func treeBytes(dir string) int64 {
	var n int64
	check(filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return err
	}))
	return n
}

// ensureRsync reports whether rsync can be run, installing it with apt-get
// first when it is missing and the bench runs as root.
func ensureRsync() bool {
	if _, err := exec.LookPath("rsync"); err == nil {
		return true
	}
	if os.Geteuid() != 0 {
		return false
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return false
	}
	fmt.Println("rsync is missing: installing it with apt-get")
	c := exec.Command("apt-get", "install", "-y", "-q", "rsync")
	c.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if c.Run() != nil {
		return false
	}
	_, err := exec.LookPath("rsync")
	return err == nil
}
