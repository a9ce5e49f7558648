package pipeline

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/apiwatch/apiwatch/capture"
	"github.com/apiwatch/apiwatch/internal/testnet"
	"github.com/apiwatch/apiwatch/parse"
)

// TestRunLiveTransactions captures real HTTP on a veth pair, with two fanout
// workers, and checks every transaction comes out paired and complete.
func TestRunLiveTransactions(t *testing.T) {
	v := testnet.New(t)
	port := v.Serve(t)
	srcs, err := capture.OpenLive(capture.LiveConfig{
		Interface: v.Host, Workers: 2, Ports: []uint16{uint16(port)},
		PollTimeout: 20 * time.Millisecond, RingMB: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, s := range srcs {
			s.Close()
		}
	}()

	var mu sync.Mutex
	got := map[string]string{} // target → "status body-length"
	h := parse.HandlerFunc(func(tx *parse.Transaction) {
		mu.Lock()
		defer mu.Unlock()
		if tx.Request == nil || tx.Response == nil {
			got["incomplete"] = fmt.Sprintf("%+v", tx.Flags)
			return
		}
		got[string(tx.Request.Target)] = fmt.Sprintf("%d %d", tx.Response.Status, tx.Response.BodyLen)
	})
	ctx, cancel := context.WithCancel(context.Background())
	var st Stats
	var runErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		st, runErr = RunLive(ctx, Config{}, srcs, []string{v.Host, v.Host}, func(int) parse.Handler { return h })
	}()

	const n = 5
	want := map[string]string{}
	for i := range n {
		path := fmt.Sprintf("/tx-%d", i)
		v.Curl(t, port, path)
		want[path] = fmt.Sprintf("200 %d", len("pong "+path))
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		k := len(got)
		mu.Unlock()
		if k >= n {
			break
		}
	}
	cancel()
	<-done
	if runErr != nil {
		t.Fatal(runErr)
	}
	mu.Lock()
	defer mu.Unlock()
	for path, w := range want {
		if got[path] != w {
			t.Errorf("%s: got %q, want %q (all: %v)", path, got[path], w, got)
		}
	}
	if len(got) != n {
		t.Errorf("%d transactions, want %d: %v", len(got), n, got)
	}
	if st.Kernel.Packets == 0 || st.Parse.Transactions != n {
		t.Errorf("stats: kernel %+v, %d transactions", st.Kernel, st.Parse.Transactions)
	}
	if d := st.Drops(); len(d) > 0 {
		t.Errorf("drops on a clean veth: %v", d)
	}
}
