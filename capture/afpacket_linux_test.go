package capture

import (
	"bytes"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/apiwatch/apiwatch/internal/testnet"
)

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
	v := testnet.New(t)
	port := v.Serve(t)
	otherPort := v.Serve(t) // traffic the filter must drop
	srcs, err := OpenLive(LiveConfig{Interface: v.Host, Ports: []uint16{uint16(port)}, PollTimeout: 20 * time.Millisecond, RingMB: 4})
	if err != nil {
		t.Fatal(err)
	}
	c := collect(t, srcs)
	var markers []string
	for n := range 3 {
		path := fmt.Sprintf("/probe-%d", n)
		v.Curl(t, port, path)
		v.Curl(t, otherPort, path+"-filtered")
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
		if s.flow.SrcIP.String() != v.HostIP && s.flow.SrcIP.String() != v.PeerIP {
			t.Errorf("unexpected address in %v", s.flow)
		}
	}
	if st.Packets < uint64(len(segs)) {
		t.Errorf("kernel counted %d packets, %d segments decoded", st.Packets, len(segs))
	}
	t.Logf("%d segments; kernel: %+v; decoder: tcp=%d dropped=%d", len(segs), st, c.stats.TCP, c.stats.Dropped())
}

func TestLiveFanout(t *testing.T) {
	v := testnet.New(t)
	port := v.Serve(t)
	// A raw -ddd filter, formatted from the port filter: exercises the
	// text path that tcpdump output takes.
	prog, err := PortFilter([]uint16{uint16(port)})
	if err != nil {
		t.Fatal(err)
	}
	srcs, err := OpenLive(LiveConfig{Interface: v.Host, Workers: 2, BPF: FormatBPF(prog), Snaplen: 1500, PollTimeout: 20 * time.Millisecond, RingMB: 4})
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
		v.Curl(t, port, path)
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
