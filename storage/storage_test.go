package storage_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apiwatch/apiwatch/baseline"
	"github.com/apiwatch/apiwatch/event"
	"github.com/apiwatch/apiwatch/finding"
	"github.com/apiwatch/apiwatch/internal/chtest"
	"github.com/apiwatch/apiwatch/storage"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 123456789, time.UTC)

func testEvent(i int) *event.APIEvent {
	return &event.APIEvent{SchemaMajor: 1, Kind: event.Kind_KIND_HTTP, SensorId: "s1",
		RequestStartNs: t0.Add(time.Duration(i) * time.Second).UnixNano(), LatencyNs: 2_500_000, ClientIp: "10.0.0.7",
		Flow:    &event.Flow{SrcIp: "10.0.0.7", DstIp: "2001:db8::1", SrcPort: 40000, DstPort: 80},
		Request: &event.Request{Method: "GET", Host: "api.example.com", Endpoint: "GET api.example.com /v1/users/{id}", Template: "/v1/users/{id}", Path: "/v1/users/7"},
		Response: &event.Response{Status: uint32(200 + 204*(i%2)), BodyBytes: 512, BodyAnalyzed: true,
			Shape:     &event.Shape{FieldPaths: []string{"email", "id"}, Records: 1},
			Sensitive: []*event.SensitiveCount{{Class: event.SensitiveClass_SENSITIVE_CLASS_EMAIL, Count: 1}}},
		Actor:     &event.Actor{Id: "actor-1", Kind: event.ActorKind_ACTOR_KIND_JWT},
		ObjectIds: []*event.ObjectID{{Param: "id", Value: &event.ObjectID_Number{Number: 7}}},
		Quality:   []event.Quality{event.Quality_QUALITY_TRUNCATED}}
}

func TestMigrate(t *testing.T) {
	s := chtest.Open(t)
	ctx := context.Background()
	if v, err := s.Version(ctx); err != nil || v != storage.SchemaVersion() {
		t.Fatalf("version %d (%v), want %d", v, err, storage.SchemaVersion())
	}
	if err := s.Migrate(ctx); err != nil { // again: nothing to do
		t.Fatal(err)
	}
	var n uint64
	if err := s.Conn().QueryRow(ctx, "SELECT count() FROM `"+s.Database()+"`.schema_migrations").Scan(&n); err != nil || n != uint64(storage.SchemaVersion()) {
		t.Errorf("schema_migrations rows %d (%v), want one per migration", n, err)
	}
}

