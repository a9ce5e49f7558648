package plugin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/apiwatch/apiwatch/dashboards/plugin"
	"github.com/apiwatch/apiwatch/storage"
)

type callResourceFunc func(context.Context, *backend.CallResourceRequest) (*backend.CallResourceResponse, error)

// inProcess calls a data source's CallResource as the SDK does,
// collecting what it sends.
func inProcess(ds *plugin.Datasource) callResourceFunc {
	return func(ctx context.Context, req *backend.CallResourceRequest) (*backend.CallResourceResponse, error) {
		var got *backend.CallResourceResponse
		err := ds.CallResource(ctx, req, backend.CallResourceResponseSenderFunc(func(r *backend.CallResourceResponse) error {
			got = r
			return nil
		}))
		return got, err
	}
}

// call sends a resource request and decodes its JSON answer into out
// (when not nil); it returns the status and, for errors, the message.
func call(t *testing.T, fn callResourceFunc, pctx backend.PluginContext, method, path string, body any, out any) (int, string) {
	t.Helper()
	var b []byte
	switch v := body.(type) {
	case nil:
	case string:
		b = []byte(v)
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := fn(context.Background(), &backend.CallResourceRequest{PluginContext: pctx, Path: strings.SplitN(path, "?", 2)[0], Method: method, URL: path, Body: b})
	if err != nil {
		t.Fatal(err)
	}
	if ct := http.Header(resp.Headers).Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: content type %q", method, path, ct)
	}
	if resp.Status >= 300 {
		var e struct{ Error string }
		if err := json.Unmarshal(resp.Body, &e); err != nil || e.Error == "" {
			t.Errorf("%s %s: status %d, body %s", method, path, resp.Status, resp.Body)
		}
		return resp.Status, e.Error
	}
	if out != nil {
		if err := json.Unmarshal(resp.Body, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, resp.Body)
		}
	}
	return resp.Status, ""
}

// findingID returns the id of the demo finding of kind (and detector).
func findingID(t *testing.T, qd queryDataFunc, pctx backend.PluginContext, detector, kind string) string {
	t.Helper()
	fr := runQuery(t, qd, pctx, map[string]any{"queryType": "findings", "detector": detector}, demoFrom, demoTo)[0]
	ids, kinds := column[string](t, fr, "id"), column[string](t, fr, "kind")
	i := slices.Index(kinds, kind)
	if i < 0 {
		t.Fatalf("no %s finding", kind)
	}
	return ids[i]
}

// statusIDs returns the ids of the findings a findings query with the
// status filter selects.
func statusIDs(t *testing.T, qd queryDataFunc, pctx backend.PluginContext, status string) []string {
	t.Helper()
	fr := runQuery(t, qd, pctx, map[string]any{"queryType": "findings", "status": status}, demoFrom, demoTo)[0]
	return column[string](t, fr, "id")
}

