package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apiwatch/apiwatch/internal/chtest"
	"github.com/apiwatch/apiwatch/storage"
)

// TestAnalyzeClickHouse stores a run in a real ClickHouse server: every
// transaction as an event, the findings once each, an inventory that
// matches the events, and a baseline per endpoint.
func TestAnalyzeClickHouse(t *testing.T) {
	dsn := chtest.DSN(t)
	out, err := runCLI(t, "analyze", "--quiet", "--clickhouse", dsn, attacksDemo)
	if err != nil {
		t.Fatal(err)
	}
	tx := summaryCount(t, out, "transactions")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := storage.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	db := "`" + s.Database() + "`."
	count := func(q string) uint64 {
		t.Helper()
		var n uint64
		if err := s.Conn().QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	if n := count("SELECT count() FROM " + db + "events"); n != uint64(tx) {
		t.Errorf("%d events stored, %d transactions", n, tx)
	}
	if n := count("SELECT count() FROM " + db + "findings FINAL"); n != 11 {
		t.Errorf("%d findings stored, want 11", n)
	}
	inventory := count("SELECT count() FROM (SELECT endpoint FROM " + db + "endpoints GROUP BY endpoint)")
	if n := count("SELECT uniqExact(endpoint) FROM " + db + "events WHERE endpoint != ''"); n != inventory || n == 0 {
		t.Errorf("inventory has %d endpoints, events %d", inventory, n)
	}
	if n := count("SELECT sum(c) FROM (SELECT countMerge(calls) AS c FROM " + db + "endpoints GROUP BY endpoint)"); n != count("SELECT count() FROM "+db+"events WHERE endpoint != ''") {
		t.Errorf("inventory calls %d differ from the events", n)
	}
	if n := count("SELECT count() FROM " + db + "baselines FINAL"); n != inventory {
		t.Errorf("%d baselines for %d endpoints", n, inventory)
	}
}

func TestMigrateCommand(t *testing.T) {
	dsn := chtest.DSN(t)
	for range 2 { // creates, then finds nothing to do
		out, err := runCLI(t, "migrate", "--clickhouse", dsn)
		if err != nil || !strings.Contains(out, fmt.Sprintf("schema version %d", storage.SchemaVersion())) {
			t.Fatalf("migrate: %q %v", out, err)
		}
	}
	if _, err := runCLI(t, "migrate", "--clickhouse", "clickhouse://127.0.0.1:1/x?dial_timeout=1s"); err == nil || !strings.Contains(err.Error(), "is the server running") {
		t.Errorf("unreachable server: %v", err)
	}
}

// TestRetentionCommand stores the demo (captured in 2026-03) and keeps
// fewer days than have passed since: its partitions go, a zero keeps all.
func TestRetentionCommand(t *testing.T) {
	dsn := chtest.DSN(t)
	if _, err := runCLI(t, "analyze", "--quiet", "--clickhouse", dsn, attacksDemo); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, "retention", "--clickhouse", dsn, "--events-days", "1", "--findings-days", "0", "--rollups-days", "1")
	if err != nil || !strings.Contains(out, "events: kept 1 days, dropped 1") || strings.Contains(out, "findings:") {
		t.Fatalf("retention: %q %v", out, err)
	}
	ctx := context.Background()
	s, err := storage.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var events, findings uint64
	s.Conn().QueryRow(ctx, "SELECT count() FROM `"+s.Database()+"`.events").Scan(&events)
	s.Conn().QueryRow(ctx, "SELECT count() FROM `"+s.Database()+"`.findings FINAL").Scan(&findings)
	if events != 0 || findings != 11 {
		t.Errorf("after retention: %d events, %d findings; want 0 and 11", events, findings)
	}
}
