package pipeline

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apiwatch/apiwatch/capture"
	"github.com/apiwatch/apiwatch/parse"
	"github.com/gopacket/gopacket/layers"
)

// gatedSource stops at frame `at` until release is closed.
type gatedSource struct {
	*memSource
	at      int
	paused  atomic.Bool
	release chan struct{}
}

func (g *gatedSource) ReadPacket() ([]byte, capture.CaptureInfo, error) {
	if g.i == g.at {
		g.paused.Store(true)
		<-g.release
	}
	return g.memSource.ReadPacket()
}

// TestProgressStats: while a run is under way, its progress reports carry
// the counters of every stage so far (what the sensor's metrics show).
func TestProgressStats(t *testing.T) {
	for _, workers := range []int{1, 2} {
		src, _ := loadCapture(t, "../testdata/demo.pcap.gz")
		g := &gatedSource{memSource: src, at: len(src.frames) / 2, release: make(chan struct{})}
		var mu sync.Mutex
		var mid Stats
		var once sync.Once
		cfg := Config{Workers: workers, ProgressInterval: 5 * time.Millisecond, Progress: func(p Progress) {
			mu.Lock()
			defer mu.Unlock()
			if g.paused.Load() && mid.Parse.Transactions == 0 && p.Stats.Parse.Transactions > 0 && p.Stats.Capture.Packets > 0 {
				mid = p.Stats
				once.Do(func() { close(g.release) })
			}
		}}
		time.AfterFunc(10*time.Second, func() { once.Do(func() { close(g.release) }) })
		end, err := Run(context.Background(), cfg, []capture.Source{g}, []string{"demo"},
			func(int) parse.Handler { return parse.HandlerFunc(func(*parse.Transaction) {}) })
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		if mid.Parse.Transactions == 0 {
			t.Fatalf("%d workers: no progress report carried the counters while the run was paused halfway", workers)
		}
		if mid.Capture.Packets > uint64(g.at) || mid.Capture.Packets >= end.Capture.Packets ||
			mid.Parse.Transactions >= end.Parse.Transactions || mid.Reassembly.Packets == 0 {
			t.Errorf("%d workers: halfway %d packets, %d transactions, %d segments; at the end %d, %d",
				workers, mid.Capture.Packets, mid.Parse.Transactions, mid.Reassembly.Packets, end.Capture.Packets, end.Parse.Transactions)
		}
		mu.Unlock()
	}
}

// idleSource waits (as a paced replay does) before frame `at`, after
// telling the pipeline it is idle.
type idleSource struct {
	*memSource
	at      int
	idle    func()
	waiting atomic.Bool
	release chan struct{}
}

func (s *idleSource) OnIdle(f func()) { s.idle = f }

func (s *idleSource) ReadPacket() ([]byte, capture.CaptureInfo, error) {
	if s.i == s.at {
		s.waiting.Store(true)
		if s.idle != nil {
			s.idle()
		}
		<-s.release
		s.waiting.Store(false)
	}
	return s.memSource.ReadPacket()
}

