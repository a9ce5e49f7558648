// Package dashboards holds apiwatch's Grafana boards and their provisioning
// (README.md). Its tests check the boards as Grafana would load them: every
// panel on a provisioned data source, every query with a refId, known panel
// types, unique uids, links that resolve (boards_test.go); every apiwatch
// query run through the plugin, out of process, against real data and
// answering with the frames its panel draws (queries_test.go); and each
// board type-checked against @grafana/schema with tsc (schema_test.go).
package dashboards

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/apiwatch/apiwatch/alert"
	"github.com/apiwatch/apiwatch/dashboards/plugin"
)

const (
	// provisioningDir is copied (or mounted) as Grafana's provisioning
	// directory, /etc/grafana/provisioning.
	provisioningDir = "provisioning"
	// grafanaProvisioning is where Grafana's packages and image read it.
	grafanaProvisioning = "/etc/grafana/provisioning"
	// boardsDir holds the boards, as the dashboard provider names them.
	boardsDir = "provisioning/dashboards/apiwatch"

	apiwatchUID    = "apiwatch"
	prometheusType = "prometheus"
	// prometheusVar is the data-source variable of the boards that read
	// Prometheus; prometheusUID is its default, the uid of the example
	// provisioning file.
	prometheusVar = "${prometheus}"
	prometheusUID = "prometheus"
)

// boardUIDs are the boards, by uid; links and alerts depend on them.
var boardUIDs = []string{"apiwatch-soc", "apiwatch-investigation", "apiwatch-inventory", "apiwatch-credential-stuffing", "apiwatch-sensor-health"}

// panelTypes are the panel plugins the boards may use: Grafana's own.
var panelTypes = []string{"row", "timeseries", "table", "stat", "barchart", "piechart", "bargauge", "text"}

// board is one dashboard file, as generic JSON.
type board struct {
	file string
	m    map[string]any
}

func (b *board) uid() string   { return str(b.m, "uid") }
func (b *board) title() string { return str(b.m, "title") }

// panels returns the board's panels, those of rows included, rows left out.
func (b *board) panels() []map[string]any {
	var out []map[string]any
	var walk func([]any)
	walk = func(ps []any) {
		for _, p := range ps {
			pm, _ := p.(map[string]any)
			if pm == nil {
				continue
			}
			if str(pm, "type") == "row" {
				walk(arr(pm, "panels"))
				continue
			}
			out = append(out, pm)
		}
	}
	walk(arr(b.m, "panels"))
	return out
}

// variables returns the board's template variables by name.
func (b *board) variables() map[string]*variable {
	vars := map[string]*variable{}
	for _, v := range arr(obj(b.m, "templating"), "list") {
		vm, _ := v.(map[string]any)
		vr := &variable{Name: str(vm, "name"), Type: str(vm, "type"), Multi: boolean(vm, "multi"),
			IncludeAll: boolean(vm, "includeAll"), AllValue: str(vm, "allValue")}
		if vr.Type == "custom" {
			for _, o := range strings.Split(str(vm, "query"), ",") {
				// "text : value" names an option's value.
				if _, val, ok := strings.Cut(o, " : "); ok {
					o = val
				}
				vr.Options = append(vr.Options, strings.TrimSpace(o))
			}
		}
		switch cur := obj(vm, "current")["value"].(type) {
		case string:
			vr.Current = []string{cur}
		case []any:
			for _, c := range cur {
				vr.Current = append(vr.Current, fmt.Sprint(c))
			}
		}
		vr.Datasource = obj(vm, "datasource")
		vr.Query = vm["query"]
		vars[vr.Name] = vr
	}
	return vars
}

// loadBoards reads every board of boardsDir.
func loadBoards(t testing.TB) []*board {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(boardsDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no boards in %s", boardsDir)
	}
	var out []*board
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b := &board{file: f}
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.UseNumber()
		if err := dec.Decode(&b.m); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, b)
	}
	return out
}

