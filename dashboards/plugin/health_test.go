package plugin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/apiwatch/apiwatch/dashboards/plugin"
	"github.com/apiwatch/apiwatch/internal/chtest"
	"github.com/apiwatch/apiwatch/storage"
)

func TestCheckHealth(t *testing.T) {
	ds, s := demoDatasource(t)
	res, err := ds.CheckHealth(context.Background(), &backend.CheckHealthRequest{PluginContext: backend.PluginContext{DataSourceInstanceSettings: s}})
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("apiwatch schema version %d", storage.SchemaVersion())
	t.Logf("%v: %s", res.Status, res.Message)
	if res.Status != backend.HealthStatusOk || !strings.Contains(res.Message, "ClickHouse 18.") && !strings.Contains(res.Message, "ClickHouse 2") || !strings.Contains(res.Message, want) {
		t.Errorf("health %v: %s", res.Status, res.Message)
	}
	var h plugin.Health
	if err := json.Unmarshal(res.JSONDetails, &h); err != nil || h.SchemaVersion != storage.SchemaVersion() || h.ClickHouseVersion == "" || h.Database != demo.db {
		t.Errorf("details %s (%v)", res.JSONDetails, err)
	}
}

func TestCheckHealthFailures(t *testing.T) {
	base := chtest.Require(t)
	// A port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	host := strings.TrimPrefix(base, "clickhouse://")
	for _, c := range []struct {
		name     string
		jsonData string
		secure   map[string]string
		want     []string
	}{
		{"unreachable", `{"host":"127.0.0.1","port":` + closed[strings.LastIndexByte(closed, ':')+1:] + `}`, nil,
			[]string{"unreachable", "connection refused"}},
		{"unknown user", `{"host":"` + host[:strings.LastIndexByte(host, ':')] + `","port":"` + host[strings.LastIndexByte(host, ':')+1:] + `","user":"nobody"}`,
			map[string]string{"password": "Secret-pw-1"}, []string{"refused the login", `user "nobody"`}},
		{"no host", `{"port":9000}`, nil, []string{"no host"}},
		{"bad port", `{"host":"h","port":"http"}`, nil, []string{"port"}},
		{"bad CA", `{"host":"h","tls":true}`, map[string]string{"tlsCACert": "not a certificate"}, []string{"tlsCACert holds no PEM"}},
		{"host with a scheme", `{"host":"clickhouse://h"}`, nil, []string{"without scheme"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := &backend.DataSourceInstanceSettings{JSONData: []byte(c.jsonData), DecryptedSecureJSONData: c.secure}
			ds := newDatasource(t, s)
			res, err := ds.CheckHealth(context.Background(), &backend.CheckHealthRequest{PluginContext: backend.PluginContext{DataSourceInstanceSettings: s}})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%v: %s", res.Status, res.Message)
			if res.Status != backend.HealthStatusError {
				t.Errorf("status %v: %s", res.Status, res.Message)
			}
			for _, w := range c.want {
				if !strings.Contains(res.Message, w) {
					t.Errorf("message %q lacks %q", res.Message, w)
				}
			}
			if pw := c.secure["password"]; pw != "" && strings.Contains(res.Message+string(res.JSONDetails), pw) {
				t.Error("the password is in the health message")
			}
			// Queries say the same.
			r := queryResponse(t, ds.QueryData, backend.PluginContext{DataSourceInstanceSettings: s}, map[string]any{"queryType": "findings"}, demoFrom, demoTo)
			if r.Error == nil {
				t.Error("a query ran on a broken data source")
			}
		})
	}
}

// TestCheckHealthOldSchema meets a database whose schema is older than
// the plugin needs (as after an interrupted migration).
func TestCheckHealthOldSchema(t *testing.T) {
	ctx := context.Background()
	s := settingsFor(t, chtest.DSN(t))
	ds := newDatasource(t, s)
	st, err := ds.Store(ctx) // migrates
	if err != nil {
		t.Fatal(err)
	}
	// Only the first migration recorded.
	table := "`" + st.Database() + "`.schema_migrations"
	if err := st.Conn().Exec(ctx, "DROP TABLE "+table); err != nil {
		t.Fatal(err)
	}
	if err := st.Conn().Exec(ctx, "CREATE TABLE "+table+" (version UInt32, name String, applied_at DateTime) ENGINE = MergeTree ORDER BY version"); err != nil {
		t.Fatal(err)
	}
	b, err := st.Conn().PrepareBatch(ctx, "INSERT INTO "+table)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Append(uint32(1), "first", time.Now().UTC().Truncate(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	res, err := ds.CheckHealth(ctx, &backend.CheckHealthRequest{PluginContext: backend.PluginContext{DataSourceInstanceSettings: s}})
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("schema version 1 in database %s is older than this plugin needs (%d): run apiwatch migrate", st.Database(), storage.SchemaVersion())
	if res.Status != backend.HealthStatusError || !strings.Contains(res.Message, want) {
		t.Errorf("old schema: %v %s", res.Status, res.Message)
	}
}
