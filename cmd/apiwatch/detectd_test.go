package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/apiwatch/apiwatch/internal/chtest"
	"github.com/apiwatch/apiwatch/storage"
)

// TestDetectDaemon runs the distributed shape on one machine: the sensor
// replays the attacks demo into a Kafka-protocol broker, the detector
// consumes it and stores events, findings and baselines in ClickHouse.
func TestDetectDaemon(t *testing.T) {
	dsn := chtest.DSN(t)
	addr, out := replayToBroker(t)
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

// TestDetectorTakeover kills a detector mid-stream and starts another in
// its group: every event ends up stored (at least once), and the findings
// are complete and not duplicated — the second detector resumes the first
// one's incidents under the same ids.
func TestDetectorTakeover(t *testing.T) {
	dsn := chtest.DSN(t)
	addr, out := replayToBroker(t)
	tx := uint64(summaryCount(t, out, "transactions"))
	s, err := storage.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	db := "`" + s.Database() + "`."
	count := func(q string) uint64 {
		var n uint64
		s.Conn().QueryRow(context.Background(), q).Scan(&n)
		return n
	}
	run := func(until func() bool) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			cmd := newRootCmd()
			cmd.SetOut(io.Discard)
			cmd.SetArgs([]string{"detect", "--kafka", addr, "--clickhouse", dsn, "--listen", "", "--batch", "100"})
			if err := cmd.ExecuteContext(ctx); err != nil {
				t.Error(err)
			}
		}()
		deadline := time.Now().Add(60 * time.Second)
		for !until() && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		cancel() // mid-batch, possibly: that batch is not committed
		<-done
	}
	run(func() bool { return count("SELECT count() FROM "+db+"events") >= tx/3 })
	stored := count("SELECT count() FROM " + db + "events")
	if stored >= tx {
		t.Fatalf("the first detector stored all %d events before it was stopped; the test needs it stopped mid-stream", stored)
	}
	run(func() bool {
		return count("SELECT uniqExact(time, time_ns, src_port) FROM "+db+"events") >= tx && count("SELECT count() FROM "+db+"findings FINAL") >= 11
	})
	if n := count("SELECT uniqExact(time, time_ns, src_port) FROM " + db + "events"); n != tx {
		t.Errorf("%d distinct events stored, %d transactions", n, tx)
	}
	if n := count("SELECT count() FROM " + db + "findings FINAL"); n != 11 {
		t.Errorf("%d findings after the takeover, want the demo's 11 (no duplicates)", n)
	}
	t.Logf("first detector stored %d of %d events; %d rows in all (at least once)", stored, tx, count("SELECT count() FROM "+db+"events"))
}
