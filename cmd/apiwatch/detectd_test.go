package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/apiwatch/apiwatch/alert"
	"github.com/apiwatch/apiwatch/finding"
	"github.com/apiwatch/apiwatch/internal/chtest"
	"github.com/apiwatch/apiwatch/internal/testcert"
	"github.com/apiwatch/apiwatch/internal/testnet"
	"github.com/apiwatch/apiwatch/storage"
)

// TestDetectDaemon runs the distributed shape on one machine: the sensor
// replays the attacks demo into a Kafka-protocol broker, the detector
// consumes it and stores events, findings and baselines in ClickHouse.
func TestDetectDaemon(t *testing.T) {
	dsn := chtest.DSN(t)
	addr, out := replayToBroker(t)
	tx := summaryCount(t, out, "transactions")
	listen := fmt.Sprintf("127.0.0.1:%d", testnet.FreePort(t))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan string, 1)
	go func() {
		cmd := newRootCmd()
		var b strings.Builder
		cmd.SetOut(&b)
		cmd.SetArgs([]string{"detect", "--kafka", addr, "--clickhouse", dsn, "--listen", listen})
		if err := cmd.ExecuteContext(ctx); err != nil {
			t.Error(err)
		}
		done <- b.String()
	}()
	db, count := tableCounter(t, dsn)
	deadline := time.Now().Add(60 * time.Second)
	// Until the last batch's events and findings are stored (a batch writes
	// its events, then its findings).
	for (count("SELECT count() FROM "+db+"events") < uint64(tx) || count("SELECT count() FROM "+db+"findings FINAL") < 11) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	var opened float64
	if resp, err := http.Get("http://" + listen + "/metrics"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "apiwatch_detect_findings_total{detector="); ok {
				n, _ := strconv.ParseFloat(v[strings.IndexByte(v, ' ')+1:], 64)
				opened += n
			}
		}
	}
	if opened != 11 {
		t.Errorf("/metrics counts %v findings opened by detector, want 11", opened)
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
	addr := startBroker(t)
	// The sensor replays at 30 times the recorded pace while the first
	// detector consumes, so that detector cannot race through the attack
	// (1.8 s at this pace) between two looks at its table, as it could
	// when the whole capture was on the topic before it started.
	replayed := make(chan string, 1)
	go func() {
		out, err := runCLI(t, "sensor", "--quiet", "--pcap", attacksDemo, "--kafka", addr, "--replay-speed", "30")
		if err != nil {
			t.Error(err)
		}
		replayed <- out
	}()
	db, count := tableCounter(t, dsn)
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
	// Stopped once the first detector stored some of the foreign-objects
	// episode's 57 requests (10.66.0.5, 9:04:52 to 9:05:45 in the demo),
	// fewer than the 50 distinct objects that make it a finding: it is
	// found only if the enumerating actor's window and the objects' owners
	// are handed on with the baselines.
	attack := "SELECT count() FROM " + db + "events WHERE endpoint = 'GET api.example.com /api/v1/orders/{id}' AND client_ip = IPv6StringToNum('::ffff:10.66.0.5')"
	run(func() bool { return count(attack) >= 10 })
	if n := count(attack); n == 0 || n >= 50 {
		t.Fatalf("the first detector stored %d of the attack's 57 requests; the test needs it stopped within the attack", n)
	} else {
		t.Logf("the first detector stored %d of the attack's 57 requests", n)
	}
	stored := count("SELECT count() FROM " + db + "events")
	tx := uint64(summaryCount(t, <-replayed, "transactions"))
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
		for _, k := range []string{"many_usernames", "sequential_ids", "new_sensitive_class", "new_sensitive_field", "distributed",
			"scraping", "foreign_objects", "brute_force", "unauthenticated_sensitive", "takeover"} {
			t.Logf("%s: %d", k, count("SELECT count() FROM "+db+"findings FINAL WHERE kind = '"+k+"'"))
		}
	}
	t.Logf("first detector stored %d of %d events; %d rows in all (at least once)", stored, tx, count("SELECT count() FROM "+db+"events"))
}

