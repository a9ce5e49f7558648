package plugin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/apiwatch/apiwatch/dashboards/plugin"
	"github.com/apiwatch/apiwatch/dashboards/plugin/plugintest"
	"github.com/apiwatch/apiwatch/internal/chtest"
)

// demo is the database TestMain filled with apiwatch analyze's output for
// the attack demo capture, and the plugin executable it built.
var demo struct {
	dsn, db string
	plugin  string // gpx_apiwatch
	err     error
}

// The demo capture's time: 2026-03-02 09:00 to 09:08 UTC.
var (
	demoFrom = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	demoTo   = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
)

const (
	usersByID   = "GET api.example.com /api/v1/users/{id}"
	login       = "POST auth.example.com /auth/login"
	demoFinding = 11
	demoEvents  = 6809
)

// TestMain builds the plugin and apiwatch and runs analyze on the demo
// capture into a fresh database, once for every test here; without a
// ClickHouse server it does nothing and the tests skip (or fail, in CI).
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	base := os.Getenv(chtest.EnvDSN)
	if base == "" {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "apiwatch-plugin-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var apiwatch string
	demo.plugin, apiwatch, demo.err = plugintest.Build(ctx, dir)
	if demo.err == nil {
		var drop func()
		demo.dsn, demo.db, drop = chtest.NewDatabase(base, "apiwatch_test_plugin_")
		defer drop()
		demo.err = plugintest.LoadCapture(ctx, apiwatch, demo.dsn, "../../testdata/attacks-demo.pcap.gz")
	}
	return m.Run()
}

// requireDemo skips without a server (fails in CI) and fails when
// TestMain could not load the demo.
func requireDemo(t *testing.T) {
	t.Helper()
	chtest.Require(t)
	if demo.err != nil {
		t.Fatal(demo.err)
	}
}

