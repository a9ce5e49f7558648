package plugin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/apiwatch/apiwatch/dashboards/plugin"
	"github.com/apiwatch/apiwatch/dashboards/plugin/plugintest"
	"github.com/apiwatch/apiwatch/storage"
)

// TestOutOfProcess starts the built plugin as Grafana does
// (hashicorp/go-plugin, Grafana's handshake, gRPC) and runs health
// checks, every query type and triage through it with the settings
// Grafana sends, against the demo database.
func TestOutOfProcess(t *testing.T) {
	requireDemo(t)
	var log plugintest.LogBuffer
	c, err := plugintest.Start(demo.plugin, &log)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		c.Close()
		if t.Failed() {
			t.Logf("plugin log:\n%s", log.String())
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	settings := settingsFor(t, demo.dsn)
	pctx := plugintest.PluginContext(settings, &backend.User{Login: "admin", Name: "Admin", Role: "Admin"})

	health, err := c.CheckHealth(ctx, &backend.CheckHealthRequest{PluginContext: pctx})
	if err != nil {
		t.Fatal(err)
	}
	if health.Status != backend.HealthStatusOk || !strings.Contains(health.Message, fmt.Sprintf("apiwatch schema version %d", storage.SchemaVersion())) {
		t.Errorf("health %v %q", health.Status, health.Message)
	}
	var h plugin.Health
	if err := json.Unmarshal(health.JSONDetails, &h); err != nil || h.ClickHouseVersion == "" {
		t.Errorf("health details %s (%v)", health.JSONDetails, err)
	}

	// Every query type in one request, as a dashboard sends its panels'.
	models := map[string]map[string]any{
		"findings":  {"queryType": "findings", "severity": "high"},
		"inventory": {"queryType": "inventory"},
		"top":       {"queryType": "top_actors", "endpoint": usersByID},
		"rates":     {"queryType": "rates", "endpoint": usersByID},
		"logins":    {"queryType": "login_outcomes", "endpoint": login},
		"ann":       {"queryType": "annotations"},
		"sql":       {"queryType": "sql", "rawSql": "SELECT count() AS n FROM $__table(events) WHERE $__timeFilter(time)"},
		"bad":       {"queryType": "sql", "rawSql": "TRUNCATE TABLE $__table(events)"},
	}
	req := &backend.QueryDataRequest{PluginContext: pctx}
	for ref, m := range models {
		req.Queries = append(req.Queries, dataQuery(t, ref, m, demoFrom, demoTo))
	}
	resp, err := c.QueryData(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	frame := func(ref, shape string) int {
		t.Helper()
		r := resp.Responses[ref]
		if r.Error != nil || len(r.Frames) != 1 {
			t.Fatalf("%s: %v, %d frames", ref, r.Error, len(r.Frames))
		}
		if r.Frames[0].RefID != ref {
			t.Errorf("%s: refId %q", ref, r.Frames[0].RefID)
		}
		if shape != "" {
			checkShape(t, r.Frames[0], shape)
		}
		n, _ := r.Frames[0].RowLen()
		return n
	}
	if n := frame("findings", "findings"); n != demoFinding-1 {
		t.Errorf("%d findings of high severity and above", n)
	}
	if n := frame("inventory", "inventory"); n < 10 {
		t.Errorf("%d endpoints", n)
	}
	if n := frame("top", "top_actors"); n != 10 {
		t.Errorf("%d top actors", n)
	}
	if n := frame("rates", "rates"); n != 8 {
		t.Errorf("%d minutes of rates", n)
	}
	if n := frame("logins", "login_outcomes"); n == 0 {
		t.Error("no login outcomes")
	}
	if n := frame("ann", "annotations"); n != demoFinding {
		t.Errorf("%d annotations", n)
	}
	frame("sql", "")
	if got := column[uint64](t, resp.Responses["sql"].Frames[0], "n"); got[0] != demoEvents {
		t.Errorf("sql count %v", got)
	}
	if rates := resp.Responses["rates"].Frames[0]; rates.Meta == nil || rates.Meta.Type != "timeseries-wide" {
		t.Errorf("rates meta %+v", rates.Meta)
	}
	if bad := resp.Responses["bad"]; bad.Error == nil || bad.Status != backend.StatusBadRequest || !strings.Contains(bad.Error.Error(), "only SELECT") {
		t.Errorf("truncate: %d %v", bad.Status, bad.Error)
	}

	// Triage over gRPC, and the findings' status filter sees it.
	qd := c.QueryData
	id := findingID(t, qd, pctx, "enumeration", "foreign_objects")
	var st plugin.TriageResponse
	if code, msg := call(t, c.CallResource, pctx, "POST", "triage", plugin.TriageRequest{FindingID: id, Status: "false_positive", Note: "batch job"}, &st); code != http.StatusOK {
		t.Fatalf("triage: %d %s", code, msg)
	}
	if st.User != "admin" || st.Status != "false_positive" {
		t.Errorf("triage state %+v", st)
	}
	if got := statusIDs(t, qd, pctx, "false_positive"); !slices.Equal(got, []string{id}) {
		t.Errorf("false positives %v", got)
	}
	var sup []plugin.SuppressionResponse
	if code, msg := call(t, c.CallResource, pctx, "GET", "suppressions", nil, &sup); code != http.StatusOK || len(sup) != 1 || sup[0].FindingID != id || sup[0].Kind != "foreign_objects" {
		t.Errorf("suppressions %d %s %+v", code, msg, sup)
	}
	if code, msg := call(t, c.CallResource, pctx, "POST", "triage", plugin.TriageRequest{FindingID: id, Status: "open"}, &st); code != http.StatusOK {
		t.Fatalf("reopen: %d %s", code, msg)
	}
	if got := statusIDs(t, qd, pctx, "open"); len(got) != demoFinding {
		t.Errorf("open after reopening: %d", len(got))
	}

	// Another data source (settings of their own) in the same process: a
	// server nobody listens on.
	broken := *settings
	broken.ID, broken.UID = 2, "broken"
	broken.JSONData = json.RawMessage(`{"host":"127.0.0.1","port":1}`)
	health, err = c.CheckHealth(ctx, &backend.CheckHealthRequest{PluginContext: plugintest.PluginContext(&broken, nil)})
	if err != nil {
		t.Fatal(err)
	}
	if health.Status != backend.HealthStatusError || !strings.Contains(health.Message, "unreachable") {
		t.Errorf("broken data source: %v %q", health.Status, health.Message)
	}
	// The first still answers.
	if got := statusIDs(t, qd, pctx, "open"); len(got) != demoFinding {
		t.Errorf("after the broken one: %d", len(got))
	}
	if c.Exited() {
		t.Error("the plugin exited")
	}
}