// TestSecuredStack runs the sensor and the detector against a broker that
// wants TLS and SCRAM, with the password from a file and from the
// environment: the events go through, and the password shows in no output.
func TestSecuredStack(t *testing.T) {
	dsn := chtest.DSN(t)
	const password = "kafka-Pa55word-9e1c"
	certs := testcert.New(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "apiwatch.events", "apiwatch.findings"),
		kfake.TLS(certs.ServerConfig(false)), kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "apiwatch", password))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr := c.ListenAddrs()[0]
	pwFile := filepath.Join(t.TempDir(), "kafka-password")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	secured := []string{"--kafka", addr, "--kafka-ca", certs.CAFile, "--kafka-sasl", "scram-sha-256", "--kafka-user", "apiwatch"}

	// A wrong password stops the sensor at once, saying why.
	t.Setenv("APIWATCH_KAFKA_PASSWORD", "wrong")
	_, err = runCLI(t, append([]string{"sensor", "--quiet", "--pcap", attacksDemo}, secured...)...)
	if err == nil || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("a wrong SASL password: %v", err)
	}
	logs := captureLogs(t)
	out, err := runCLI(t, append([]string{"sensor", "--quiet", "--pcap", attacksDemo, "--kafka-password-file", pwFile}, secured...)...)
	if err != nil {
		t.Fatal(err)
	}
	tx := uint64(summaryCount(t, out, "transactions"))
	t.Setenv("APIWATCH_KAFKA_PASSWORD", password)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan string, 1)
	go func() {
		o, err := runCLIContext(ctx, append([]string{"detect", "--clickhouse", dsn, "--listen", ""}, secured...)...)
		if err != nil {
			t.Error(err)
		}
		done <- o
	}()
	db, count := tableCounter(t, dsn)
	var n uint64
	for deadline := time.Now().Add(60 * time.Second); n < tx && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		n = count("SELECT count() FROM " + db + "events")
	}
	cancel()
	summary := <-done
	if n != tx {
		t.Errorf("%d events stored through the secured broker, %d sent", n, tx)
	}
	if all := out + summary + logs(); strings.Contains(all, password) || !strings.Contains(all, "kafka") {
		t.Errorf("the password shows in the output:\n%s", all)
	}
}

// TestDetectorCrash kills a detector process (SIGKILL: no flush, no
// commit, no goodbye to the group) mid-stream. A second detector joining
// the group gets its partitions once the group gives up on it, restores
// their baselines from ClickHouse, and finishes the stream: every event
// stored (at least once) and the findings complete, without duplicates.
func TestDetectorCrash(t *testing.T) {
	dsn := chtest.DSN(t)
	addr, out := replayToBroker(t, kfake.GroupMinSessionTimeout(time.Second))
	tx := uint64(summaryCount(t, out, "transactions"))
	db, count := tableCounter(t, dsn)
	args := []string{"detect", "--kafka", addr, "--clickhouse", dsn, "--listen", "", "--batch", "50", "--session-timeout", "2s", "--drain-timeout", "3s"}
	first := exec.Command(os.Args[0], append(args, "--snapshot-every", "100ms")...)
	first.Env = append(os.Environ(), "APIWATCH_TEST_MAIN=1")
	var firstLog strings.Builder
	first.Stderr = &firstLog
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); count("SELECT count() FROM "+db+"events") < tx/4 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	first.Process.Kill()
	first.Wait()
	stored := count("SELECT count() FROM " + db + "events")
	if stored >= tx {
		t.Fatalf("the first detector stored all %d events before it was killed; the test needs it killed mid-stream", stored)
	}
	if count("SELECT count() FROM "+db+"baselines") == 0 {
		t.Fatalf("the first detector saved no baselines before it was killed:\n%s", firstLog.String())
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan string, 1)
	go func() {
		o, err := runCLIContext(ctx, args...)
		if err != nil {
			t.Error(err)
		}
		done <- o
	}()
	// Cheap counts first: the polling must not starve the detector.
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if count("SELECT count() FROM "+db+"events") >= tx && count("SELECT uniqExact(time, time_ns, src_port) FROM "+db+"events") >= tx &&
			count("SELECT count() FROM "+db+"findings FINAL") >= 11 {
			break
		}
	}
	cancel()
	summary := <-done
	if n := count("SELECT uniqExact(time, time_ns, src_port) FROM " + db + "events"); n != tx {
		t.Errorf("%d distinct events stored, %d transactions", n, tx)
	}
	if n := count("SELECT count() FROM " + db + "findings FINAL"); n != 11 {
		t.Errorf("%d findings after the crash, want the demo's 11 (no duplicates)", n)
	}
	if restored := summaryNumber(t, summary, "baselines restored"); restored == 0 {
		t.Errorf("the second detector restored no baselines: %s", summary)
	}
	t.Logf("killed after %d of %d events; second detector: %s", stored, tx, strings.TrimSpace(summary))
}