// Generic JSON access: missing or mistyped values are zero.
func obj(m map[string]any, k string) map[string]any { v, _ := m[k].(map[string]any); return v }
func arr(m map[string]any, k string) []any          { v, _ := m[k].([]any); return v }
func str(m map[string]any, k string) string         { v, _ := m[k].(string); return v }
func boolean(m map[string]any, k string) bool       { v, _ := m[k].(bool); return v }
func num(m map[string]any, k string) (int, bool) {
	n, ok := m[k].(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	return int(i), err == nil
}

// panelName names a panel in messages.
func panelName(b *board, p map[string]any) string {
	id, _ := num(p, "id")
	return fmt.Sprintf("%s panel %d %q", b.uid(), id, str(p, "title"))
}

// slug is Grafana's URL slug of a dashboard title.
func slug(title string) string {
	var sb strings.Builder
	dash := false
	for _, r := range strings.ToLower(title) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			sb.WriteRune(r)
			dash = false
		} else if !dash && sb.Len() > 0 {
			sb.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(sb.String(), "-")
}

// provisionedDatasource reports whether ref (a panel's, target's,
// annotation's or variable's datasource) names a provisioned data source:
// apiwatch by uid and type, or Prometheus through the board's data-source
// variable.
func provisionedDatasource(ref map[string]any, vars map[string]*variable) error {
	uid, typ := str(ref, "uid"), str(ref, "type")
	switch {
	case uid == apiwatchUID && typ == plugin.ID:
		return nil
	case uid == prometheusVar && typ == prometheusType:
		v := vars["prometheus"]
		if v == nil || v.Type != "datasource" || v.Query != prometheusType {
			return fmt.Errorf("datasource %s needs a data-source variable prometheus of type prometheus", uid)
		}
		if len(v.Current) != 1 || v.Current[0] != prometheusUID {
			return fmt.Errorf("variable prometheus defaults to %v, want the provisioned uid %s", v.Current, prometheusUID)
		}
		return nil
	}
	return fmt.Errorf("datasource %v is not provisioned: want {type %s, uid %s} or {type %s, uid %s}", ref, plugin.ID, apiwatchUID, prometheusType, prometheusVar)
}

// TestBoards checks the boards as Grafana loads them: the expected uids,
// each once; panels on provisioned data sources, of known types, with
// unique ids and a layout that fits the grid; every query with a refId;
// apiwatch queries of the plugin's query types using only the board's
// variables; links to boards that exist.
func TestBoards(t *testing.T) {
	boards := loadBoards(t)
	byUID := map[string]*board{}
	for _, b := range boards {
		if b.uid() == "" {
			t.Errorf("%s: no uid", b.file)
		}
		if o := byUID[b.uid()]; o != nil {
			t.Errorf("uid %s in %s and %s", b.uid(), o.file, b.file)
		}
		byUID[b.uid()] = b
	}
	if got := slices.Sorted(maps.Keys(byUID)); !slices.Equal(got, slices.Sorted(slices.Values(boardUIDs))) {
		t.Errorf("board uids %v, want %v", got, boardUIDs)
	}
	for _, b := range boards {
		t.Run(b.uid(), func(t *testing.T) { checkBoard(t, b, byUID) })
	}
}

func checkBoard(t *testing.T, b *board, byUID map[string]*board) {
	if v, _ := num(b.m, "schemaVersion"); v < 36 || v > 41 {
		t.Errorf("schemaVersion %d: want about 39", v)
	}
	if b.title() == "" || !slices.Contains(stringsOf(arr(b.m, "tags")), "apiwatch") {
		t.Errorf("title %q, tags %v: want a title and the tag apiwatch (the boards' links list the apiwatch tag)", b.title(), arr(b.m, "tags"))
	}
	vars := b.variables()
	for _, v := range vars {
		if v.Datasource != nil {
			if err := provisionedDatasource(v.Datasource, vars); err != nil {
				t.Errorf("variable %s: %v", v.Name, err)
			}
		}
	}
	for _, a := range arr(obj(b.m, "annotations"), "list") {
		am, _ := a.(map[string]any)
		if err := provisionedDatasource(obj(am, "datasource"), vars); err != nil {
			t.Errorf("annotation %q: %v", str(am, "name"), err)
		}
		if str(obj(am, "target"), "refId") == "" {
			t.Errorf("annotation %q: its query has no refId", str(am, "name"))
		}
		checkQueryModel(t, b, "annotation "+str(am, "name"), obj(am, "target"), vars)
	}

	ids := map[int]bool{}
	var cells [][4]int // x, y, w, h of every panel, rows included
	for _, p := range arr(b.m, "panels") {
		pm, _ := p.(map[string]any)
		id, ok := num(pm, "id")
		if !ok || ids[id] {
			t.Errorf("%s: id missing or repeated", panelName(b, pm))
		}
		ids[id] = true
		g := obj(pm, "gridPos")
		x, _ := num(g, "x")
		y, _ := num(g, "y")
		w, _ := num(g, "w")
		h, _ := num(g, "h")
		if w <= 0 || h <= 0 || x < 0 || y < 0 || x+w > 24 {
			t.Errorf("%s: gridPos %v does not fit Grafana's 24 columns", panelName(b, pm), g)
		}
		for _, c := range cells {
			if x < c[0]+c[2] && c[0] < x+w && y < c[1]+c[3] && c[1] < y+h {
				t.Errorf("%s: gridPos %v overlaps another panel", panelName(b, pm), g)
			}
		}
		cells = append(cells, [4]int{x, y, w, h})
	}

	for _, p := range b.panels() {
		name := panelName(b, p)
		typ := str(p, "type")
		if !slices.Contains(panelTypes, typ) {
			t.Errorf("%s: panel type %q: want one of %v", name, typ, panelTypes)
		}
		if str(p, "title") == "" {
			t.Errorf("%s: no title", name)
		}
		targets := arr(p, "targets")
		if typ == "text" {
			continue
		}
		if len(targets) == 0 {
			t.Errorf("%s: no queries", name)
		}
		if err := provisionedDatasource(obj(p, "datasource"), vars); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		refIDs := map[string]bool{}
		for _, tg := range targets {
			tm, _ := tg.(map[string]any)
			ref := str(tm, "refId")
			if ref == "" || refIDs[ref] {
				t.Errorf("%s: a query without refId or with a repeated one (%q)", name, ref)
			}
			refIDs[ref] = true
			ds := obj(tm, "datasource")
			if ds == nil {
				t.Errorf("%s query %s: no datasource", name, ref)
			} else if err := provisionedDatasource(ds, vars); err != nil {
				t.Errorf("%s query %s: %v", name, ref, err)
			} else if str(ds, "uid") != str(obj(p, "datasource"), "uid") {
				t.Errorf("%s query %s: datasource %v differs from the panel's (a mixed panel must say so)", name, ref, ds)
			}
			switch str(ds, "type") {
			case plugin.ID:
				checkQueryModel(t, b, name+" query "+ref, tm, vars)
			case prometheusType:
				checkPromQL(t, name+" query "+ref, str(tm, "expr"))
			}
		}
	}

	// Links: the board's, panels' and data links (anything with a /d/ URL).
	for _, u := range linkURLs(b.m) {
		m := boardLink.FindStringSubmatch(u)
		if m == nil {
			t.Errorf("link %q: want /d/<uid>/<slug>", u)
			continue
		}
		target := byUID[m[1]]
		if target == nil {
			t.Errorf("link %q: no board with uid %s", u, m[1])
			continue
		}
		if m[2] != slug(target.title()) {
			t.Errorf("link %q: slug %s, want %s (from the title %q)", u, m[2], slug(target.title()), target.title())
		}
		if q, _, _ := strings.Cut(m[3], "&"); strings.HasPrefix(q, "var-") {
			if name, _, _ := strings.Cut(strings.TrimPrefix(q, "var-"), "="); target.variables()[name] == nil {
				t.Errorf("link %q: board %s has no variable %s", u, target.uid(), name)
			}
		}
	}
}

// boardLink is a link to a board: uid, slug and query.
var boardLink = regexp.MustCompile(`^/d/([\w-]+)/([\w-]+)(?:\?(.*))?$`)

// linkURLs returns every "url" in v that points at a board (/d/…).
func linkURLs(v any) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && k == "url" && strings.Contains(s, "/d/") {
				out = append(out, s)
			}
			out = append(out, linkURLs(x)...)
		}
	case []any:
		for _, x := range v {
			out = append(out, linkURLs(x)...)
		}
	}
	return out
}