// settingsFor returns Grafana's settings for a data source on dsn.
func settingsFor(t *testing.T, dsn string) *backend.DataSourceInstanceSettings {
	t.Helper()
	s, err := plugintest.Settings(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newDatasource is the data source of settings, disposed at the test's end.
func newDatasource(t *testing.T, s *backend.DataSourceInstanceSettings) *plugin.Datasource {
	t.Helper()
	inst, err := plugin.NewDatasource(context.Background(), *s)
	if err != nil {
		t.Fatal(err)
	}
	ds := inst.(*plugin.Datasource)
	t.Cleanup(ds.Dispose)
	return ds
}

// demoDatasource is a data source on the demo database.
func demoDatasource(t *testing.T) (*plugin.Datasource, *backend.DataSourceInstanceSettings) {
	t.Helper()
	requireDemo(t)
	s := settingsFor(t, demo.dsn)
	return newDatasource(t, s), s
}

// dataQuery is a query as Grafana sends it: the JSON model with refId and
// queryType, the time range and interval.
func dataQuery(t testing.TB, refID string, model map[string]any, from, to time.Time) backend.DataQuery {
	t.Helper()
	m := map[string]any{"refId": refID, "datasource": map[string]string{"type": plugin.ID, "uid": "apiwatch"}, "intervalMs": 60000, "maxDataPoints": 1000}
	for k, v := range model {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	qt, _ := model["queryType"].(string)
	return backend.DataQuery{RefID: refID, QueryType: qt, JSON: b, TimeRange: backend.TimeRange{From: from, To: to}, Interval: time.Minute, MaxDataPoints: 1000}
}

type queryDataFunc func(context.Context, *backend.QueryDataRequest) (*backend.QueryDataResponse, error)

// runQuery runs one query and returns its frames, failing the test on an
// error.
func runQuery(t *testing.T, qd queryDataFunc, pctx backend.PluginContext, model map[string]any, from, to time.Time) data.Frames {
	t.Helper()
	r := queryResponse(t, qd, pctx, model, from, to)
	if r.Error != nil {
		t.Fatalf("query %v: %v", model, r.Error)
	}
	return r.Frames
}

func queryResponse(t *testing.T, qd queryDataFunc, pctx backend.PluginContext, model map[string]any, from, to time.Time) backend.DataResponse {
	t.Helper()
	resp, err := qd(context.Background(), &backend.QueryDataRequest{PluginContext: pctx, Queries: []backend.DataQuery{dataQuery(t, "A", model, from, to)}})
	if err != nil {
		t.Fatal(err)
	}
	r, ok := resp.Responses["A"]
	if !ok {
		t.Fatalf("no response for refId A: %v", resp.Responses)
	}
	return r
}

// shapes are the frames' documented shapes (README.md): name, then each
// field as name:type.
var shapes = map[string][]string{
	"findings": {"id:string", "first_seen:time.Time", "last_seen:time.Time", "detected_at:time.Time", "detector:string", "kind:string",
		"severity:string", "severity_level:int64", "endpoint:string", "actor:string", "actor_kind:string", "subject:string",
		"client_ips:string", "events:int64", "summary:string", "status:string", "note:string", "triaged_by:string",
		"triaged_at:*time.Time", "version:uint64", "counts:json.RawMessage"},
	"evidence": {"metric:string", "observed:float64", "baseline:float64", "floor:float64", "threshold:float64", "note:string"},
	"events": {"time:time.Time", "client_ip:string", "method:string", "path:string", "status:uint16", "response_bytes:int64",
		"records:int64", "actor_id:string", "sensitive_classes:string"},
	"samples": {"time:time.Time", "sensor_id:string", "client_ip:string", "src_port:uint32", "path:string", "status:uint32"},
	"inventory": {"endpoint:string", "method:string", "host:string", "template:string", "first_seen:time.Time", "last_seen:time.Time",
		"calls:uint64", "statuses:string", "auth_kinds:string", "authenticated:bool", "anonymous:bool", "sensitive_classes:string",
		"sensitive:bool", "shadow:bool"},
	"top_actors":     {"actor:string", "requests:uint64", "errors:uint64", "bytes:int64", "records:int64"},
	"rates":          {"time:time.Time", "requests:uint64", "errors:uint64", "bytes:int64", "records:int64", "login_failures:uint64"},
	"login_outcomes": {"time:time.Time", "attempts:uint64", "successes:uint64", "failures:uint64", "failure_ratio:float64", "usernames:uint64", "sources:uint64"},
	"annotations":    {"time:time.Time", "timeEnd:time.Time", "title:string", "text:string", "tags:string", "id:string", "severity:string", "status:string"},
}

// checkShape fails the test unless frame has the documented shape of
// shape (the frame "finding" has the shape of "findings").
func checkShape(t *testing.T, fr *data.Frame, shape string) {
	t.Helper()
	want := shapes[shape]
	var got []string
	for _, f := range fr.Fields {
		got = append(got, f.Name+":"+f.Type().ItemTypeString())
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("frame %s: fields\n%v\nwant (%s)\n%v", fr.Name, got, shape, want)
	}
	if n, err := fr.RowLen(); err != nil {
		t.Errorf("frame %s: %v (n=%d)", fr.Name, err, n)
	}
}

// column returns the values of a frame's field.
func column[T any](t *testing.T, fr *data.Frame, name string) []T {
	t.Helper()
	f, _ := fr.FieldByName(name)
	if f == nil {
		t.Fatalf("frame %s has no field %s", fr.Name, name)
	}
	out := make([]T, f.Len())
	for i := range out {
		v, ok := f.At(i).(T)
		if !ok {
			t.Fatalf("frame %s field %s: %T, not %T", fr.Name, name, f.At(i), out[i])
		}
		out[i] = v
	}
	return out
}

func sum[T uint64 | int64 | float64](vs []T) T {
	var s T
	for _, v := range vs {
		s += v
	}
	return s
}