func TestTriageResource(t *testing.T) {
	ds, s := demoDatasource(t)
	editor := backend.PluginContext{DataSourceInstanceSettings: s, User: &backend.User{Login: "ana", Role: "Editor"}}
	anonymous := backend.PluginContext{DataSourceInstanceSettings: s}
	cr := inProcess(ds)
	id := findingID(t, ds.QueryData, anonymous, "credential_stuffing", "takeover")

	var st plugin.TriageResponse
	if code, msg := call(t, cr, anonymous, "POST", "triage", plugin.TriageRequest{FindingID: id, Status: "acknowledged", Note: "calling the user", User: "bo"}, &st); code != http.StatusOK {
		t.Fatalf("acknowledge: %d %s", code, msg)
	}
	if st.FindingID != id || st.Status != "acknowledged" || st.User != "bo" || st.Version == 0 || st.UpdatedAt.IsZero() {
		t.Errorf("acknowledged: %+v", st)
	}
	if got := statusIDs(t, ds.QueryData, anonymous, "acknowledged"); !slices.Equal(got, []string{id}) {
		t.Errorf("acknowledged findings %v", got)
	}
	if got := statusIDs(t, ds.QueryData, anonymous, "open"); len(got) != demoFinding-1 || slices.Contains(got, id) {
		t.Errorf("open findings %v", got)
	}
	fr := runQuery(t, ds.QueryData, anonymous, map[string]any{"queryType": "findings", "status": []string{"acknowledged"}}, demoFrom, demoTo)[0]
	if note, by, at := column[string](t, fr, "note"), column[string](t, fr, "triaged_by"), fr.Fields[18].At(0); note[0] != "calling the user" || by[0] != "bo" || at == nil {
		t.Errorf("triage columns %v", fr.RowCopy(0))
	}

	// The signed-in Grafana user is recorded, not the body's.
	if code, msg := call(t, cr, editor, "POST", "/triage", map[string]string{"finding_id": id, "status": "false_positive", "note": "pen test", "user": "mallory"}, &st); code != http.StatusOK {
		t.Fatalf("false positive: %d %s", code, msg)
	}
	if st.User != "ana" || st.Status != "false_positive" {
		t.Errorf("false positive: %+v", st)
	}
	if got := statusIDs(t, ds.QueryData, anonymous, "false_positive"); !slices.Equal(got, []string{id}) {
		t.Errorf("false positives %v", got)
	}
	if got := statusIDs(t, ds.QueryData, anonymous, "acknowledged"); len(got) != 0 {
		t.Errorf("still acknowledged: %v", got)
	}
	var states []plugin.TriageResponse
	if code, msg := call(t, cr, anonymous, "GET", "triage?finding_id="+id+"&finding_id=none", nil, &states); code != http.StatusOK {
		t.Fatalf("get: %d %s", code, msg)
	}
	if len(states) != 2 || states[0].Status != "false_positive" || states[0].Note != "pen test" || states[1].Status != "open" || states[1].FindingID != "none" {
		t.Errorf("states %+v", states)
	}

	// The false positive is a suppression, for the detector.
	var sup []plugin.SuppressionResponse
	if code, msg := call(t, cr, anonymous, "GET", "suppressions", nil, &sup); code != http.StatusOK {
		t.Fatalf("suppressions: %d %s", code, msg)
	}
	if len(sup) != 1 || sup[0].FindingID != id || sup[0].Detector != "credential_stuffing" || sup[0].Kind != "takeover" || sup[0].Endpoint != login ||
		!strings.HasPrefix(sup[0].Subject, "username ") || sup[0].User != "ana" {
		t.Errorf("suppressions %+v", sup)
	}
	store, err := ds.Store(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	direct, err := store.Suppressions(context.Background())
	if err != nil || len(direct) != 1 || direct[0].FindingID != id {
		t.Fatalf("storage suppressions %+v, %v", direct, err)
	}
	f, _, err := store.Finding(context.Background(), id)
	if err != nil || !direct[0].Matches(f) {
		t.Errorf("the suppression does not match its own finding (%v)", err)
	}
	ann := runQuery(t, ds.QueryData, anonymous, map[string]any{"queryType": "annotations", "status": "false_positive"}, demoFrom, demoTo)[0]
	if tags := column[string](t, ann, "tags"); len(tags) != 1 || !strings.HasSuffix(tags[0], ",false_positive") {
		t.Errorf("annotation tags %v", tags)
	}

	for _, c := range []struct {
		pctx         backend.PluginContext
		method, path string
		body         any
		code         int
		want         string
	}{
		{anonymous, "POST", "triage", plugin.TriageRequest{FindingID: "0123", Status: "acknowledged"}, http.StatusNotFound, "not found"},
		{anonymous, "POST", "triage", plugin.TriageRequest{FindingID: id, Status: "closed"}, http.StatusBadRequest, "want open, acknowledged or false_positive"},
		{anonymous, "POST", "triage", plugin.TriageRequest{Status: "open"}, http.StatusBadRequest, "no finding_id"},
		{anonymous, "POST", "triage", `{"finding_id":"` + id + `","status":"open","severity":"low"}`, http.StatusBadRequest, "unknown field"},
		{anonymous, "POST", "triage", `not json`, http.StatusBadRequest, "body"},
		{anonymous, "POST", "triage", plugin.TriageRequest{FindingID: id, Status: "open", Note: strings.Repeat("é", storage.MaxTriageNote+1)}, http.StatusBadRequest, "at most"},
		{backend.PluginContext{DataSourceInstanceSettings: s, User: &backend.User{Login: "vi", Role: "Viewer"}}, "POST", "triage",
			plugin.TriageRequest{FindingID: id, Status: "open"}, http.StatusForbidden, "viewers"},
		{anonymous, "PUT", "triage", nil, http.StatusMethodNotAllowed, "use POST"},
		{anonymous, "GET", "triage", nil, http.StatusBadRequest, "finding_id"},
		{anonymous, "POST", "suppressions", nil, http.StatusMethodNotAllowed, "use GET"},
		{anonymous, "GET", "nothing", nil, http.StatusNotFound, "no resource"},
	} {
		if code, msg := call(t, cr, c.pctx, c.method, c.path, c.body, nil); code != c.code || !strings.Contains(msg, c.want) {
			t.Errorf("%s %s %v: %d %q, want %d %q", c.method, c.path, c.body, code, msg, c.code, c.want)
		}
	}
	// Refused calls changed nothing.
	if got := statusIDs(t, ds.QueryData, anonymous, "false_positive"); !slices.Equal(got, []string{id}) {
		t.Errorf("false positives after refused calls: %v", got)
	}

	// Reopened: open again, no longer suppressed.
	if code, msg := call(t, cr, editor, "POST", "triage", plugin.TriageRequest{FindingID: id, Status: "open"}, &st); code != http.StatusOK {
		t.Fatalf("reopen: %d %s", code, msg)
	}
	if got := statusIDs(t, ds.QueryData, anonymous, "open"); len(got) != demoFinding {
		t.Errorf("open after reopening: %d", len(got))
	}
	if code, _ := call(t, cr, anonymous, "GET", "suppressions", nil, &sup); code != http.StatusOK || len(sup) != 0 {
		t.Errorf("suppressions after reopening: %+v", sup)
	}
}
