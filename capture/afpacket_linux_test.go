package capture

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// vethPair is a veth pair between the root namespace (host end) and a
// namespace of its own (peer end), addressed from a random /30 of the
// benchmarking range 198.18.0.0/15, so test traffic never leaves the two
// veths. (Not 192.0.2.0/24: test hosts use TEST-NET-1 for real.)
type vethPair struct {
	ns, host       string
	hostIP, peerIP string
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

// newVeth sets the pair up, or skips the test where that is impossible
// (not root, no netns support) unless CI=true, where it fails.
func newVeth(t *testing.T) *vethPair {
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
	v := &vethPair{ns: "apwtest-" + id, host: "apwh" + id}
	v.hostIP, v.peerIP = freeSubnet(t)
	peer := "apwp" + id
	if out, err := exec.Command("ip", "netns", "add", v.ns).CombinedOutput(); err != nil {
		unavailable("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() {
		// Deleting the namespace destroys the peer, and with it the pair.
		exec.Command("ip", "netns", "del", v.ns).Run()
		exec.Command("ip", "link", "del", v.host).Run()
	})
	run(t, "ip", "link", "add", v.host, "type", "veth", "peer", "name", peer)
	run(t, "ip", "link", "set", peer, "netns", v.ns)
	run(t, "ip", "addr", "add", v.hostIP+"/30", "dev", v.host)
	run(t, "ip", "link", "set", v.host, "up")
	run(t, "ip", "netns", "exec", v.ns, "ip", "addr", "add", v.peerIP+"/30", "dev", peer)
	run(t, "ip", "netns", "exec", v.ns, "ip", "link", "set", peer, "up")
	run(t, "ip", "netns", "exec", v.ns, "ip", "link", "set", "lo", "up")
	return v
}

// serve starts an HTTP server on the host end; it answers "pong <path>".
func (v *vethPair) serve(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", v.hostIP+":0")
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

// curl fetches path from inside the namespace.
func (v *vethPair) curl(t *testing.T, port int, path string) {
	t.Helper()
	url := fmt.Sprintf("http://%s:%d%s", v.hostIP, port, path)
	out, err := exec.Command("ip", "netns", "exec", v.ns, "curl", "-sS", "--noproxy", "*", "--max-time", "5", url).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "pong "+path) {
		t.Fatalf("curl %s: %v: %s", url, err, out)
	}
}

// segment is a decoded TCP segment with its payload copied.
type segment struct {
	worker  int
	flow    Flow
	payload []byte
}

// collector reads sources until stopped, decoding each in its own goroutine
// as a worker would.
type collector struct {
	mu    sync.Mutex
	segs  []segment
	stats Stats
	stop  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup
}

func collect(t *testing.T, srcs []Source) *collector {
	c := &collector{stop: make(chan struct{})}
	// Registered after the veth's cleanup, so it runs before it: the
	// readers stop before their interface disappears.
	t.Cleanup(func() { c.close() })
	for i, src := range srcs {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			defer src.Close()
			d := NewDecoder(DecoderConfig{})
			var p Packet
			for {
				select {
				case <-c.stop:
					s := d.Stats()
					c.mu.Lock()
					c.stats.Add(&s)
					c.mu.Unlock()
					return
				default:
				}
				data, ci, err := src.ReadPacket()
				if err == ErrTimeout {
					continue
				}
				if err != nil {
					t.Errorf("worker %d: %v", i, err)
					return
				}
				if d.Decode(data, ci.LinkType, ci.Timestamp, &p) == ResultTCP {
					c.mu.Lock()
					c.segs = append(c.segs, segment{i, p.Flow, bytes.Clone(p.Payload)})
					c.mu.Unlock()
				}
			}
		}()
	}
	return c
}

// waitFor polls until every marker was seen in some captured payload.
func (c *collector) waitFor(t *testing.T, markers ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.Lock()
		missing := ""
		for _, m := range markers {
			found := false
			for _, s := range c.segs {
				if bytes.Contains(s.payload, []byte(m)) {
					found = true
					break
				}
			}
			if !found {
				missing = m
				break
			}
		}
		n := len(c.segs)
		c.mu.Unlock()
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no captured TCP segment contains %q (%d segments captured)", missing, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *collector) close() []segment {
	c.once.Do(func() { close(c.stop) })
	c.wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.segs
}

func TestLiveCapture(t *testing.T) {
	v := newVeth(t)
	port := v.serve(t)
	otherPort := v.serve(t) // traffic the filter must drop
	srcs, err := OpenLive(LiveConfig{Interface: v.host, Ports: []uint16{uint16(port)}, PollTimeout: 20 * time.Millisecond, RingMB: 4})
	if err != nil {
		t.Fatal(err)
	}
	c := collect(t, srcs)
	var markers []string
	for n := range 3 {
		path := fmt.Sprintf("/probe-%d", n)
		v.curl(t, port, path)
		v.curl(t, otherPort, path+"-filtered")
		markers = append(markers, "GET "+path+" HTTP/1.1", "pong "+path)
	}
	c.waitFor(t, markers...)
	st, err := srcs[0].(LiveStatser).Stats()
	if err != nil {
		t.Fatal(err)
	}
	segs := c.close()
	for _, s := range segs {
		if s.flow.SrcPort != uint16(port) && s.flow.DstPort != uint16(port) {
			t.Errorf("filter let through %v", s.flow)
		}
		if s.flow.SrcIP.String() != v.hostIP && s.flow.SrcIP.String() != v.peerIP {
			t.Errorf("unexpected address in %v", s.flow)
		}
	}
	if st.Packets < uint64(len(segs)) {
		t.Errorf("kernel counted %d packets, %d segments decoded", st.Packets, len(segs))
	}
	t.Logf("%d segments; kernel: %+v; decoder: tcp=%d dropped=%d", len(segs), st, c.stats.TCP, c.stats.Dropped())
}

func TestLiveFanout(t *testing.T) {
	v := newVeth(t)
	port := v.serve(t)
	// A raw -ddd filter, formatted from the port filter: exercises the
	// text path that tcpdump output takes.
	prog, err := PortFilter([]uint16{uint16(port)})
	if err != nil {
		t.Fatal(err)
	}
	srcs, err := OpenLive(LiveConfig{Interface: v.host, Workers: 2, BPF: FormatBPF(prog), Snaplen: 1500, PollTimeout: 20 * time.Millisecond, RingMB: 4})
	if err != nil {
		t.Fatal(err)
	}
	if len(srcs) != 2 {
		t.Fatalf("%d sources, want 2", len(srcs))
	}
	c := collect(t, srcs)
	var markers []string
	for n := range 8 {
		path := "/fanout-" + strconv.Itoa(n)
		v.curl(t, port, path)
		markers = append(markers, "GET "+path+" ", "pong "+path)
	}
	c.waitFor(t, markers...)
	segs := c.close()
	// Every connection, both directions, must have landed in one worker.
	worker := map[Flow]int{}
	perWorker := [2]int{}
	for _, s := range segs {
		key, _ := s.flow.Canonical()
		if w, ok := worker[key]; ok && w != s.worker {
			t.Errorf("connection %v split across workers %d and %d", key, w, s.worker)
		}
		worker[key] = s.worker
		perWorker[s.worker]++
	}
	t.Logf("%d connections, segments per worker %v", len(worker), perWorker)
}