// TestAlertLinksResolve checks that the link alerts carry (alert's
// InvestigationPath) opens the investigation board with its variable.
func TestAlertLinksResolve(t *testing.T) {
	u, err := url.Parse(alert.InvestigationPath + "0123abcd")
	if err != nil {
		t.Fatal(err)
	}
	m := boardLink.FindStringSubmatch(u.Path)
	if m == nil {
		t.Fatalf("alert link %s: want /d/<uid>/<slug>", alert.InvestigationPath)
	}
	for _, b := range loadBoards(t) {
		if b.uid() != m[1] {
			continue
		}
		if slug(b.title()) != m[2] {
			t.Errorf("alert link %s: board %s is at /d/%s/%s", alert.InvestigationPath, b.uid(), b.uid(), slug(b.title()))
		}
		for name := range u.Query() {
			if v := b.variables()[strings.TrimPrefix(name, "var-")]; v == nil || v.Type != "textbox" {
				t.Errorf("alert link %s: board %s has no textbox variable %s", alert.InvestigationPath, b.uid(), name)
			}
		}
		return
	}
	t.Errorf("alert link %s: no board with uid %s", alert.InvestigationPath, m[1])
}

// checkQueryModel checks an apiwatch query: its type is one the plugin
// knows, and after interpolation with the board's defaults it names no
// variable the board lacks and parses as the plugin parses it.
func checkQueryModel(t *testing.T, b *board, name string, model map[string]any, vars map[string]*variable) {
	t.Helper()
	qt := str(model, "queryType")
	if !slices.Contains(plugin.QueryTypes, qt) {
		t.Errorf("%s: queryType %q: want one of %v", name, qt, plugin.QueryTypes)
		return
	}
	for k := range model {
		if !slices.Contains(queryFields(), k) {
			t.Errorf("%s: field %q: the plugin reads %v (dashboards/plugin/README.md)", name, k, queryFields())
		}
	}
	for _, ref := range variableRefs(model) {
		if vars[ref] == nil {
			t.Errorf("%s: variable $%s is not defined on board %s", name, ref, b.uid())
		}
	}
	q := interpolateQuery(model, vars)
	if _, err := plugin.ParseQuery(dataQuery(t, q, demoFrom, demoTo, 0)); err != nil {
		t.Errorf("%s: %v", name, err)
	}
	if qt == plugin.QuerySQL {
		if err := plugin.ReadOnly(str(q, "rawSql")); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// queryFields are the fields of an apiwatch query: the plugin's (its
// Query's JSON names) and those Grafana adds.
func queryFields() []string {
	fields := []string{"refId", "datasource", "hide", "key"}
	rt := reflect.TypeFor[plugin.Query]()
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		fields = append(fields, name)
	}
	return fields
}

// promMetric matches apiwatch's metric names in PromQL; promBy the
// labels of a "by (…)" clause.
var (
	promMetric = regexp.MustCompile(`\bapiwatch_[a-z_]+`)
	promBy     = regexp.MustCompile(`\bby \(([\w, ]+)\)`)
	promSel    = regexp.MustCompile(`\{([^}]*)\}`)
	promLabel  = regexp.MustCompile(`(\w+)\s*(?:=~|!~|!=|=)`)
)

// checkPromQL checks that expr reads metrics apiwatch exports
// (cmd/apiwatch's ops registrations) and groups or selects by labels
// they carry (their own, or Prometheus' instance and job).
func checkPromQL(t *testing.T, name, expr string) {
	t.Helper()
	metrics := exportedMetrics(t)
	used := promMetric.FindAllString(expr, -1)
	if len(used) == 0 {
		t.Errorf("%s: %q reads no apiwatch metric", name, expr)
	}
	labels := []string{"instance", "job"}
	for _, m := range used {
		l, ok := metrics[m]
		if !ok {
			t.Errorf("%s: metric %s is not exported by apiwatch (cmd/apiwatch/sensor.go, detectd.go)", name, m)
		}
		if l != "" {
			labels = append(labels, l)
		}
	}
	var refs []string
	for _, m := range promBy.FindAllStringSubmatch(expr, -1) {
		for _, l := range strings.Split(m[1], ",") {
			refs = append(refs, strings.TrimSpace(l))
		}
	}
	for _, sel := range promSel.FindAllStringSubmatch(expr, -1) {
		for _, m := range promLabel.FindAllStringSubmatch(sel[1], -1) {
			if m[1] != "__name__" {
				refs = append(refs, m[1])
			}
		}
	}
	for _, l := range refs {
		if !slices.Contains(labels, l) {
			t.Errorf("%s: label %s: the metrics of %q carry %v", name, l, expr, labels)
		}
	}
	if strings.Count(expr, "(") != strings.Count(expr, ")") {
		t.Errorf("%s: unbalanced parentheses in %q", name, expr)
	}
}

// opsMetric matches cmd/apiwatch's metric registrations: counter, gauge,
// or counters with their label.
var opsMetric = regexp.MustCompile(`ops\.(counter|gauge|counters)\("(apiwatch_\w+)",\s*"(?:[^"\\]|\\.)*"(?:,\s*"(\w+)")?`)

// exportedMetrics returns the metrics the sensor and detector serve, with
// their label ("" for none).
func exportedMetrics(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, f := range []string{"sensor.go", "detectd.go"} {
		src, err := os.ReadFile(filepath.Join("..", "cmd", "apiwatch", f))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range opsMetric.FindAllStringSubmatch(string(src), -1) {
			out[m[2]] = m[3]
		}
	}
	if len(out) < 10 {
		t.Fatalf("found %d metric registrations in cmd/apiwatch: has ops.counter changed?", len(out))
	}
	return out
}

func stringsOf(vs []any) []string {
	var out []string
	for _, v := range vs {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// provisioning files, as Grafana reads them.
type datasourcesFile struct {
	APIVersion  int `yaml:"apiVersion"`
	Datasources []struct {
		Name           string            `yaml:"name"`
		Type           string            `yaml:"type"`
		UID            string            `yaml:"uid"`
		URL            string            `yaml:"url"`
		JSONData       map[string]any    `yaml:"jsonData"`
		SecureJSONData map[string]string `yaml:"secureJsonData"`
	} `yaml:"datasources"`
}

type dashboardsFile struct {
	APIVersion int `yaml:"apiVersion"`
	Providers  []struct {
		Name    string `yaml:"name"`
		Type    string `yaml:"type"`
		Folder  string `yaml:"folder"`
		Options struct {
			Path string `yaml:"path"`
		} `yaml:"options"`
	} `yaml:"providers"`
}

// readYAML reads a provisioning file, expanding $VAR and ${VAR} from env
// as Grafana does.
func readYAML(t testing.TB, path string, env map[string]string, into any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var generic map[string]any
	if err := yaml.Unmarshal(raw, &generic); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	expanded := expandEnv(generic, env)
	b, err := yaml.Marshal(expanded)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// expandEnv expands variables in every string value (Grafana expands
// values only, never keys).
func expandEnv(v any, env map[string]string) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range v {
			out[k] = expandEnv(x, env)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = expandEnv(x, env)
		}
		return out
	case string:
		return os.Expand(v, func(k string) string { return env[k] })
	}
	return v
}

// TestProvisioning checks the provisioning files: the apiwatch data
// source (plugin id, uid, settings from the environment, the password in
// secureJsonData) parses as the plugin parses it; the example Prometheus
// data source has the uid the Sensor health board defaults to; the
// dashboard provider's path is where Grafana finds this repository's
// boards when dashboards/provisioning is its provisioning directory.
func TestProvisioning(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("plugin", "plugin.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pj struct{ ID, Type string }
	if err := json.Unmarshal(raw, &pj); err != nil {
		t.Fatal(err)
	}
	if pj.ID != plugin.ID || pj.Type != "datasource" {
		t.Fatalf("plugin.json: id %s type %s", pj.ID, pj.Type)
	}

	env := map[string]string{"APIWATCH_CLICKHOUSE_HOST": "clickhouse.example.com", "APIWATCH_CLICKHOUSE_PORT": "9440",
		"APIWATCH_CLICKHOUSE_DATABASE": "apiwatch_prod", "APIWATCH_CLICKHOUSE_USER": "grafana", "APIWATCH_CLICKHOUSE_PASSWORD": "s3cret"}
	s := provisionedSettings(t, env)
	st, err := plugin.ParseSettings(*s)
	if err != nil {
		t.Fatal(err)
	}
	if st.Host != "clickhouse.example.com" || st.Port != 9440 || st.Database != "apiwatch_prod" || st.User != "grafana" || string(st.Password) != "s3cret" {
		t.Errorf("settings from the provisioned data source: %+v", st)
	}
	// Unset variables expand to nothing: the plugin's defaults apply,
	// except the host, which it asks for.
	if _, err := plugin.ParseSettings(*provisionedSettings(t, map[string]string{})); err == nil || !strings.Contains(err.Error(), "no host") {
		t.Errorf("without APIWATCH_CLICKHOUSE_HOST: %v, want the plugin's no-host error", err)
	}
	s = provisionedSettings(t, map[string]string{"APIWATCH_CLICKHOUSE_HOST": "ch"})
	if st, err := plugin.ParseSettings(*s); err != nil || st.Port != plugin.DefaultPort || st.Database != "apiwatch" {
		t.Errorf("with the host alone: %+v, %v", st, err)
	}

	var prom datasourcesFile
	readYAML(t, filepath.Join(provisioningDir, "datasources", "prometheus.yaml.example"), nil, &prom)
	if len(prom.Datasources) != 1 || prom.Datasources[0].UID != prometheusUID || prom.Datasources[0].Type != prometheusType || prom.Datasources[0].URL == "" {
		t.Errorf("prometheus.yaml.example: %+v: want one data source of type %s, uid %s, with a URL", prom.Datasources, prometheusType, prometheusUID)
	}

	var dash dashboardsFile
	readYAML(t, filepath.Join(provisioningDir, "dashboards", "apiwatch.yaml"), nil, &dash)
	if dash.APIVersion != 1 || len(dash.Providers) != 1 || dash.Providers[0].Type != "file" {
		t.Fatalf("dashboards/apiwatch.yaml: %+v: want one file provider", dash)
	}
	path := dash.Providers[0].Options.Path
	rel, ok := strings.CutPrefix(path, grafanaProvisioning+"/")
	if !ok || filepath.Join(provisioningDir, rel) != boardsDir {
		t.Errorf("dashboard provider path %s: want %s/%s, where Grafana sees %s", path, grafanaProvisioning, strings.TrimPrefix(boardsDir, provisioningDir+"/"), boardsDir)
	}
	if n := len(loadBoards(t)); n != len(boardUIDs) {
		t.Errorf("%s holds %d boards, want %d", boardsDir, n, len(boardUIDs))
	}
}
