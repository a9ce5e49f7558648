package plugin_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/apiwatch/apiwatch/dashboards/plugin"
)

// TestModuleJS loads the frontend module with node and stand-ins for
// Grafana's shared packages: it registers a backend data source with a
// query and a config editor, enables annotations, and interpolates
// template variables per field. (A browser with Grafana cannot run here.)
func TestModuleJS(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("no node: module.js is not checked")
	}
	out, err := exec.Command(node, "testdata/module_check.js", "module.js").Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	var got struct {
		IsPlugin       bool
		ExtendsBackend bool
		Annotations    string
		DefaultQuery   map[string]any
		Interpolated   map[string]any
		Textarea       string
		Changed        []map[string]any
		Editor         []string
		Config         []string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !got.IsPlugin || !got.ExtendsBackend || got.Annotations != "object" || got.DefaultQuery["queryType"] != "findings" {
		t.Errorf("registration: %s", out)
	}
	q := got.Interpolated
	if q["detector"] != "enumeration,data_exposure" || q["findingId"] != "f1" || q["rawSql"] != "SELECT 1 WHERE detector IN ('enumeration','data_exposure')" ||
		q["refId"] != "A" || q["limit"] != 5.0 {
		t.Errorf("interpolated %v", q)
	}
	if eps, _ := q["endpoint"].([]any); len(eps) != 2 || eps[0] != "GET h /a" {
		t.Errorf("endpoint list %v", q["endpoint"])
	}
	if len(got.Changed) != 1 || got.Changed[0]["queryType"] != "rates" || got.Changed[0]["endpoint"] != "GET h /a" || got.Changed[0]["refId"] != "A" {
		t.Errorf("query editor change %v", got.Changed)
	}
	for _, qt := range []string{"findings", "finding", "inventory", "top_actors", "rates", "login_outcomes", "annotations", "sql"} {
		if !slices.Contains(got.Editor, qt) {
			t.Errorf("query editor lacks %s", qt)
		}
	}
	for _, field := range []string{"Host", "Port", "Database", "User", "Password", "TLS", "CA certificate (PEM)"} {
		if !slices.Contains(got.Config, field) {
			t.Errorf("config editor lacks %s: %v", field, got.Config)
		}
	}
	if !slices.Contains(got.Config, "configured ") {
		t.Error("a configured password is not shown as configured")
	}
	// Grafana refuses plugins it takes for Angular ones.
	src, err := os.ReadFile("module.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"angular", "Ctrl", "$scope"} {
		if strings.Contains(string(src), s) {
			t.Errorf("module.js mentions %q", s)
		}
	}
}

// TestPluginJSON checks what Grafana reads from plugin.json to start the
// backend and offer the data source.
func TestPluginJSON(t *testing.T) {
	b, err := os.ReadFile("plugin.json")
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Type, Name, ID, Executable     string
		Backend, Annotations, Alerting bool
		Metrics                        bool
		Info                           struct {
			Version string
			Logos   struct{ Small, Large string }
		}
		Dependencies struct{ GrafanaDependency string }
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	if p.Type != "datasource" || p.ID != plugin.ID || !p.Backend || p.Executable != "gpx_apiwatch" || !p.Annotations || p.Alerting ||
		!p.Metrics || p.Info.Version == "" || p.Dependencies.GrafanaDependency == "" {
		t.Errorf("plugin.json: %+v", p)
	}
	for _, logo := range []string{p.Info.Logos.Small, p.Info.Logos.Large} {
		if _, err := os.Stat(logo); err != nil {
			t.Errorf("logo: %v", err)
		}
	}
}