// summaryNumber returns the number before label in a summary line.
func summaryNumber(t *testing.T, line, label string) int {
	t.Helper()
	before, _, ok := strings.Cut(line, " "+label)
	if !ok {
		t.Fatalf("no %q in %q", label, line)
	}
	n, err := strconv.Atoi(before[strings.LastIndexByte(before, ' ')+1:])
	if err != nil {
		t.Fatalf("%q in %q: %v", label, line, err)
	}
	return n
}

// tableCounter opens the store at dsn for the test and returns its
// database's name, quoted for queries ("`db`."), and a function running a
// query that returns one number.
func tableCounter(t *testing.T, dsn string) (db string, count func(query string) uint64) {
	t.Helper()
	s, err := storage.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return "`" + s.Database() + "`.", func(q string) uint64 {
		var n uint64
		if err := s.Conn().QueryRow(context.Background(), q).Scan(&n); err != nil {
			t.Logf("%s: %v", q, err)
		}
		return n
	}
}

// TestDetectAlerts: the detector tells a signed webhook about every
// finding it stores, once each, while a Slack sink that never answers and a
// PagerDuty sink on a closed port do not hold it up.
func TestDetectAlerts(t *testing.T) {
	dsn := chtest.DSN(t)
	addr, _ := replayToBroker(t)
	const key = "whsec-test-1"
	var mu sync.Mutex
	got := map[string]int{}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := alert.Verify(key, r.Header.Get(alert.SignatureHeader), body, time.Minute); err != nil {
			t.Errorf("webhook signature: %v", err)
		}
		var f finding.Finding
		if err := json.Unmarshal(body, &f); err != nil || f.ID == "" {
			t.Errorf("webhook body %q: %v", body, err)
		}
		mu.Lock()
		got[f.ID]++
		mu.Unlock()
	}))
	defer hook.Close()
	// Reads the request, never answers (the body read lets the server see
	// the client hang up).
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	}))
	defer hang.Close()
	cfg := fmt.Sprintf(`sinks:
  - {name: siem, type: webhook, url: %q, secret: %q}
  - {name: slack, type: slack, webhook_url: %q, timeout: 1h}
  - {name: pd, type: pagerduty, routing_key: k, url: "http://127.0.0.1:%d/v2/enqueue"}
`, hook.URL, key, hang.URL+"/services/T/B/X", testnet.FreePort(t))
	file := filepath.Join(t.TempDir(), "alerts.yaml")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan string, 1)
	go func() {
		o, err := runCLIContext(ctx, "detect", "--kafka", addr, "--clickhouse", dsn, "--listen", "", "--alerts", file, "--drain-timeout", "2s")
		if err != nil {
			t.Error(err)
		}
		done <- o
	}()
	db, count := tableCounter(t, dsn)
	deadline := time.Now().Add(60 * time.Second)
	for count("SELECT count() FROM "+db+"findings FINAL") < 11 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 11 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopped := time.Now()
	cancel()
	<-done
	if d := time.Since(stopped); d > 10*time.Second {
		t.Errorf("the detector took %v to stop with a hanging alert sink", d)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 11 {
		t.Errorf("the webhook was told of %d findings, want the 11 stored", len(got))
	}
	for id, n := range got {
		if n != 1 {
			t.Errorf("finding %s alerted %d times; an ongoing incident alerts once unless its severity rises", id, n)
		}
	}
}