// TestIdleFlush: while a paced replay waits, the packets read so far reach
// the workers (not held back until a batch fills): their transactions come
// out during the wait, as they would from a live capture.
func TestIdleFlush(t *testing.T) {
	src, _ := loadCapture(t, "../testdata/demo.pcap.gz")
	s := &idleSource{memSource: src, at: 200, release: make(chan struct{})}
	var n atomic.Int64
	got := make(chan struct{})
	var once sync.Once
	go func() {
		select {
		case <-got:
		case <-time.After(10 * time.Second):
		}
		close(s.release)
	}()
	_, err := Run(context.Background(), Config{Workers: 2}, []capture.Source{s}, []string{"demo"}, func(int) parse.Handler {
		return parse.HandlerFunc(func(*parse.Transaction) {
			if n.Add(1); s.waiting.Load() {
				once.Do(func() { close(got) })
			}
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-got:
	default:
		t.Error("no transaction came out while the replay waited: packets were held back for batching")
	}
}

// TestWorkerSkew: on a quiet capture (the attacks demo: ~110 packets/s),
// the workers stay close in capture time, so the transactions they report
// to a shared consumer (analyze's detector) arrive nearly in capture order.
// A batch that only went out once it held 256 packets kept one worker tens
// of seconds behind the other.
func TestWorkerSkew(t *testing.T) {
	src, _ := loadCapture(t, "../testdata/attacks-demo.pcap.gz")
	var mu sync.Mutex
	var newest, worst int64
	n := 0
	_, err := Run(context.Background(), Config{Workers: 2}, []capture.Source{src}, []string{"attacks"}, func(int) parse.Handler {
		return parse.HandlerFunc(func(tx *parse.Transaction) {
			if tx.Response == nil || tx.Request == nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			n++
			// How far behind the newest response seen so far this one is.
			end := tx.Response.End
			newest = max(newest, end)
			worst = max(worst, newest-end)
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 6000 {
		t.Fatalf("%d transactions", n)
	}
	// Measured: 2.2 to 3.7 s (some transactions end on a later packet of
	// their own worker, whose clock moves with its share of the traffic);
	// 26 to 46 s when a batch waited for 256 packets.
	if lag := time.Duration(worst); lag > 8*time.Second {
		t.Errorf("a transaction reached the handlers %v of capture time after a later one", lag)
	}
}

// orderRecorder is a worker's Ordered handler: it checks the positions and
// throughs Run gives it and hands its transactions, tagged, to a Merger.
type orderRecorder struct {
	m       *Merger[string]
	worker  int
	pos     uint64
	through uint64
	held    []Held[string]
	maxHeld *maxInt // the most transactions the Merger held after a Through
	t       *testing.T
}

type maxInt struct {
	mu sync.Mutex
	n  int
}

func (m *maxInt) note(n int) {
	m.mu.Lock()
	m.n = max(m.n, n)
	m.mu.Unlock()
}

func (o *orderRecorder) Transaction(tx *parse.Transaction) {
	o.held = append(o.held, Held[string]{o.pos, txID(tx)})
}

func (o *orderRecorder) Position(seq uint64) {
	if seq <= o.through || seq < o.pos {
		o.t.Errorf("worker %d: position %d after position %d and through %d", o.worker, seq, o.pos, o.through)
	}
	o.pos = seq
}

func (o *orderRecorder) Through(seq uint64) {
	if seq < o.pos || seq < o.through {
		o.t.Errorf("worker %d: through %d after position %d and through %d", o.worker, seq, o.pos, o.through)
	}
	o.through = seq
	o.m.Through(o.worker, seq, o.held)
	o.held = o.held[:0]
	o.maxHeld.note(o.m.Pending())
}

func txID(tx *parse.Transaction) string {
	var start int64
	if tx.Request != nil {
		start = tx.Request.Start
	} else if tx.Response != nil {
		start = tx.Response.Start
	}
	return fmt.Sprintf("%v %d", tx.Flow, start)
}

// TestOrdered: with several workers, transactions merged by the positions
// Run gives them, as far as every worker said it is through, come in the
// order one worker reports them in: the capture's. The attacks demo runs
// at its own pace (batches go out every maxBatchSpan) and squeezed to a
// packet per microsecond (batches go out full).
func TestOrdered(t *testing.T) {
	src, _ := loadCapture(t, "../testdata/attacks-demo.pcap.gz")
	dense := &memSource{frames: src.frames}
	for i := range src.ts {
		dense.ts = append(dense.ts, src.ts[0]+int64(i)*1000)
	}
	for _, c := range []struct {
		name string
		src  *memSource
	}{{"recorded pace", src}, {"dense", dense}} {
		var want []string
		c.src.i = 0
		if _, err := Run(context.Background(), Config{Workers: 1}, []capture.Source{c.src}, []string{"attacks"}, func(int) parse.Handler {
			return parse.HandlerFunc(func(tx *parse.Transaction) { want = append(want, txID(tx)) })
		}); err != nil {
			t.Fatal(err)
		}
		for _, workers := range []int{2, 3, 8} {
			c.src.i = 0
			out, _ := runOrdered(t, c.src, workers)
			if len(out) != len(want) {
				t.Fatalf("%s, %d workers: %d transactions, one worker %d", c.name, workers, len(out), len(want))
			}
			for i := range want {
				if out[i] != want[i] {
					t.Fatalf("%s, %d workers: transaction %d of %d is %s, one worker's is %s", c.name, workers, i, len(want), out[i], want[i])
				}
			}
		}
	}
}

// TestOrderedIdleWorker: a worker that gets no packets still says how far
// the capture is, so the others' transactions are not held until the end.
func TestOrderedIdleWorker(t *testing.T) {
	src, _ := loadCapture(t, "../testdata/attacks-demo.pcap.gz")
	// From halfway on, only the packets of worker 0's connections.
	dec := capture.NewDecoder(capture.DecoderConfig{})
	var p capture.Packet
	quiet := &memSource{}
	for i, f := range src.frames {
		if dec.Decode(f, layers.LinkTypeEthernet, src.ts[i], &p) != capture.ResultTCP {
			continue
		}
		if i < len(src.frames)/2 || p.Flow.Hash(1)%2 == 0 {
			quiet.frames, quiet.ts = append(quiet.frames, f), append(quiet.ts, src.ts[i])
		}
	}
	out, held := runOrdered(t, quiet, 2)
	// Measured: 14 to 29 held at most (what worker 0 does in about 100 ms
	// of capture time); 1,634 when the idle worker is sent nothing.
	if len(out) < 4000 || held > 200 {
		t.Errorf("%d transactions, up to %d held at once", len(out), held)
	}
}

// runOrdered runs src over workers with orderRecorders and returns the
// transactions in the order the Merger passed them on, and the most it held.
func runOrdered(t *testing.T, src *memSource, workers int) (out []string, maxHeld int) {
	t.Helper()
	var held maxInt
	m := NewMerger(func(id string) { out = append(out, id) })
	if _, err := Run(context.Background(), Config{Workers: workers, ShardKey: 1}, []capture.Source{src}, []string{"attacks"}, func(int) parse.Handler {
		return &orderRecorder{m: m, worker: m.Join(), maxHeld: &held, t: t}
	}); err != nil {
		t.Fatal(err)
	}
	if n := m.Pending(); n > 0 {
		t.Errorf("%d workers: %d transactions still held at the end", workers, n)
	}
	return out, held.n
}
