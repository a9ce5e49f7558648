package pipeline

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apiwatch/apiwatch/capture"
	"github.com/apiwatch/apiwatch/parse"
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