func TestEventsRoundTrip(t *testing.T) {
	s := chtest.Open(t)
	ctx := context.Background()
	w := s.EventWriter(storage.WriterConfig{BatchRows: 7})
	for i := range 100 {
		if !w.Add(storage.NewEventRow(testEvent(i))) {
			t.Fatal("writer dropped a row with room in its queue")
		}
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if st := w.Stats(); st.Written != 100 || st.Dropped+st.Failed != 0 {
		t.Fatalf("stats %+v", st)
	}
	var (
		tm                        time.Time
		ns                        uint32
		client, dst               string
		status                    uint16
		classes, objects, quality []string
		actorKind, kind           string
	)
	row := s.Conn().QueryRow(ctx, "SELECT time, time_ns, IPv6NumToString(client_ip), IPv6NumToString(dst_ip), status, sensitive_classes, object_ids, quality, actor_kind, toString(kind) FROM `"+s.Database()+"`.events ORDER BY time LIMIT 1")
	if err := row.Scan(&tm, &ns, &client, &dst, &status, &classes, &objects, &quality, &actorKind, &kind); err != nil {
		t.Fatal(err)
	}
	if !tm.Equal(t0.Truncate(time.Second)) || ns != 123456789 || client != "::ffff:10.0.0.7" || dst != "2001:db8::1" || status != 200 ||
		strings.Join(classes, ",") != "email" || strings.Join(objects, ",") != "7" || strings.Join(quality, ",") != "truncated" || actorKind != "jwt" || kind != "http" {
		t.Errorf("row: %v %d %s %s %d %v %v %v %s %s", tm, ns, client, dst, status, classes, objects, quality, actorKind, kind)
	}
	// The inventory and the rollups follow the events.
	var calls uint64
	var statuses []uint16
	var sensitive []string
	err := s.Conn().QueryRow(ctx, "SELECT countMerge(calls), groupUniqArrayMerge(statuses), groupUniqArrayArrayMerge(sensitive) FROM `"+s.Database()+"`.endpoints WHERE endpoint = ?", "GET api.example.com /v1/users/{id}").Scan(&calls, &statuses, &sensitive)
	if err != nil || calls != 100 || len(statuses) != 2 || strings.Join(sensitive, ",") != "email" {
		t.Errorf("inventory: calls %d statuses %v sensitive %v (%v)", calls, statuses, sensitive, err)
	}
	var requests, errs uint64
	if err := s.Conn().QueryRow(ctx, "SELECT sum(requests), sum(errors) FROM `"+s.Database()+"`.rollup_minute").Scan(&requests, &errs); err != nil || requests != 100 || errs != 50 {
		t.Errorf("rollups: %d requests %d errors (%v), want 100 and 50", requests, errs, err)
	}
}

func TestFindingsCollapse(t *testing.T) {
	s := chtest.Open(t)
	ctx := context.Background()
	w := s.FindingWriter(storage.WriterConfig{})
	f := finding.Finding{ID: "f1", Version: 1, Detector: finding.Enumeration, Kind: "sequential_ids", Severity: finding.High,
		Endpoint: "GET h /u/{id}", ClientIPs: []string{"203.0.113.5"}, FirstSeen: finding.Time{Time: t0}, LastSeen: finding.Time{Time: t0},
		DetectedAt: finding.Time{Time: t0}, Counts: map[string]int64{"events": 3}, Summary: "first"}
	w.Add(f)
	f.Version, f.Severity, f.Summary, f.LastSeen.Time = 2, finding.Critical, "second", t0.Add(time.Minute)
	w.Add(f)
	w.Add(f) // re-delivered
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	var n uint64
	var version uint64
	var severity, summary string
	if err := s.Conn().QueryRow(ctx, "SELECT count(), max(version), any(toString(severity)), any(summary) FROM `"+s.Database()+"`.findings FINAL").Scan(&n, &version, &severity, &summary); err != nil {
		t.Fatal(err)
	}
	if n != 1 || version != 2 || severity != "critical" || summary != "second" {
		t.Errorf("findings FINAL: %d rows, version %d, %s, %q; want 1, 2, critical, second", n, version, severity, summary)
	}
}

// TestServerRestart restarts the server while a writer is writing: every
// row is written once the server is back, none is dropped. It runs a
// server of its own (scripts/clickhouse.sh on free ports), so that the
// restart does not disturb the tests of other packages running meanwhile.
func TestServerRestart(t *testing.T) {
	server := chtest.OwnServer(t)
	ctx := context.Background()
	s, err := storage.Open(ctx, server.DSN+"/restart")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w := s.EventWriter(storage.WriterConfig{BatchRows: 50, FlushInterval: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	for i := range 500 {
		w.Add(storage.NewEventRow(testEvent(i)))
	}
	time.Sleep(100 * time.Millisecond)
	server.Stop()
	for i := 500; i < 1000; i++ { // while the server is down
		w.Add(storage.NewEventRow(testEvent(i)))
	}
	time.Sleep(300 * time.Millisecond)
	server.Start()
	closeCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := w.Close(closeCtx); err != nil {
		t.Fatal(err)
	}
	st := w.Stats()
	var n uint64
	if err := s.Conn().QueryRow(ctx, "SELECT count() FROM `"+s.Database()+"`.events").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1000 || st.Written != 1000 || st.Dropped != 0 || st.Retries == 0 {
		t.Errorf("after a restart: %d rows stored, stats %+v; want 1000 written, none dropped, some retries", n, st)
	}
}

func TestBadDSN(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for dsn, want := range map[string]string{
		"clickhouse://127.0.0.1:1/apiwatch?dial_timeout=1s": "is the server running",
		"clickhouse://127.0.0.1:19000/bad-name":             "database name",
		"mysql://x":                                         "clickhouse DSN",
	} {
		if _, err := storage.Open(ctx, dsn); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error saying %q", dsn, err, want)
		}
	}
}

// TestBaselines stores the baselines of a detector's endpoints and restores
// all of them, or only those asked for (a rebalanced detector's partitions).
func TestBaselines(t *testing.T) {
	s := chtest.Open(t)
	ctx := context.Background()
	bs := baseline.New(baseline.Config{})
	for i := range 300 {
		e := testEvent(i)
		e.Request.Endpoint = fmt.Sprintf("GET h /e%d", i%3)
		bs.Observe(e)
	}
	if err := s.SaveBaselines(ctx, bs, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveBaselines(ctx, bs, t0.Add(time.Minute)); err != nil { // a later snapshot replaces it
		t.Fatal(err)
	}
	all := baseline.New(baseline.Config{})
	if n, err := s.LoadBaselines(ctx, all); err != nil || n != 3 || all.Endpoint("GET h /e1").Events != 100 {
		t.Fatalf("restored %d (%v), want 3 endpoints of 100 events", n, err)
	}
	some := baseline.New(baseline.Config{})
	if n, err := s.LoadBaselines(ctx, some, "GET h /e0", "GET h /e2", "GET h /nope"); err != nil || n != 2 || some.Endpoint("GET h /e1") != nil {
		t.Errorf("restored %d (%v), want the 2 asked for", n, err)
	}
	names, err := s.BaselineEndpoints(ctx)
	slices.Sort(names)
	if err != nil || !slices.Equal(names, []string{"GET h /e0", "GET h /e1", "GET h /e2"}) {
		t.Errorf("stored baselines: %q (%v)", names, err)
	}
}