// TestDetectSuppressions: a finding an analyst marked as a false positive
// (from Grafana, stored in ClickHouse) is not updated or reopened when its
// pattern shows again; the others are.
func TestDetectSuppressions(t *testing.T) {
	dsn := chtest.DSN(t)
	addr, out := replayToBroker(t)
	tx := uint64(summaryCount(t, out, "transactions"))
	db, count := tableCounter(t, dsn)
	// consume runs a detector in a new group (it reads the topic from the
	// start) until the events table holds rows events.
	consume := func(group string, rows uint64) string {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan string, 1)
		go func() {
			o, err := runCLIContext(ctx, "detect", "--kafka", addr, "--clickhouse", dsn, "--listen", "", "--group", group)
			if err != nil {
				t.Error(err)
			}
			done <- o
		}()
		for deadline := time.Now().Add(60 * time.Second); count("SELECT count() FROM "+db+"events") < rows && time.Now().Before(deadline); {
			time.Sleep(200 * time.Millisecond)
		}
		cancel()
		return <-done
	}
	consume("first", tx)
	s, err := storage.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	before, err := s.Findings(context.Background(), storage.FindingFilter{})
	if err != nil || len(before) != 11 {
		t.Fatalf("%d findings after the first pass (%v), want 11", len(before), err)
	}
	marked := before[0]
	if _, err := s.Triage(context.Background(), storage.TriageUpdate{FindingID: marked.ID, Status: storage.StatusFalsePositive, Note: "our scanner", User: "analyst"}); err != nil {
		t.Fatal(err)
	}
	// The same events again, learned afresh (the stored baselines would
	// know the attacks by now): every incident shows again.
	if err := s.Conn().Exec(context.Background(), "TRUNCATE TABLE "+db+"baselines"); err != nil {
		t.Fatal(err)
	}
	consume("second", 2*tx)
	after, err := s.Findings(context.Background(), storage.FindingFilter{})
	if err != nil {
		t.Fatal(err)
	}
	versions := map[string]uint64{}
	for _, f := range before {
		versions[f.ID] = f.Version
	}
	for _, f := range after {
		switch {
		case f.ID == marked.ID && f.Version != versions[f.ID]:
			t.Errorf("the false positive %s (%s/%s) was updated: v%d -> v%d", f.ID, f.Detector, f.Kind, versions[f.ID], f.Version)
		case f.ID != marked.ID && f.Version <= versions[f.ID]:
			t.Errorf("finding %s (%s/%s) was not updated by the second pass", f.ID, f.Detector, f.Kind)
		}
	}
	if n := count("SELECT count() FROM " + db + "findings FINAL"); n != 11 {
		t.Errorf("%d findings after the second pass, want the same 11", n)
	}
}

// TestDetectClickHouseOutage stops ClickHouse while the detector works and
// starts it again: the detector retries its batch (nothing committed
// meanwhile), then every event is stored and the findings are complete and
// not duplicated.
func TestDetectClickHouseOutage(t *testing.T) {
	server := chtest.OwnServer(t)
	dsn := server.DSN + "/outage"
	addr, out := replayToBroker(t)
	tx := uint64(summaryCount(t, out, "transactions"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan string, 1)
	go func() {
		o, err := runCLIContext(ctx, "detect", "--kafka", addr, "--clickhouse", dsn, "--listen", "", "--batch", "100")
		if err != nil {
			t.Error(err)
		}
		done <- o
	}()
	db, count := tableCounter(t, dsn)
	for deadline := time.Now().Add(60 * time.Second); count("SELECT count() FROM "+db+"events") < tx/4 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	stored := count("SELECT count() FROM " + db + "events")
	server.Stop()
	if stored >= tx {
		t.Fatalf("the detector stored all %d events before the outage; the test needs it mid-stream", stored)
	}
	time.Sleep(time.Second) // the detector fails and retries meanwhile
	server.Start()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if count("SELECT count() FROM "+db+"events") >= tx && count("SELECT uniqExact(time, time_ns, src_port) FROM "+db+"events") >= tx &&
			count("SELECT count() FROM "+db+"findings FINAL") >= 11 {
			break
		}
	}
	cancel()
	<-done
	if n := count("SELECT uniqExact(time, time_ns, src_port) FROM " + db + "events"); n != tx {
		t.Errorf("%d distinct events stored across the outage, %d transactions", n, tx)
	}
	if n := count("SELECT count() FROM " + db + "findings FINAL"); n != 11 {
		t.Errorf("%d findings across the outage, want the demo's 11", n)
	}
}
