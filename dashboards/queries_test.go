package dashboards

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/apiwatch/apiwatch/dashboards/plugin"
	"github.com/apiwatch/apiwatch/dashboards/plugin/plugintest"
	"github.com/apiwatch/apiwatch/internal/chtest"
)

// The demo capture (testdata/attacks-demo.pcap.gz) covers 2026-03-02
// 09:00 to 09:08 UTC; the boards are queried for 08:00 to 10:00.
var (
	demoFrom = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	demoTo   = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
)

const demoLogin = "POST auth.example.com /auth/login"

// demo is the plugin executable and the database holding apiwatch
// analyze's output for the demo capture, made on first use.
var demo struct {
	once      sync.Once
	dir       string
	plugin    string
	dsn, db   string
	drop      func()
	err       error
	setupTime time.Duration
}

func TestMain(m *testing.M) {
	code := m.Run()
	if demo.drop != nil {
		demo.drop()
	}
	if demo.dir != "" {
		os.RemoveAll(demo.dir)
	}
	os.Exit(code)
}

// requireDemo builds the plugin and apiwatch and loads the demo capture
// into a fresh database, once; it skips without a ClickHouse server (fails
// in CI).
func requireDemo(t *testing.T) {
	t.Helper()
	base := chtest.Require(t)
	demo.once.Do(func() {
		start := time.Now()
		defer func() { demo.setupTime = time.Since(start) }()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if demo.dir, demo.err = os.MkdirTemp("", "apiwatch-boards-test-"); demo.err != nil {
			return
		}
		var apiwatch string
		if demo.plugin, apiwatch, demo.err = plugintest.Build(ctx, demo.dir); demo.err != nil {
			return
		}
		demo.dsn, demo.db, demo.drop = chtest.NewDatabase(base, "apiwatch_test_boards_")
		demo.err = plugintest.LoadCapture(ctx, apiwatch, demo.dsn, filepath.Join("..", "testdata", "attacks-demo.pcap.gz"))
	})
	if demo.err != nil {
		t.Fatal(demo.err)
	}
}

// provisionedSettings are the settings Grafana sends for the data source
// of provisioning/datasources/apiwatch.yaml, its variables expanded from
// env.
func provisionedSettings(t testing.TB, env map[string]string) *backend.DataSourceInstanceSettings {
	t.Helper()
	var f datasourcesFile
	readYAML(t, filepath.Join(provisioningDir, "datasources", "apiwatch.yaml"), env, &f)
	if f.APIVersion != 1 || len(f.Datasources) != 1 {
		t.Fatalf("datasources/apiwatch.yaml: want apiVersion 1 and one data source: %+v", f)
	}
	ds := f.Datasources[0]
	if ds.Type != plugin.ID || ds.UID != apiwatchUID {
		t.Fatalf("datasources/apiwatch.yaml: type %s uid %s, want %s and %s", ds.Type, ds.UID, plugin.ID, apiwatchUID)
	}
	if _, ok := ds.JSONData["password"]; ok {
		t.Fatal("datasources/apiwatch.yaml: the password belongs in secureJsonData")
	}
	jd, err := json.Marshal(ds.JSONData)
	if err != nil {
		t.Fatal(err)
	}
	return &backend.DataSourceInstanceSettings{ID: 1, UID: ds.UID, Name: ds.Name, Type: ds.Type, JSONData: jd,
		DecryptedSecureJSONData: ds.SecureJSONData, Updated: time.Now().Truncate(time.Millisecond)}
}

// variable is a template variable: its options (custom variables) and
// current value, which tests may change as a user would.
type variable struct {
	Name, Type string
	Multi      bool
	IncludeAll bool
	AllValue   string
	Options    []string
	Current    []string
	Datasource map[string]any
	Query      any
}

// grafanaVar matches Grafana's variable syntaxes: $name, [[name:fmt]],
// ${name.field:fmt}.
var grafanaVar = regexp.MustCompile(`\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}`)

