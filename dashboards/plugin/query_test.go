package plugin_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/apiwatch/apiwatch/dashboards/plugin"
	"github.com/apiwatch/apiwatch/finding"
)

// count runs a query against the demo database with a direct SQL
// statement, to compare the plugin's answers with.
func count(t *testing.T, ds *plugin.Datasource, sql string, args ...any) uint64 {
	t.Helper()
	st, err := ds.Store(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	if err := st.Conn().QueryRow(context.Background(), strings.ReplaceAll(sql, "{db}", "`"+st.Database()+"`"), args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func TestFindingsQuery(t *testing.T) {
	ds, s := demoDatasource(t)
	pctx := backend.PluginContext{DataSourceInstanceSettings: s}
	findings := func(model map[string]any, from, to time.Time) *data.Frame {
		t.Helper()
		model["queryType"] = plugin.QueryFindings
		frames := runQuery(t, ds.QueryData, pctx, model, from, to)
		if len(frames) != 1 {
			t.Fatalf("%d frames", len(frames))
		}
		checkShape(t, frames[0], "findings")
		if frames[0].RefID != "A" {
			t.Errorf("refId %q", frames[0].RefID)
		}
		return frames[0]
	}
	all := findings(map[string]any{}, demoFrom, demoTo)
	if n, _ := all.RowLen(); n != demoFinding {
		t.Fatalf("%d findings, want %d", n, demoFinding)
	}
	// The enumeration finding and its numbers.
	kinds := column[string](t, all, "kind")
	i := slices.Index(kinds, "sequential_ids")
	if i < 0 {
		t.Fatalf("no sequential_ids finding: %v", kinds)
	}
	if got := column[string](t, all, "endpoint")[i]; got != usersByID {
		t.Errorf("enumeration endpoint %q, want %q", got, usersByID)
	}
	if got := column[string](t, all, "severity")[i]; got != "critical" {
		t.Errorf("enumeration severity %q", got)
	}
	if got := column[string](t, all, "status")[i]; got != "open" {
		t.Errorf("enumeration status %q", got)
	}
	if got := column[int64](t, all, "events")[i]; got <= 0 {
		t.Errorf("enumeration events %d", got)
	}
	var counts map[string]int64
	if err := json.Unmarshal(column[json.RawMessage](t, all, "counts")[i], &counts); err != nil || counts["distinct_objects"] < 50 {
		t.Errorf("enumeration counts %v (%v)", counts, err)
	}
	if got := column[*time.Time](t, all, "triaged_at")[i]; got != nil {
		t.Errorf("untriaged finding triaged at %v", got)
	}
	// Newest first.
	firsts := column[time.Time](t, all, "first_seen")
	if !slices.IsSortedFunc(firsts, func(a, b time.Time) int { return b.Compare(a) }) {
		t.Errorf("not newest first: %v", firsts)
	}

	rows := func(fr *data.Frame) int { n, _ := fr.RowLen(); return n }
	if n := rows(findings(map[string]any{"detector": finding.Enumeration}, demoFrom, demoTo)); n != 2 {
		t.Errorf("enumeration findings %d, want 2", n)
	}
	if n := rows(findings(map[string]any{"detector": []string{finding.Enumeration, finding.DataExposure}}, demoFrom, demoTo)); n != 6 {
		t.Errorf("enumeration and data exposure findings %d, want 6", n)
	}
	// Severity is the lowest shown: one of the demo's findings is medium.
	if n := rows(findings(map[string]any{"severity": "high"}, demoFrom, demoTo)); n != demoFinding-1 {
		t.Errorf("high and above %d, want %d", n, demoFinding-1)
	}
	if n := rows(findings(map[string]any{"severity": "critical"}, demoFrom, demoTo)); n != 2 {
		t.Errorf("critical %d, want 2", n)
	}
	if n := rows(findings(map[string]any{"endpoint": login}, demoFrom, demoTo)); n != 5 {
		t.Errorf("login findings %d, want 5", n)
	}
	actor := column[string](t, all, "actor")[i]
	byActor := findings(map[string]any{"actor": actor}, demoFrom, demoTo)
	if got := column[string](t, byActor, "id"); len(got) != 1 || got[0] != column[string](t, all, "id")[i] {
		t.Errorf("findings of the enumerating actor: %v", got)
	}
	// The time range: only what overlaps it.
	early := findings(map[string]any{}, demoFrom, time.Date(2026, 3, 2, 9, 3, 0, 0, time.UTC))
	if got := column[string](t, early, "kind"); !slices.Equal(got, []string{"many_usernames"}) {
		t.Errorf("findings before 09:03: %v", got)
	}
	if n := rows(findings(map[string]any{}, demoTo, demoTo.Add(time.Hour))); n != 0 {
		t.Errorf("%d findings after the capture", n)
	}
	if n := rows(findings(map[string]any{"limit": 3}, demoFrom, demoTo)); n != 3 {
		t.Errorf("limit 3: %d", n)
	}
	// Template variables: interpolated csv values and All filter; one
	// left uninterpolated selects everything, with a notice.
	if n := rows(findings(map[string]any{"detector": "enumeration,credential_stuffing", "severity": "All"}, demoFrom, demoTo)); n != 7 {
		t.Errorf("enumeration or stuffing: %d, want 7", n)
	}
	fr := findings(map[string]any{"detector": "$detector"}, demoFrom, demoTo)
	if n := rows(fr); n != demoFinding || fr.Meta == nil || len(fr.Meta.Notices) != 1 || !strings.Contains(fr.Meta.Notices[0].Text, "$detector") {
		t.Errorf("uninterpolated variable: %d rows, meta %+v", n, fr.Meta)
	}
	if n := rows(findings(map[string]any{"status": "false_positive"}, demoFrom, demoTo)); n != 0 {
		t.Errorf("%d false positives before any triage", n)
	}
}

func TestQueryErrors(t *testing.T) {
	ds, s := demoDatasource(t)
	pctx := backend.PluginContext{DataSourceInstanceSettings: s}
	for _, c := range []struct {
		model  map[string]any
		status backend.Status
		want   string
	}{
		{map[string]any{}, backend.StatusBadRequest, "no queryType"},
		{map[string]any{"queryType": "everything"}, backend.StatusBadRequest, "unknown queryType"},
		{map[string]any{"queryType": "findings", "severity": "severe"}, backend.StatusBadRequest, "unknown severity"},
		{map[string]any{"queryType": "findings", "status": "closed"}, backend.StatusBadRequest, "want open, acknowledged or false_positive"},
		{map[string]any{"queryType": "findings", "detector": 7}, backend.StatusBadRequest, "want a string or an array"},
		{map[string]any{"queryType": "rates", "endpoint": []string{usersByID, login}}, backend.StatusBadRequest, "takes one value"},
		{map[string]any{"queryType": "finding"}, backend.StatusBadRequest, "no findingId"},
		{map[string]any{"queryType": "finding", "findingId": "$finding"}, backend.StatusBadRequest, "not interpolated"},
		{map[string]any{"queryType": "finding", "findingId": "0123"}, backend.StatusNotFound, "not found"},
		{map[string]any{"queryType": "sql", "rawSql": "DROP TABLE $__table(events)"}, backend.StatusBadRequest, "only SELECT"},
	} {
		r := queryResponse(t, ds.QueryData, pctx, c.model, demoFrom, demoTo)
		if r.Error == nil || r.Status != c.status || !strings.Contains(r.Error.Error(), c.want) {
			t.Errorf("%v: status %d, error %v; want %d and %q", c.model, r.Status, r.Error, c.status, c.want)
		}
	}
	// A failed query does not fail the others of its request.
	resp, err := ds.QueryData(context.Background(), &backend.QueryDataRequest{PluginContext: pctx, Queries: []backend.DataQuery{
		dataQuery(t, "bad", map[string]any{"queryType": "nope"}, demoFrom, demoTo),
		dataQuery(t, "good", map[string]any{"queryType": "top_actors"}, demoFrom, demoTo),
	}})
	if err != nil || resp.Responses["bad"].Error == nil || resp.Responses["good"].Error != nil || len(resp.Responses["good"].Frames) != 1 {
		t.Errorf("mixed request: %v, %+v", err, resp)
	}
}

func TestFindingDetailQuery(t *testing.T) {
	ds, s := demoDatasource(t)
	pctx := backend.PluginContext{DataSourceInstanceSettings: s}
	all := runQuery(t, ds.QueryData, pctx, map[string]any{"queryType": "findings", "detector": "enumeration"}, demoFrom, demoTo)[0]
	i := slices.Index(column[string](t, all, "kind"), "sequential_ids")
	id := column[string](t, all, "id")[i]
	frames := runQuery(t, ds.QueryData, pctx, map[string]any{"queryType": "finding", "findingId": id}, demoFrom, demoTo)
	var names []string
	for _, f := range frames {
		names = append(names, f.Name)
	}
	if !slices.Equal(names, []string{"finding", "evidence", "events", "samples"}) {
		t.Fatalf("frames %v", names)
	}
	checkShape(t, frames[0], "findings")
	checkShape(t, frames[1], "evidence")
	checkShape(t, frames[2], "events")
	checkShape(t, frames[3], "samples")
	if got := column[string](t, frames[0], "id"); !slices.Equal(got, []string{id}) {
		t.Errorf("finding frame ids %v", got)
	}
	metrics := column[string](t, frames[1], "metric")
	if len(metrics) == 0 {
		t.Error("no evidence")
	}
	observed, threshold := column[float64](t, frames[1], "observed"), column[float64](t, frames[1], "threshold")
	if observed[0] < threshold[0] {
		t.Errorf("evidence %s: observed %g below threshold %g", metrics[0], observed[0], threshold[0])
	}
	// The events: the enumerating actor's calls on the endpoint, mostly
	// denied.
	actor := column[string](t, frames[0], "actor")[0]
	evActors, statuses, methods := column[string](t, frames[2], "actor_id"), column[uint16](t, frames[2], "status"), column[string](t, frames[2], "method")
	if len(evActors) == 0 || len(evActors) > 50 {
		t.Fatalf("%d events", len(evActors))
	}
	denied := 0
	for j := range evActors {
		if evActors[j] != actor || methods[j] != "GET" {
			t.Errorf("event %d: actor %s method %s", j, evActors[j], methods[j])
		}
		if statuses[j] >= 400 {
			denied++
		}
	}
	if denied < len(statuses)/2 {
		t.Errorf("%d of %d events denied", denied, len(statuses))
	}
	if n, _ := frames[3].RowLen(); n == 0 || n > finding.MaxSamples {
		t.Errorf("%d samples", n)
	}
}

func TestInventoryQuery(t *testing.T) {
	ds, s := demoDatasource(t)
	pctx := backend.PluginContext{DataSourceInstanceSettings: s}
	fr := runQuery(t, ds.QueryData, pctx, map[string]any{"queryType": "inventory"}, demoFrom, demoTo)[0]
	checkShape(t, fr, "inventory")
	eps := column[string](t, fr, "endpoint")
	if want := count(t, ds, "SELECT uniqExact(endpoint) FROM {db}.events WHERE endpoint != ''"); uint64(len(eps)) != want || want < 10 {
		t.Fatalf("%d endpoints, want %d", len(eps), want)
	}
	i := slices.Index(eps, "GET api.example.com /api/v1/me")
	if i < 0 {
		t.Fatalf("no /api/v1/me: %v", eps)
	}
	if got := column[string](t, fr, "sensitive_classes")[i]; !strings.Contains(got, "ssn") || !column[bool](t, fr, "sensitive")[i] {
		t.Errorf("/api/v1/me sensitive classes %q", got)
	}
	if m, h, tmpl := column[string](t, fr, "method")[i], column[string](t, fr, "host")[i], column[string](t, fr, "template")[i]; m != "GET" || h != "api.example.com" || tmpl != "/api/v1/me" {
		t.Errorf("split %q %q %q", m, h, tmpl)
	}
	calls := column[uint64](t, fr, "calls")
	if got := sum(calls); got != demoEvents {
		t.Errorf("calls %d, want %d", got, demoEvents)
	}
	if j := slices.Index(eps, usersByID); j < 0 || !column[bool](t, fr, "anonymous")[j] || !column[bool](t, fr, "authenticated")[j] ||
		!strings.Contains(column[string](t, fr, "auth_kinds")[j], "jwt") {
		t.Errorf("users by id auth: %v", fr.RowCopy(j))
	}
	if slices.Contains(column[bool](t, fr, "shadow"), true) {
		t.Error("shadow endpoints without an OpenAPI spec")
	}
	if n, _ := runQuery(t, ds.QueryData, pctx, map[string]any{"queryType": "inventory", "shadowOnly": true}, demoFrom, demoTo)[0].RowLen(); n != 0 {
		t.Errorf("%d shadow endpoints", n)
	}
	one := runQuery(t, ds.QueryData, pctx, map[string]any{"queryType": "inventory", "endpoint": login}, demoFrom, demoTo)[0]
	if got := column[string](t, one, "endpoint"); !slices.Equal(got, []string{login}) {
		t.Errorf("inventory of the login endpoint: %v", got)
	}
	if n, _ := runQuery(t, ds.QueryData, pctx, map[string]any{"queryType": "inventory"}, demoTo.Add(time.Hour), demoTo.Add(2*time.Hour))[0].RowLen(); n != 0 {
		t.Errorf("%d endpoints after the capture", n)
	}
}

func TestTopActorsQuery(t *testing.T) {
	ds, s := demoDatasource(t)
	pctx := backend.PluginContext{DataSourceInstanceSettings: s}
	fr := runQuery(t, ds.QueryData, pctx, map[string]any{"queryType": "top_actors", "endpoint": usersByID, "limit": 100000}, demoFrom, demoTo)[0]
	checkShape(t, fr, "top_actors")
	reqs := column[uint64](t, fr, "requests")
	if want := count(t, ds, "SELECT count() FROM {db}.events WHERE endpoint = ?", usersByID); sum(reqs) != want {
		t.Errorf("requests %d, want %d", sum(reqs), want)
	}
	if !slices.IsSortedFunc(reqs, func(a, b uint64) int { return int(b) - int(a) }) {
		t.Errorf("not most requests first: %v", reqs[:min(5, len(reqs))])
	}
	// The enumerating actor is among the top three.
	enum := runQuery(t, ds.QueryData, pctx, map[string]any{"queryType": "findings", "endpoint": usersByID, "detector": "enumeration"}, demoFrom, demoTo)[0]
	top := runQuery(t, ds.QueryData, pctx, map[string]any{"queryType": "top_actors", "endpoint": usersByID, "limit": 3}, demoFrom, demoTo)[0]
	if actors := column[string](t, top, "actor"); len(actors) != 3 || !slices.Contains(actors, column[string](t, enum, "actor")[0]) {
		t.Errorf("top 3 %v lack the enumerating actor", actors)
	}
	if n, _ := runQuery(t, ds.QueryData, pctx, map[string]any{"queryType": "top_actors"}, demoFrom, demoTo)[0].RowLen(); n != 10 {
		t.Errorf("default limit: %d actors", n)
	}
}

func TestRatesQuery(t *testing.T) {
	ds, s := demoDatasource(t)
	pctx := backend.PluginContext{DataSourceInstanceSettings: s}
	frames := runQuery(t, ds.QueryData, pctx, map[string]any{"queryType": "rates", "endpoint": usersByID}, demoFrom, demoTo)
	fr := frames[0]
	checkShape(t, fr, "rates")
	if fr.Meta == nil || fr.Meta.Type != data.FrameTypeTimeSeriesWide {
		t.Errorf("meta %+v", fr.Meta)
	}
	if got, want := sum(column[uint64](t, fr, "requests")), count(t, ds, "SELECT count() FROM {db}.events WHERE endpoint = ?", usersByID); got != want {
		t.Errorf("requests %d, want %d", got, want)
	}
	if got, want := sum(column[uint64](t, fr, "errors")), count(t, ds, "SELECT count() FROM {db}.events WHERE endpoint = ? AND status >= 400", usersByID); got != want {
		t.Errorf("errors %d, want %d", got, want)
	}
	minutes := column[time.Time](t, fr, "time")
	if len(minutes) != 8 || !minutes[0].Equal(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("minutes %v", minutes)
	}
	// One actor; and the range honoured.
	enum := runQuery(t, ds.QueryData, pctx, map[string]any{"queryType": "findings", "detector": "enumeration", "endpoint": usersByID}, demoFrom, demoTo)[0]
	actor := column[string](t, enum, "actor")[0]
	one := runQuery(t, ds.QueryData, pctx, map[string]any{"queryType": "rates", "endpoint": usersByID, "actor": actor}, demoFrom, demoTo)[0]
	if got, want := sum(column[uint64](t, one, "requests")), count(t, ds, "SELECT count() FROM {db}.events WHERE endpoint = ? AND actor_id = ?", usersByID, actor); got != want || got == 0 {
		t.Errorf("actor requests %d, want %d", got, want)
	}
	part := runQuery(t, ds.QueryData, pctx, map[string]any{"queryType": "rates"}, time.Date(2026, 3, 2, 9, 2, 0, 0, time.UTC), time.Date(2026, 3, 2, 9, 4, 0, 0, time.UTC))[0]
	if got, want := sum(column[uint64](t, part, "requests")), count(t, ds, "SELECT count() FROM {db}.events WHERE time >= toDateTime('2026-03-02 09:02:00', 'UTC') AND time < toDateTime('2026-03-02 09:04:00', 'UTC')"); got != want || len(column[time.Time](t, part, "time")) != 2 {
		t.Errorf("09:02-09:04 requests %d, want %d", got, want)
	}
}

func TestLoginOutcomesQuery(t *testing.T) {
	ds, s := demoDatasource(t)
	pctx := backend.PluginContext{DataSourceInstanceSettings: s}
	fr := runQuery(t, ds.QueryData, pctx, map[string]any{"queryType": "login_outcomes", "endpoint": login}, demoFrom, demoTo)[0]
	checkShape(t, fr, "login_outcomes")
	attempts := column[uint64](t, fr, "attempts")
	if len(attempts) == 0 {
		t.Fatal("no login outcomes")
	}
	if got, want := sum(attempts), count(t, ds, "SELECT count() FROM {db}.events WHERE endpoint = ? AND login_outcome != ''", login); got != want {
		t.Errorf("attempts %d, want %d", got, want)
	}
	if got, want := sum(column[uint64](t, fr, "failures")), count(t, ds, "SELECT count() FROM {db}.events WHERE login_outcome = 'failure'"); got != want || got == 0 {
		t.Errorf("failures %d, want %d", got, want)
	}
	ratios := column[float64](t, fr, "failure_ratio")
	if slices.Max(ratios) < 0.5 || slices.Min(ratios) < 0 || slices.Max(ratios) > 1 {
		t.Errorf("failure ratios %v", ratios)
	}
	if all := runQuery(t, ds.QueryData, pctx, map[string]any{"queryType": "login_outcomes"}, demoFrom, demoTo)[0]; sum(column[uint64](t, all, "attempts")) != sum(attempts) {
		t.Error("every login endpoint differs from the only one")
	}
}

func TestAnnotationsQuery(t *testing.T) {
	ds, s := demoDatasource(t)
	pctx := backend.PluginContext{DataSourceInstanceSettings: s}
	fr := runQuery(t, ds.QueryData, pctx, map[string]any{"queryType": "annotations"}, demoFrom, demoTo)[0]
	checkShape(t, fr, "annotations")
	titles, tags := column[string](t, fr, "title"), column[string](t, fr, "tags")
	if len(titles) != demoFinding {
		t.Fatalf("%d annotations", len(titles))
	}
	i := slices.Index(tags, "enumeration,sequential_ids,critical,open")
	if i < 0 {
		t.Fatalf("tags %v", tags)
	}
	if titles[i] != "critical enumeration (sequential_ids)" || !strings.Contains(column[string](t, fr, "text")[i], usersByID) {
		t.Errorf("annotation %v", fr.RowCopy(i))
	}
	if start, end := column[time.Time](t, fr, "time")[i], column[time.Time](t, fr, "timeEnd")[i]; !end.After(start) {
		t.Errorf("region %v..%v", start, end)
	}
	crit := runQuery(t, ds.QueryData, pctx, map[string]any{"queryType": "annotations", "severity": "critical"}, demoFrom, demoTo)[0]
	if n, _ := crit.RowLen(); n != 2 {
		t.Errorf("%d critical annotations", n)
	}
}

func TestSQLQuery(t *testing.T) {
	ds, s := demoDatasource(t)
	pctx := backend.PluginContext{DataSourceInstanceSettings: s}
	sql := func(raw, format string, from, to time.Time) backend.DataResponse {
		t.Helper()
		return queryResponse(t, ds.QueryData, pctx, map[string]any{"queryType": "sql", "rawSql": raw, "format": format}, from, to)
	}
	// A table, with the macros expanded.
	r := sql(`-- requests per endpoint
		SELECT endpoint, count() AS n, max(time) AS last, any(sensitive_classes) AS classes, toNullable(1.5) AS x
		FROM $__table(events) WHERE $__timeFilter(time) GROUP BY endpoint ORDER BY n DESC, endpoint;`, "", demoFrom, demoTo)
	if r.Error != nil {
		t.Fatal(r.Error)
	}
	fr := r.Frames[0]
	var types []string
	for _, f := range fr.Fields {
		types = append(types, f.Name+":"+f.Type().ItemTypeString())
	}
	if got := strings.Join(types, " "); got != "endpoint:string n:uint64 last:time.Time classes:json.RawMessage x:*float64" {
		t.Errorf("fields %s", got)
	}
	if got := sum(column[uint64](t, fr, "n")); got != demoEvents {
		t.Errorf("events %d, want %d", got, demoEvents)
	}
	if fr.Meta == nil || !strings.Contains(fr.Meta.ExecutedQueryString, "`"+demo.db+"`.events") ||
		!strings.Contains(fr.Meta.ExecutedQueryString, "time >= toDateTime(1772438400) AND time < toDateTime(1772445600)") {
		t.Errorf("executed %+v", fr.Meta)
	}
	// The range honoured.
	r = sql("SELECT count() AS n FROM $__table(events) WHERE $__timeFilter(time) AND time < $__toTime AND time >= $__fromTime",
		"", time.Date(2026, 3, 2, 9, 1, 0, 0, time.UTC), time.Date(2026, 3, 2, 9, 2, 0, 0, time.UTC))
	if r.Error != nil {
		t.Fatal(r.Error)
	}
	if got, want := column[uint64](t, r.Frames[0], "n")[0], count(t, ds, "SELECT count() FROM {db}.events WHERE toStartOfMinute(time) = toDateTime('2026-03-02 09:01:00', 'UTC')"); got != want || got == 0 {
		t.Errorf("one minute: %d, want %d", got, want)
	}
	// A wide time series, at the panel's interval.
	r = sql("SELECT $__timeInterval(time) AS t, count() AS requests FROM $__table(events) WHERE $__timeFilter(time) GROUP BY t ORDER BY t", "time_series", demoFrom, demoTo)
	if r.Error != nil {
		t.Fatal(r.Error)
	}
	if fr := r.Frames[0]; fr.Meta.Type != data.FrameTypeTimeSeriesWide || len(column[time.Time](t, fr, "t")) != 8 || sum(column[uint64](t, fr, "requests")) != demoEvents {
		t.Errorf("time series %+v", fr)
	}
	// A long one, widened: one field per login outcome.
	r = sql("SELECT toStartOfMinute(time) AS t, login_outcome AS outcome, count() AS n FROM $__table(events) WHERE $__timeFilter(time) AND login_outcome != '' GROUP BY t, outcome ORDER BY t",
		"time_series", demoFrom, demoTo)
	if r.Error != nil {
		t.Fatal(r.Error)
	}
	if fr := r.Frames[0]; len(fr.Fields) < 3 || fr.Fields[1].Labels["outcome"] == "" {
		t.Errorf("widened: %v", fr.Fields)
	}

	// A result beyond MaxSQLRows is cut, with a notice; the next query
	// still runs.
	r = sql("SELECT a.time AS t FROM $__table(events) AS a CROSS JOIN (SELECT 1 FROM $__table(events) LIMIT 20) AS b", "", demoFrom, demoTo)
	if r.Error != nil {
		t.Fatal(r.Error)
	}
	if n, _ := r.Frames[0].RowLen(); n != plugin.MaxSQLRows || r.Frames[0].Meta == nil || len(r.Frames[0].Meta.Notices) != 1 {
		t.Errorf("cut result: %d rows, meta %+v", n, r.Frames[0].Meta)
	}
	if r = sql("SELECT count() AS n FROM $__table(events)", "", demoFrom, demoTo); r.Error != nil || column[uint64](t, r.Frames[0], "n")[0] != demoEvents {
		t.Errorf("after a cut result: %v", r.Error)
	}

	// Refused: anything but one SELECT; the server refuses table
	// functions (readonly) whatever the text.
	for _, c := range []struct{ raw, want string }{
		{"INSERT INTO $__table(triage) SELECT * FROM $__table(triage)", "only SELECT"},
		{"  /* c */ ALTER TABLE $__table(events) DELETE WHERE 1", "only SELECT"},
		{"SELECT 1; DROP TABLE $__table(events)", "one statement"},
		{"SELECT 'x;y' AS a; ", ""},
		{"SELECT * FROM url('http://127.0.0.1:1/', CSV, 'a String')", "readonly"},
		{"SELECT * FROM $__table(no-such)", "letters, digits"},
		{"SELECT $__unknown", "unknown macro"},
		{"SELECT 1 WHERE $__timeFilter()", "needs an argument"},
		{"", "no query"},
	} {
		r := sql(c.raw, "", demoFrom, demoTo)
		switch {
		case c.want == "" && r.Error != nil:
			t.Errorf("%q: %v", c.raw, r.Error)
		case c.want != "" && (r.Error == nil || !strings.Contains(r.Error.Error(), c.want)):
			t.Errorf("%q: %v, want %q", c.raw, r.Error, c.want)
		}
	}
	if r := sql("SELECT 1 AS n", "time_series", demoFrom, demoTo); r.Error == nil || !strings.Contains(r.Error.Error(), "time column") {
		t.Errorf("time series without time: %v", r.Error)
	}
	if r := sql("SELECT 1 AS n", "graph", demoFrom, demoTo); r.Error == nil || !strings.Contains(r.Error.Error(), "want table or time_series") {
		t.Errorf("unknown format: %v", r.Error)
	}
	// The events table is still there.
	if n := count(t, ds, "SELECT count() FROM {db}.events"); n != demoEvents {
		t.Errorf("%d events after the refused statements", n)
	}
}

func TestExpandMacros(t *testing.T) {
	tr := backend.TimeRange{From: time.Unix(1000, 500), To: time.Unix(2000, 1)}
	f := func(in, want string) {
		t.Helper()
		got, err := plugin.ExpandMacros(in, "db", tr, 90*time.Second)
		if err != nil || got != want {
			t.Errorf("%q: %q (%v), want %q", in, got, err, want)
		}
	}
	f("SELECT 1", "SELECT 1")
	f("$__timeFilter(time)", "(time >= toDateTime(1000) AND time < toDateTime(2001))")
	f("$__fromTime,$__toTime", "toDateTime(1000),toDateTime(2001)")
	f("$__interval_s", "90")
	f("$__timeInterval( time )", "toDateTime(intDiv(toUInt32(time), 90) * 90)")
	f("$__table(events) JOIN $__table(findings)", "`db`.events JOIN `db`.findings")
	f("$__database.events", "`db`.events")
	f("f($__fromTime)", "f(toDateTime(1000))")
	got, _ := plugin.ExpandMacros("$__interval_s", "db", tr, 0)
	if got != "1" {
		t.Errorf("zero interval: %q", got)
	}
}

func TestReadOnly(t *testing.T) {
	for sql, ok := range map[string]bool{
		"SELECT 1":                             true,
		"select 1;":                            true,
		"WITH 1 AS x SELECT x":                 true,
		"-- hi\n/* there */ SELECT 1 -- end":   true,
		"# comment\nSELECT ';DROP' AS x":       true,
		"SELECT `a;b` FROM t":                  true,
		"INSERT INTO t VALUES (1)":             false,
		"DROP TABLE t":                         false,
		"SELECT 1; SELECT 2":                   false,
		"SELECT 1; -- nothing after":           true,
		"SELECT 'open":                         false,
		"/* SELECT */ OPTIMIZE TABLE t FINAL":  false,
		"(SELECT 1)":                           true,
		"SET readonly = 0":                     false,
		"SELECT 1 /* never closed":             false,
		"SYSTEM SHUTDOWN":                      false,
		"SELECT 1 INTO OUTFILE 'x' FORMAT CSV": true, // the server refuses it: readonly
	} {
		if err := plugin.ReadOnly(sql); (err == nil) != ok {
			t.Errorf("%q: %v, want ok=%v", sql, err, ok)
		}
	}
}

func TestList(t *testing.T) {
	f := func(in string, values, ignored []string) {
		t.Helper()
		var l plugin.List
		if err := json.Unmarshal([]byte(in), &l); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if !slices.Equal(l.Values, values) || !slices.Equal(l.Ignored, ignored) {
			t.Errorf("%s: %q %q, want %q %q", in, l.Values, l.Ignored, values, ignored)
		}
	}
	f(`"enumeration"`, []string{"enumeration"}, nil)
	f(`" a , b ,"`, []string{"a", "b"}, nil)
	f(`["GET h /a,b", "c"]`, []string{"GET h /a,b", "c"}, nil)
	f(`""`, nil, nil)
	f(`null`, nil, nil)
	f(`"All"`, nil, nil)
	f(`["a", "$__all"]`, nil, nil)
	f(`"$endpoint"`, nil, []string{"$endpoint"})
	f(`"${endpoint:csv}"`, nil, []string{"${endpoint:csv}"})
	f(`["[[actor]]", "x"]`, []string{"x"}, []string{"[[actor]]"})
}
