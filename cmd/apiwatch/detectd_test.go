package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/apiwatch/apiwatch/internal/chtest"
	"github.com/apiwatch/apiwatch/storage"
)

// TestDetectDaemon runs the distributed shape on one machine: the sensor
// replays the attacks demo into a Kafka-protocol broker, the detector
// consumes it and stores events, findings and baselines in ClickHouse.
func TestDetectDaemon(t *testing.T) {
	dsn := chtest.DSN(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "apiwatch.events", "apiwatch.findings"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr := c.ListenAddrs()[0]
	out, err := runCLI(t, "sensor", "--quiet", "--pcap", "../../testdata/attacks-demo.pcap.gz", "--kafka", addr)
	if err != nil {
		t.Fatal(err)
	}
	tx := summaryCount(t, out, "transactions")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan string, 1)
	go func() {
		cmd := newRootCmd()
		var b strings.Builder
		cmd.SetOut(&b)
		cmd.SetArgs([]string{"detect", "--kafka", addr, "--clickhouse", dsn, "--listen", "127.0.0.1:0"})
		if err := cmd.ExecuteContext(ctx); err != nil {
			t.Error(err)
		}
		done <- b.String()
	}()
	s, err := storage.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	count := func(q string) uint64 {
		var n uint64
		s.Conn().QueryRow(context.Background(), q).Scan(&n)
		return n
	}
	db := "`" + s.Database() + "`."
	deadline := time.Now().Add(60 * time.Second)
	// Until the last batch's events and findings are stored (a batch writes
	// its events, then its findings).
	for (count("SELECT count() FROM "+db+"events") < uint64(tx) || count("SELECT count() FROM "+db+"findings FINAL") < 11) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	summary := <-done
	if n := count("SELECT count() FROM " + db + "events"); n != uint64(tx) {
		t.Errorf("%d events stored, %d transactions replayed", n, tx)
	}
	// Per-endpoint order is kept, cross-endpoint order is the broker's:
	// the same incidents as in-process analysis.
	if n := count("SELECT count() FROM " + db + "findings FINAL"); n != 11 {
		t.Errorf("%d findings stored, want the 11 of the demo", n)
	}
	if n := count("SELECT count() FROM " + db + "baselines FINAL"); n == 0 {
		t.Error("no baselines stored at shutdown")
	}
	if !strings.Contains(summary, "findings opened") {
		t.Errorf("summary: %q", summary)
	}
}
