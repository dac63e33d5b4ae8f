package engine

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pcp-p2p/pcp/manifest"
)

// TestReceiveRefusesOnExFAT receives onto a real case-insensitive file
// system, exFAT through FUSE, where writing a.txt would silently overwrite
// A.txt and creating x:y fails. The receiver probes the destination, and
// refuses the offer before it writes anything, naming both collisions'
// names and the reasons.
func TestReceiveRefusesOnExFAT(t *testing.T) {
	mnt := mountExFAT(t)
	dest := filepath.Join(mnt, "in")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeFile(t, filepath.Join(src, "A.txt"), []byte("upper"))
	writeFile(t, filepath.Join(src, "a.txt"), []byte("lower"))
	writeFile(t, filepath.Join(src, "x:y"), []byte("stream"))
	writeFile(t, filepath.Join(src, "fine.txt"), []byte("fine"))

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pass := testPass(t)
	addrs, res := startSender(t, ctx, SendOptions{Paths: []string{src}, Passphrase: pass})
	confirmed := false
	ro := recvOpts(pass, dest, addrs)
	ro.Confirm = func(Offer) bool { confirmed = true; return true }
	_, err := Receive(ctx, ro)
	cancel()
	<-res

	var re *RefusedError
	if !errors.As(err, &re) || !errors.Is(err, ErrUnrepresentable) {
		t.Fatalf("Receive onto exFAT: %v, want a RefusedError", err)
	}
	if confirmed {
		t.Error("the offer was put to the user although it is refused")
	}
	want := []Refusal{
		{Path: "src/x:y", Reason: manifest.ReasonColon},
		{Path: "src/a.txt", Reason: manifest.ReasonCaseCollision, Other: "src/A.txt"},
	}
	if !slices.Equal(re.Offer.Refused, want) || re.Offer.RefusedCount != len(want) {
		t.Errorf("refused %d: %v, want %v", re.Offer.RefusedCount, re.Offer.Refused, want)
	}
	if msg := err.Error(); !strings.Contains(msg, "src/a.txt: differs only in case from src/A.txt") {
		t.Errorf("error text %q does not name both files", msg)
	}
	// Nothing written: the destination directory is empty (the probe's
	// files are gone too), and nothing else appeared on the volume.
	if names, err := os.ReadDir(dest); err != nil || len(names) != 0 {
		t.Errorf("destination after the refusal: %v (%v), want empty", names, err)
	}
	if names, _ := os.ReadDir(mnt); len(names) != 1 || names[0].Name() != "in" {
		t.Errorf("volume after the refusal: %v, want only the destination", names)
	}
}

// mountExFAT makes a 64 MiB exFAT file system on a loop device, mounts it
// with exfat-fuse and returns the mount point; cleanups unmount it and free
// the device. It skips, saying why, without root or the tools.
func mountExFAT(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for a loop device and a FUSE mount of exFAT (make test runs it as root)")
	}
	for _, tool := range []string{"losetup", "mkfs.exfat", "mount.exfat-fuse", "umount"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: apt-get install exfat-fuse exfatprogs (make test-deps)", tool)
		}
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("needs FUSE: %v", err)
	}
	img := filepath.Join(t.TempDir(), "exfat.img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	err = f.Truncate(64 << 20)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "-f", "--show", img).CombinedOutput()
	if err != nil {
		t.Skipf("no loop device available: losetup: %v: %s", err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() {
		if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
			t.Errorf("losetup -d %s: %v: %s", dev, err, out)
		}
	})
	if out, err := exec.Command("mkfs.exfat", dev).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.exfat %s: %v: %s", dev, err, out)
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount.exfat-fuse", dev, mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount exFAT through FUSE here: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	// The mount is in place once the directory is on another device.
	var a, b syscall.Stat_t
	if err := syscall.Stat(mnt, &a); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Stat(filepath.Dir(mnt), &b); err != nil {
		t.Fatal(err)
	}
	if a.Dev == b.Dev {
		t.Fatalf("%s is not a mount point after mount.exfat-fuse", mnt)
	}
	return mnt
}
