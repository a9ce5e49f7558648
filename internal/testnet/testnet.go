// Package testnet gives tests a real network to capture on: a veth pair
// between the root network namespace and a namespace the test creates, with
// an HTTP server on one end and curl on the other. Test traffic never leaves
// the two veths.
package testnet

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Veth is a veth pair between the root namespace (host end) and a
// namespace of its own (peer end), addressed from a random /30 of the
// benchmarking range 198.18.0.0/15, so test traffic never leaves the two
// veths. (Not 192.0.2.0/24: test hosts use TEST-NET-1 for real.)
type Veth struct {
	// NS is the namespace holding the peer end; Host is the root-namespace
	// end, the interface to capture on.
	NS, Host       string
	HostIP, PeerIP string
}

// freeSubnet picks a /30 in 198.19.0.0/16 that no local interface uses.
func freeSubnet(t *testing.T) (host, peer string) {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		var r [2]byte
		rand.Read(r[:])
		base := netip.AddrFrom4([4]byte{198, 19, r[0], r[1] &^ 3})
		prefix := netip.PrefixFrom(base, 30)
		clash := false
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				if ap, ok := netip.AddrFromSlice(ipn.IP); ok {
					ones, _ := ipn.Mask.Size()
					if prefix.Overlaps(netip.PrefixFrom(ap.Unmap(), ones)) {
						clash = true
					}
				}
			}
		}
		if !clash {
			return base.Next().String(), base.Next().Next().String()
		}
	}
	t.Fatal("no free /30 in 198.19.0.0/16")
	return "", ""
}

func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// New sets the pair up, or skips the test where that is impossible
// (not root, no netns support) unless CI=true, where it fails.
func New(t *testing.T) *Veth {
	t.Helper()
	unavailable := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if os.Getenv("CI") == "true" {
			t.Fatalf("live capture test cannot run: %s (CI=true: run the tests as root with network namespace support)", msg)
		}
		t.Skipf("live capture test skipped: %s", msg)
	}
	if os.Geteuid() != 0 {
		unavailable("not root")
	}
	for _, tool := range []string{"ip", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			unavailable("%s not installed", tool)
		}
	}
	var rnd [3]byte
	rand.Read(rnd[:])
	id := hex.EncodeToString(rnd[:])
	v := &Veth{NS: "apwtest-" + id, Host: "apwh" + id}
	v.HostIP, v.PeerIP = freeSubnet(t)
	peer := "apwp" + id
	if out, err := exec.Command("ip", "netns", "add", v.NS).CombinedOutput(); err != nil {
		unavailable("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() {
		// Deleting the namespace destroys the peer, and with it the pair.
		exec.Command("ip", "netns", "del", v.NS).Run()
		exec.Command("ip", "link", "del", v.Host).Run()
	})
	run(t, "ip", "link", "add", v.Host, "type", "veth", "peer", "name", peer)
	run(t, "ip", "link", "set", peer, "netns", v.NS)
	run(t, "ip", "addr", "add", v.HostIP+"/30", "dev", v.Host)
	run(t, "ip", "link", "set", v.Host, "up")
	run(t, "ip", "netns", "exec", v.NS, "ip", "addr", "add", v.PeerIP+"/30", "dev", peer)
	run(t, "ip", "netns", "exec", v.NS, "ip", "link", "set", peer, "up")
	run(t, "ip", "netns", "exec", v.NS, "ip", "link", "set", "lo", "up")
	return v
}

// Serve starts an HTTP server on the host end; it answers "pong <path>".
func (v *Veth) Serve(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", v.HostIP+":0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "pong %s", r.URL.Path)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// Curl fetches path from inside the namespace.
func (v *Veth) Curl(t *testing.T, port int, path string) {
	t.Helper()
	url := fmt.Sprintf("http://%s:%d%s", v.HostIP, port, path)
	out, err := exec.Command("ip", "netns", "exec", v.NS, "curl", "-sS", "--noproxy", "*", "--max-time", "5", url).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "pong "+path) {
		t.Fatalf("curl %s: %v: %s", url, err, out)
	}
}

// segment is a decoded TCP segment with its payload copied.

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago, for
// a server a test starts (and restarts) on a port of its choosing.
func FreePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