// variableRefs returns the names of the variables a query model uses
// (Grafana's and the plugin's $__ names left out).
func variableRefs(model map[string]any) []string {
	b, _ := json.Marshal(model)
	var out []string
	for _, m := range grafanaVar.FindAllStringSubmatch(string(b), -1) {
		name := m[1] + m[2] + m[4]
		if !strings.HasPrefix(name, "__") && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// interpolate replaces the variables of text with their values in format
// (csv, sqlstring, or "" for Grafana's default), as Grafana's
// templateSrv.replace does; unknown names stay.
func interpolate(text string, vars map[string]*variable, format string) string {
	return grafanaVar.ReplaceAllStringFunc(text, func(m string) string {
		sub := grafanaVar.FindStringSubmatch(m)
		name, f := sub[1]+sub[2]+sub[4], sub[3]+sub[6]
		v := vars[name]
		if v == nil {
			return m
		}
		if f == "" {
			f = format
		}
		values := v.Current
		if slices.Contains(values, "$__all") {
			if v.AllValue != "" {
				return v.AllValue // a custom all value is not formatted
			}
			values = v.Options
		}
		switch f {
		case "csv":
			return strings.Join(values, ",")
		case "sqlstring":
			q := make([]string, len(values))
			for i, s := range values {
				q[i] = "'" + strings.ReplaceAll(s, "'", "''") + "'"
			}
			return strings.Join(q, ",")
		case "":
			if len(values) > 1 {
				return "{" + strings.Join(values, ",") + "}"
			}
			return strings.Join(values, "")
		}
		panic("unknown variable format " + f)
	})
}

// listFields are the query fields module.js interpolates with the csv
// format (filters); findingId gets the default format and rawSql
// sqlstring (module.js applyTemplateVariables).
var listFields = []string{"detector", "severity", "endpoint", "actor", "status"}

// interpolateQuery returns the query as module.js sends it to the backend.
func interpolateQuery(model map[string]any, vars map[string]*variable) map[string]any {
	out := map[string]any{}
	for k, v := range model {
		out[k] = v
	}
	for _, k := range listFields {
		switch v := out[k].(type) {
		case string:
			out[k] = interpolate(v, vars, "csv")
		case []any:
			var vals []any
			for _, x := range v {
				for _, s := range strings.Split(interpolate(fmt.Sprint(x), vars, "csv"), ",") {
					vals = append(vals, s)
				}
			}
			out[k] = vals
		}
	}
	if v, ok := out["findingId"].(string); ok {
		out["findingId"] = interpolate(v, vars, "")
	}
	if v, ok := out["rawSql"].(string); ok {
		out["rawSql"] = interpolate(v, vars, "sqlstring")
	}
	return out
}

// dataQuery is a query as Grafana sends it to the backend: the model with
// the interval and data points Grafana adds, the time range.
func dataQuery(t testing.TB, model map[string]any, from, to time.Time, interval time.Duration) backend.DataQuery {
	t.Helper()
	if interval <= 0 {
		interval = max(to.Sub(from)/1000, time.Second).Truncate(time.Second)
	}
	m := map[string]any{"intervalMs": interval.Milliseconds(), "maxDataPoints": 1000}
	for k, v := range model {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	qt, _ := model["queryType"].(string)
	ref, _ := model["refId"].(string)
	return backend.DataQuery{RefID: ref, QueryType: qt, JSON: b, TimeRange: backend.TimeRange{From: from, To: to}, Interval: interval, MaxDataPoints: 1000}
}

// scenario is a set of variable values a board is queried with (beyond
// the board's defaults), and the panels allowed to be empty for the demo
// data then, with the reason.
type scenario struct {
	name       string
	vars       map[string][]string
	mayBeEmpty map[string]string
}

// TestBoardQueries runs every apiwatch query of every board through the
// plugin, started as Grafana starts it (out of process, Grafana's
// handshake, gRPC) with the provisioned data source's settings, against
// apiwatch analyze's output for the demo capture. Variables are
// interpolated as Grafana and the plugin's module.js do, with the boards'
// defaults and with realistic values (real finding ids, the demo's login
// endpoint); each panel's queries go in one request, as Grafana sends
// them. Each panel must get the frames it draws: a time field and numbers
// for a time series, the columns a table organizes, links to and formats
// for, the fields a stat reduces, a category and numbers for a bar chart
// — and rows, for the demo data, unless the panel says why not.
func TestBoardQueries(t *testing.T) {
	requireDemo(t)
	t.Logf("build and analyze: %v", demo.setupTime.Round(time.Millisecond))
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
	u, err := url.Parse(demo.dsn)
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := u.User.Password()
	settings := provisionedSettings(t, map[string]string{"APIWATCH_CLICKHOUSE_HOST": u.Hostname(), "APIWATCH_CLICKHOUSE_PORT": u.Port(),
		"APIWATCH_CLICKHOUSE_DATABASE": demo.db, "APIWATCH_CLICKHOUSE_USER": u.User.Username(), "APIWATCH_CLICKHOUSE_PASSWORD": pw})
	pctx := plugintest.PluginContext(settings, &backend.User{Login: "analyst", Role: "Viewer"})
	run := func(t *testing.T, models []map[string]any, interval time.Duration) *backend.QueryDataResponse {
		t.Helper()
		req := &backend.QueryDataRequest{PluginContext: pctx}
		for _, m := range models {
			req.Queries = append(req.Queries, dataQuery(t, m, demoFrom, demoTo, interval))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		resp, err := c.QueryData(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	// Real findings to investigate: an actor's (sequential ids), and a
	// brute force on a username (no actor: its client addresses), whose
	// takeover is a related finding.
	resp := run(t, []map[string]any{{"refId": "A", "queryType": "findings"}}, 0)
	if r := resp.Responses["A"]; r.Error != nil || len(r.Frames) != 1 {
		t.Fatalf("findings: %v", r.Error)
	}
	fr := resp.Responses["A"].Frames[0]
	row := func(match func(i int) bool) map[string]string {
		for i := 0; i < fr.Rows(); i++ {
			if match(i) {
				out := map[string]string{}
				for _, f := range fr.Fields {
					out[f.Name] = fmt.Sprint(f.At(i))
				}
				return out
			}
		}
		t.Fatal("no such finding in the demo")
		return nil
	}
	value := func(name string, i int) string {
		f, _ := fr.FieldByName(name)
		return fmt.Sprint(f.At(i))
	}
	enumeration := row(func(i int) bool { return value("kind", i) == "sequential_ids" })
	takeover := row(func(i int) bool { return value("kind", i) == "takeover" })
	bruteForce := row(func(i int) bool {
		return value("kind", i) == "brute_force" && value("subject", i) == takeover["subject"] && value("actor", i) == ""
	})

	scenarios := map[string][]scenario{
		"apiwatch-soc": {
			{name: "defaults"},
			{name: "high enumeration, any status", vars: map[string][]string{"detector": {"enumeration"}, "severity": {"high"}, "status": {"$__all"}}},
		},
		"apiwatch-investigation": {
			{name: "enumeration by an actor", vars: map[string][]string{"finding": {enumeration["id"]}},
				mayBeEmpty: map[string]string{"Related findings": "no other demo finding shares the enumerating actor, subject or address"}},
			{name: "brute force on a username", vars: map[string][]string{"finding": {bruteForce["id"]}}},
		},
		"apiwatch-inventory": {
			{name: "defaults", mayBeEmpty: map[string]string{"Shadow APIs": "the demo is analysed without OpenAPI specs (--openapi), so no endpoint is a shadow"}},
		},
		"apiwatch-credential-stuffing": {
			{name: "every login endpoint"},
			{name: "the demo's login endpoint", vars: map[string][]string{"endpoint": {demoLogin}}},
		},
	}

	for _, b := range loadBoards(t) {
		t.Run(b.uid(), func(t *testing.T) {
			scs, ok := scenarios[b.uid()]
			if !ok {
				for _, p := range b.panels() {
					if str(obj(p, "datasource"), "uid") == apiwatchUID {
						t.Fatalf("board %s queries apiwatch: give it a scenario here", b.uid())
					}
				}
				t.Skipf("board %s has no apiwatch query (its Prometheus queries are checked by TestBoards)", b.uid())
			}
			for _, sc := range scs {
				t.Run(sc.name, func(t *testing.T) {
					vars := b.variables()
					for k, v := range sc.vars {
						if vars[k] == nil {
							t.Fatalf("no variable %s", k)
						}
						vars[k].Current = v
					}
					for _, a := range arr(obj(b.m, "annotations"), "list") {
						am, _ := a.(map[string]any)
						if str(obj(am, "datasource"), "uid") != apiwatchUID {
							continue
						}
						q := interpolateQuery(obj(am, "target"), vars)
						r := run(t, []map[string]any{q}, 0).Responses[str(q, "refId")]
						if r.Error != nil {
							t.Fatalf("annotation %s: %v", str(am, "name"), r.Error)
						}
						checkAnnotations(t, str(am, "name"), r.Frames)
					}
					for _, p := range b.panels() {
						if str(obj(p, "datasource"), "uid") != apiwatchUID {
							continue
						}
						var models []map[string]any
						for _, tg := range arr(p, "targets") {
							models = append(models, interpolateQuery(tg.(map[string]any), vars))
						}
						interval := time.Duration(0)
						if s := str(p, "interval"); s != "" {
							if interval, err = time.ParseDuration(s); err != nil {
								t.Fatalf("%s: interval %q: %v", panelName(b, p), s, err)
							}
						}
						resp := run(t, models, interval)
						var frames data.Frames
						for _, m := range models {
							r, ok := resp.Responses[str(m, "refId")]
							if !ok || r.Error != nil {
								t.Errorf("%s query %s: %v (%v)", panelName(b, p), str(m, "refId"), r.Error, m)
								continue
							}
							frames = append(frames, r.Frames...)
						}
						if t.Failed() {
							continue
						}
						t.Logf("%s: %s", panelName(b, p), describe(frames))
						checkPanelFrames(t, panelName(b, p), p, frames, sc.mayBeEmpty[str(p, "title")])
					}
				})
			}
		})
	}
}

// checkAnnotations checks frames Grafana turns into annotations.
func checkAnnotations(t *testing.T, name string, frames data.Frames) {
	t.Helper()
	if len(frames) != 1 {
		t.Fatalf("annotation %s: %d frames", name, len(frames))
	}
	fr := frames[0]
	for _, f := range []string{"time", "timeEnd", "title", "text", "tags"} {
		if _, i := fr.FieldByName(f); i < 0 {
			t.Errorf("annotation %s: no field %s", name, f)
		}
	}
	if fr.Rows() == 0 {
		t.Errorf("annotation %s: no findings", name)
	}
}

// panelFields are the names a panel's configuration refers to, by where.
type panelFields struct {
	organize   []string // organize: excluded, ordered, renamed
	excluded   []string
	include    []string // filterFieldsByName
	overrides  []string // byName overrides
	dataFields []string // ${__data.fields.X} in links
	labels     []string // ${__field.labels.X} in the display name
	matrix     []string // groupingToMatrix: row, column, value
}

var (
	dataFieldRef  = regexp.MustCompile(`\$\{__data\.fields\.(\w+)\}`)
	fieldLabelRef = regexp.MustCompile(`\$\{__field\.labels\.(\w+)\}`)
)

func fieldsOf(p map[string]any) panelFields {
	var pf panelFields
	for _, tr := range arr(p, "transformations") {
		tm, _ := tr.(map[string]any)
		o := obj(tm, "options")
		switch str(tm, "id") {
		case "organize":
			for _, k := range []string{"excludeByName", "indexByName", "renameByName"} {
				for name, v := range obj(o, k) {
					pf.organize = append(pf.organize, name)
					if k == "excludeByName" && v == true {
						pf.excluded = append(pf.excluded, name)
					}
				}
			}
		case "filterFieldsByName":
			pf.include = append(pf.include, stringsOf(arr(obj(o, "include"), "names"))...)
		case "groupingToMatrix":
			pf.matrix = []string{str(o, "rowField"), str(o, "columnField"), str(o, "valueField")}
		}
	}
	fc := obj(p, "fieldConfig")
	for _, ov := range arr(fc, "overrides") {
		om, _ := ov.(map[string]any)
		if m := obj(om, "matcher"); str(m, "id") == "byName" {
			pf.overrides = append(pf.overrides, str(m, "options"))
		}
	}
	b, _ := json.Marshal(fc)
	for _, m := range dataFieldRef.FindAllStringSubmatch(string(b), -1) {
		pf.dataFields = append(pf.dataFields, m[1])
	}
	for _, m := range fieldLabelRef.FindAllStringSubmatch(str(obj(fc, "defaults"), "displayName"), -1) {
		pf.labels = append(pf.labels, m[1])
	}
	return pf
}

// checkPanelFrames checks that frames (the answers to a panel's queries)
// have the shape the panel draws.
func checkPanelFrames(t *testing.T, name string, p map[string]any, frames data.Frames, emptyReason string) {
	t.Helper()
	for _, fr := range frames {
		if fr.Meta != nil {
			for _, n := range fr.Meta.Notices {
				if n.Severity <= data.NoticeSeverityWarning {
					t.Errorf("%s: frame %s: notice %q", name, fr.Name, n.Text)
				}
			}
		}
	}
	opts := obj(p, "options")
	pf := fieldsOf(p)
	used := frames
	if str(p, "type") == "table" {
		i, _ := num(opts, "frameIndex")
		if i >= len(frames) {
			t.Errorf("%s: frameIndex %d, got %d frames", name, i, len(frames))
			return
		}
		used = frames[i : i+1]
	}
	has := func(field string) bool {
		for _, fr := range used {
			if _, i := fr.FieldByName(field); i >= 0 {
				return true
			}
		}
		return false
	}
	for _, f := range slices.Concat(pf.organize, pf.include, pf.dataFields, pf.matrix) {
		// filterFieldsByName lists the time fields of every query.
		if !has(f) && !(slices.Contains(pf.include, f) && isTimeName(f, frames)) {
			t.Errorf("%s: field %s (in its transformations or links) is not in the frames: %s", name, f, describe(used))
		}
	}
	for _, f := range pf.dataFields {
		if slices.Contains(pf.excluded, f) {
			t.Errorf("%s: a link reads field %s, which the organize transformation removes (hide it instead)", name, f)
		}
	}
	if len(pf.labels) == 0 {
		for _, f := range pf.overrides {
			if !has(f) {
				t.Errorf("%s: override for field %s, which the frames lack: %s", name, f, describe(used))
			}
		}
	}

	rows := 0
	for _, fr := range used {
		rows += fr.Rows()
	}
	switch {
	case rows == 0 && emptyReason == "":
		t.Errorf("%s: no rows for the demo data: %s", name, describe(used))
	case rows > 0 && emptyReason != "":
		t.Errorf("%s: said to be empty (%s), got %d rows", name, emptyReason, rows)
	}

	switch typ := str(p, "type"); typ {
	case "timeseries":
		for _, fr := range used {
			var times, numbers, strs int
			for _, f := range fr.Fields {
				if len(pf.include) > 0 && !slices.Contains(pf.include, f.Name) {
					continue
				}
				switch {
				case f.Type() == data.FieldTypeString || f.Type() == data.FieldTypeNullableString:
					strs++
				case f.Type().Time():
					times++
				case f.Type().Numeric():
					numbers++
					for _, l := range pf.labels {
						if _, ok := f.Labels[l]; !ok {
							t.Errorf("%s: field %s has no label %s for its display name: %v", name, f.Name, l, f.Labels)
						}
					}
				}
			}
			if times != 1 || numbers == 0 || strs > 0 {
				t.Errorf("%s: a time series wants one time field and numbers (a wide frame, no strings): %s", name, describe(data.Frames{fr}))
			}
		}
	case "stat", "piechart":
		ro := obj(opts, "reduceOptions")
		re := regexp.MustCompile(".")
		if s := str(ro, "fields"); s != "" {
			re = regexp.MustCompile(strings.Trim(s, "/"))
		}
		counting := slices.Equal(stringsOf(arr(ro, "calcs")), []string{"count"})
		matched := 0
		for _, fr := range used {
			for _, f := range fr.Fields {
				if !re.MatchString(f.Name) {
					continue
				}
				if str(ro, "fields") == "" && !f.Type().Numeric() {
					continue // Grafana's default: the numbers
				}
				matched++
				if typ == "piechart" && !f.Type().Numeric() || counting && f.Type().Time() {
					t.Errorf("%s: field %s (%s) cannot be reduced by %v", name, f.Name, f.Type(), arr(ro, "calcs"))
				}
			}
		}
		if matched == 0 || str(ro, "fields") != "" && matched != 1 {
			t.Errorf("%s: reduceOptions.fields %q matches %d fields: %s", name, str(ro, "fields"), matched, describe(used))
		}
		if typ == "piechart" && (!boolean(ro, "values") || len(used) != 1 || len(used[0].TypeIndices(data.FieldTypeString)) != 1) {
			t.Errorf("%s: a pie chart of rows wants values: true and one string field naming the slices: %s", name, describe(used))
		}
	case "barchart":
		if len(used) != 1 {
			t.Fatalf("%s: a bar chart of %d frames", name, len(used))
		}
		fr := used[0]
		isString := func(n string) bool {
			f, _ := fr.FieldByName(n)
			return f != nil && (f.Type() == data.FieldTypeString || f.Type() == data.FieldTypeNullableString)
		}
		isNumber := func(n string) bool {
			f, _ := fr.FieldByName(n)
			return f != nil && f.Type().Numeric()
		}
		if pf.matrix != nil {
			if !isString(pf.matrix[0]) || !isString(pf.matrix[1]) || !isNumber(pf.matrix[2]) {
				t.Errorf("%s: groupingToMatrix wants string row and column fields and a numeric value: %s", name, describe(used))
			}
		} else {
			numbers := 0
			for _, f := range fr.Fields {
				if f.Type().Numeric() {
					numbers++
				}
			}
			if !isString(str(opts, "xField")) || numbers == 0 {
				t.Errorf("%s: a bar chart wants its xField %q as strings and numbers: %s", name, str(opts, "xField"), describe(used))
			}
		}
	case "table":
		if len(used[0].Fields) == 0 {
			t.Errorf("%s: a table without columns", name)
		}
	}
}

// isTimeName reports whether some frame has a time field called name.
func isTimeName(name string, frames data.Frames) bool {
	for _, fr := range frames {
		if f, _ := fr.FieldByName(name); f != nil && f.Type().Time() {
			return true
		}
	}
	return false
}

// describe lists frames' names, fields and rows for messages.
func describe(frames data.Frames) string {
	var parts []string
	for _, fr := range frames {
		var fs []string
		for _, f := range fr.Fields {
			l := ""
			if len(f.Labels) > 0 {
				keys := make([]string, 0, len(f.Labels))
				for k, v := range f.Labels {
					keys = append(keys, k+"="+v)
				}
				sort.Strings(keys)
				l = "{" + strings.Join(keys, ",") + "}"
			}
			fs = append(fs, f.Name+l+":"+f.Type().ItemTypeString())
		}
		parts = append(parts, fmt.Sprintf("%s[%d rows: %s]", fr.Name, fr.Rows(), strings.Join(fs, " ")))
	}
	return strings.Join(parts, "; ")
}
