package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/apiwatch/apiwatch/finding"
	"github.com/apiwatch/apiwatch/storage"
)

// Query types (the query's queryType).
const (
	QueryFindings      = "findings"
	QueryFinding       = "finding"
	QueryInventory     = "inventory"
	QueryTopActors     = "top_actors"
	QueryRates         = "rates"
	QueryLoginOutcomes = "login_outcomes"
	QueryAnnotations   = "annotations"
	QuerySQL           = "sql"
)

// QueryTypes are the query types, in the order README.md documents them.
var QueryTypes = []string{QueryFindings, QueryFinding, QueryInventory, QueryTopActors, QueryRates, QueryLoginOutcomes, QueryAnnotations, QuerySQL}

// Query is the JSON query model: queryType and the fields that type
// reads (README.md). Grafana's own fields (refId, datasource, intervalMs,
// …) are ignored.
type Query struct {
	QueryType string `json:"queryType"`
	// Filters of findings and annotations; endpoint and actor also of
	// inventory (endpoint), top_actors (endpoint), rates and
	// login_outcomes (one value each).
	Detector List `json:"detector"`
	Severity List `json:"severity"` // the lowest severity shown
	Endpoint List `json:"endpoint"`
	Actor    List `json:"actor"`
	Status   List `json:"status"` // open, acknowledged, false_positive
	// FindingID selects the finding of a finding query.
	FindingID string `json:"findingId"`
	// ShadowOnly keeps the inventory's shadow endpoints only.
	ShadowOnly bool `json:"shadowOnly"`
	// Limit bounds findings, annotations (storage.DefaultFindingsLimit)
	// and top_actors (storage.DefaultTopActors).
	Limit int `json:"limit"`
	// RawSQL and Format (table or time_series) of a sql query.
	RawSQL string `json:"rawSql"`
	Format string `json:"format"`
}

// List is a filter's values: a JSON array of strings, or one string of
// comma-separated values (a multi-value template variable interpolated
// with the csv format). "All", "$__all", "*" and template variables left
// uninterpolated ($var, ${var}, [[var]]) select everything; Ignored names
// the latter.
type List struct {
	Values  []string
	Ignored []string
}

var templateVar = regexp.MustCompile(`^(\$\w+|\$\{[^}]+\}|\[\[[^\]]+\]\])$`)

// UnmarshalJSON reads a string or an array of strings.
func (l *List) UnmarshalJSON(b []byte) error {
	*l = List{}
	var raw []string
	if len(b) > 0 && b[0] == '[' {
		if err := json.Unmarshal(b, &raw); err != nil {
			return fmt.Errorf("want a string or an array of strings: %w", err)
		}
	} else if string(b) != "null" {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("want a string or an array of strings: %w", err)
		}
		raw = strings.Split(s, ",")
	}
	for _, v := range raw {
		v = strings.TrimSpace(v)
		switch {
		case v == "":
		case v == "All" || v == "$__all" || v == "*":
			// Everything: no filter.
			l.Values, l.Ignored = nil, nil
			return nil
		case templateVar.MatchString(v):
			l.Ignored = append(l.Ignored, v)
		default:
			l.Values = append(l.Values, v)
		}
	}
	return nil
}

// one returns the list's only value ("" for none); field names it in the
// error for several.
func (l List) one(field string) (string, error) {
	switch len(l.Values) {
	case 0:
		return "", nil
	case 1:
		return l.Values[0], nil
	}
	return "", badQuery("%s: this query type takes one value, got %d (%s)", field, len(l.Values), strings.Join(l.Values, ", "))
}

// queryError is an error in the query itself: the analyst fixes it.
type queryError struct{ msg string }

func (e *queryError) Error() string { return e.msg }

func badQuery(format string, args ...any) error {
	return &queryError{msg: fmt.Sprintf(format, args...)}
}

// ParseQuery reads a query's JSON; queryType is the DataQuery's when set.
func ParseQuery(q backend.DataQuery) (Query, error) {
	var m Query
	if len(q.JSON) > 0 {
		if err := json.Unmarshal(q.JSON, &m); err != nil {
			return Query{}, badQuery("query %s: %v", q.RefID, err)
		}
	}
	if q.QueryType != "" {
		m.QueryType = q.QueryType
	}
	if m.QueryType == "" {
		return Query{}, badQuery("query %s: no queryType: want one of %s", q.RefID, strings.Join(QueryTypes, ", "))
	}
	if !slices.Contains(QueryTypes, m.QueryType) {
		return Query{}, badQuery("query %s: unknown queryType %q: want one of %s", q.RefID, m.QueryType, strings.Join(QueryTypes, ", "))
	}
	if m.Limit < 0 {
		return Query{}, badQuery("query %s: limit %d: want 0 (the default) or more", q.RefID, m.Limit)
	}
	return m, nil
}

// QueryData runs each query of the request. A failed query gets an error
// response of its own; the others still run.
func (d *Datasource) QueryData(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	resp := backend.NewQueryDataResponse()
	for _, q := range req.Queries {
		frames, err := d.query(ctx, q)
		if err != nil {
			resp.Responses[q.RefID] = errorResponse(err)
			continue
		}
		for _, f := range frames {
			f.RefID = q.RefID
		}
		resp.Responses[q.RefID] = backend.DataResponse{Frames: frames}
	}
	return resp, nil
}

func errorResponse(err error) backend.DataResponse {
	var qe *queryError
	switch {
	case errors.As(err, &qe):
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, err.Error())
	case errors.Is(err, storage.ErrNotFound):
		return backend.ErrDataResponseWithSource(backend.StatusNotFound, backend.ErrorSourceDownstream, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return backend.ErrDataResponseWithSource(backend.StatusTimeout, backend.ErrorSourceDownstream, err.Error())
	}
	return backend.ErrDataResponseWithSource(backend.StatusBadGateway, backend.ErrorSourceDownstream, err.Error())
}

func (d *Datasource) query(ctx context.Context, dq backend.DataQuery) (data.Frames, error) {
	q, err := ParseQuery(dq)
	if err != nil {
		return nil, err
	}
	st, err := d.Store(ctx)
	if err != nil {
		return nil, err
	}
	from, to := dq.TimeRange.From.UTC(), dq.TimeRange.To.UTC()
	var frames data.Frames
	switch q.QueryType {
	case QueryFindings, QueryAnnotations:
		f, statuses, err := q.findingFilter(from, to)
		if err != nil {
			return nil, err
		}
		fs, err := st.FindingsByStatus(ctx, f, statuses)
		if err != nil {
			return nil, err
		}
		if q.QueryType == QueryFindings {
			frames = data.Frames{FindingsFrame(fs)}
		} else {
			frames = data.Frames{AnnotationsFrame(fs)}
		}
	case QueryFinding:
		frames, err = findingFrames(ctx, st, q.FindingID)
	case QueryInventory:
		frames, err = inventoryFrames(ctx, st, q, from, to)
	case QueryTopActors:
		frames, err = topActorsFrames(ctx, st, q, from, to)
	case QueryRates:
		frames, err = ratesFrames(ctx, st, q, from, to)
	case QueryLoginOutcomes:
		frames, err = loginFrames(ctx, st, q, from, to)
	case QuerySQL:
		frames, err = sqlFrames(ctx, st, q, dq)
	}
	if err != nil {
		return nil, err
	}
	if ignored := q.ignored(); len(ignored) > 0 && len(frames) > 0 {
		frames[0].AppendNotices(data.Notice{Severity: data.NoticeSeverityWarning,
			Text: "template variables not interpolated, their filters select everything: " + strings.Join(ignored, ", ")})
	}
	return frames, nil
}

func (q Query) ignored() []string {
	var out []string
	for _, l := range []List{q.Detector, q.Severity, q.Endpoint, q.Actor, q.Status} {
		out = append(out, l.Ignored...)
	}
	return out
}

// findingFilter is the storage filter of a findings or annotations query.
func (q Query) findingFilter(from, to time.Time) (storage.FindingFilter, []storage.TriageStatus, error) {
	f := storage.FindingFilter{From: from, To: to, Detectors: q.Detector.Values, Endpoints: q.Endpoint.Values, Actors: q.Actor.Values, Limit: q.Limit}
	if len(q.Severity.Values) > 0 {
		lowest := finding.Critical
		for _, name := range q.Severity.Values {
			var s finding.Severity
			if err := s.UnmarshalText([]byte(name)); err != nil {
				return f, nil, badQuery("severity: %v", err)
			}
			lowest = min(lowest, s)
		}
		for s := lowest; s <= finding.Critical; s++ {
			f.Severities = append(f.Severities, s.String())
		}
	}
	var statuses []storage.TriageStatus
	for _, name := range q.Status.Values {
		s, err := storage.ParseTriageStatus(name)
		if err != nil {
			return f, nil, badQuery("status: %v", err)
		}
		statuses = append(statuses, s)
	}
	return f, statuses, nil
}

// FindingsFrame is the frame of a findings query: one row per finding.
func FindingsFrame(fs []storage.TriagedFinding) *data.Frame {
	fr := findingsSchema("findings")
	for i := range fs {
		appendFinding(fr, &fs[i].Finding, fs[i].Triage)
	}
	fr.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}
	return fr
}

func findingsSchema(name string) *data.Frame {
	return data.NewFrame(name,
		data.NewField("id", nil, []string{}),
		data.NewField("first_seen", nil, []time.Time{}),
		data.NewField("last_seen", nil, []time.Time{}),
		data.NewField("detected_at", nil, []time.Time{}),
		data.NewField("detector", nil, []string{}),
		data.NewField("kind", nil, []string{}),
		data.NewField("severity", nil, []string{}),
		data.NewField("severity_level", nil, []int64{}),
		data.NewField("endpoint", nil, []string{}),
		data.NewField("actor", nil, []string{}),
		data.NewField("actor_kind", nil, []string{}),
		data.NewField("subject", nil, []string{}),
		data.NewField("client_ips", nil, []string{}),
		data.NewField("events", nil, []int64{}),
		data.NewField("summary", nil, []string{}),
		data.NewField("status", nil, []string{}),
		data.NewField("note", nil, []string{}),
		data.NewField("triaged_by", nil, []string{}),
		data.NewField("triaged_at", nil, []*time.Time{}),
		data.NewField("version", nil, []uint64{}),
		data.NewField("counts", nil, []json.RawMessage{}),
	)
}

func appendFinding(fr *data.Frame, f *finding.Finding, t storage.TriageState) {
	counts, _ := json.Marshal(f.Counts)
	var triagedAt *time.Time
	if !t.UpdatedAt.IsZero() {
		at := t.UpdatedAt
		triagedAt = &at
	}
	status := t.Status
	if status == "" {
		status = storage.StatusOpen
	}
	fr.AppendRow(f.ID, f.FirstSeen.UTC(), f.LastSeen.UTC(), f.DetectedAt.UTC(), f.Detector, f.Kind, f.Severity.String(), int64(f.Severity),
		f.Endpoint, f.Actor, f.ActorKind, f.Subject, strings.Join(f.ClientIPs, ","), f.Counts["events"], f.Summary,
		string(status), t.Note, t.User, triagedAt, f.Version, json.RawMessage(counts))
}

// AnnotationsFrame is the frame of an annotations query: one region per
// finding, from its first to its last event, in the field names Grafana
// maps to annotations (time, timeEnd, title, text, tags).
func AnnotationsFrame(fs []storage.TriagedFinding) *data.Frame {
	fr := data.NewFrame("annotations",
		data.NewField("time", nil, []time.Time{}),
		data.NewField("timeEnd", nil, []time.Time{}),
		data.NewField("title", nil, []string{}),
		data.NewField("text", nil, []string{}),
		data.NewField("tags", nil, []string{}),
		data.NewField("id", nil, []string{}),
		data.NewField("severity", nil, []string{}),
		data.NewField("status", nil, []string{}),
	)
	for _, f := range fs {
		title := fmt.Sprintf("%s %s (%s)", f.Severity, f.Detector, f.Kind)
		text := f.Summary + "\n" + f.Endpoint
		tags := strings.Join([]string{f.Detector, f.Kind, f.Severity.String(), string(f.Triage.Status)}, ",")
		fr.AppendRow(f.FirstSeen.UTC(), f.LastSeen.UTC(), title, text, tags, f.ID, f.Severity.String(), string(f.Triage.Status))
	}
	return fr
}

// findingFrames are a finding's detail: the finding (the findings
// frame's shape, one row), its evidence, its events and its sample
// references.
func findingFrames(ctx context.Context, st *storage.Store, id string) (data.Frames, error) {
	id = strings.TrimSpace(id)
	switch {
	case id == "":
		return nil, badQuery("finding: no findingId")
	case templateVar.MatchString(id):
		return nil, badQuery("finding: findingId %s is a template variable that was not interpolated", id)
	}
	f, events, err := st.Finding(ctx, id)
	if err != nil {
		return nil, err
	}
	states, err := st.Triaged(ctx, []string{id})
	if err != nil {
		return nil, err
	}
	head := findingsSchema("finding")
	appendFinding(head, f, states[id])

	ev := data.NewFrame("evidence",
		data.NewField("metric", nil, []string{}),
		data.NewField("observed", nil, []float64{}),
		data.NewField("baseline", nil, []float64{}),
		data.NewField("floor", nil, []float64{}),
		data.NewField("threshold", nil, []float64{}),
		data.NewField("note", nil, []string{}),
	)
	for _, e := range f.Evidence {
		ev.AppendRow(e.Metric, e.Observed, e.Baseline, e.Floor, e.Threshold, e.Note)
	}

	evs := data.NewFrame("events",
		data.NewField("time", nil, []time.Time{}),
		data.NewField("client_ip", nil, []string{}),
		data.NewField("method", nil, []string{}),
		data.NewField("path", nil, []string{}),
		data.NewField("status", nil, []uint16{}),
		data.NewField("response_bytes", nil, []int64{}),
		data.NewField("records", nil, []int64{}),
		data.NewField("actor_id", nil, []string{}),
		data.NewField("sensitive_classes", nil, []string{}),
	)
	for _, e := range events {
		evs.AppendRow(e.Time, e.ClientIP, e.Method, e.Path, e.Status, e.ResponseBytes, e.Records, e.ActorID, strings.Join(e.SensitiveClasses, ","))
	}

	samples := data.NewFrame("samples",
		data.NewField("time", nil, []time.Time{}),
		data.NewField("sensor_id", nil, []string{}),
		data.NewField("client_ip", nil, []string{}),
		data.NewField("src_port", nil, []uint32{}),
		data.NewField("path", nil, []string{}),
		data.NewField("status", nil, []uint32{}),
	)
	for _, s := range f.Samples {
		samples.AppendRow(s.Time.UTC(), s.SensorID, s.ClientIP, s.SrcPort, s.Path, s.Status)
	}
	for _, fr := range []*data.Frame{head, ev, evs, samples} {
		fr.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}
	}
	return data.Frames{head, ev, evs, samples}, nil
}

func inventoryFrames(ctx context.Context, st *storage.Store, q Query, from, to time.Time) (data.Frames, error) {
	eps, err := st.Inventory(ctx, from, to)
	if err != nil {
		return nil, err
	}
	fr := data.NewFrame("inventory",
		data.NewField("endpoint", nil, []string{}),
		data.NewField("method", nil, []string{}),
		data.NewField("host", nil, []string{}),
		data.NewField("template", nil, []string{}),
		data.NewField("first_seen", nil, []time.Time{}),
		data.NewField("last_seen", nil, []time.Time{}),
		data.NewField("calls", nil, []uint64{}),
		data.NewField("statuses", nil, []string{}),
		data.NewField("auth_kinds", nil, []string{}),
		data.NewField("authenticated", nil, []bool{}),
		data.NewField("anonymous", nil, []bool{}),
		data.NewField("sensitive_classes", nil, []string{}),
		data.NewField("sensitive", nil, []bool{}),
		data.NewField("shadow", nil, []bool{}),
	)
	for _, e := range eps {
		if q.ShadowOnly && !e.Shadow {
			continue
		}
		if len(q.Endpoint.Values) > 0 && !slices.Contains(q.Endpoint.Values, e.Endpoint) {
			continue
		}
		method, rest, _ := strings.Cut(e.Endpoint, " ")
		host, template, _ := strings.Cut(rest, " ")
		statuses := make([]string, len(e.Statuses))
		for i, s := range e.Statuses {
			statuses[i] = fmt.Sprint(s)
		}
		authenticated := slices.ContainsFunc(e.AuthKinds, func(k string) bool { return k != "client_ip" })
		anonymous := slices.Contains(e.AuthKinds, "client_ip")
		fr.AppendRow(e.Endpoint, method, host, template, e.FirstSeen, e.LastSeen, e.Calls, strings.Join(statuses, ","),
			strings.Join(e.AuthKinds, ","), authenticated, anonymous, strings.Join(e.SensitiveClasses, ","), len(e.SensitiveClasses) > 0, e.Shadow)
	}
	fr.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}
	return data.Frames{fr}, nil
}

func topActorsFrames(ctx context.Context, st *storage.Store, q Query, from, to time.Time) (data.Frames, error) {
	endpoint, err := q.Endpoint.one("endpoint")
	if err != nil {
		return nil, err
	}
	as, err := st.TopActors(ctx, endpoint, from, to, q.Limit)
	if err != nil {
		return nil, err
	}
	fr := data.NewFrame("top_actors",
		data.NewField("actor", nil, []string{}),
		data.NewField("requests", nil, []uint64{}),
		data.NewField("errors", nil, []uint64{}),
		data.NewField("bytes", nil, []int64{}),
		data.NewField("records", nil, []int64{}),
	)
	for _, a := range as {
		fr.AppendRow(a.ActorID, a.Requests, a.Errors, a.Bytes, a.Records)
	}
	fr.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}
	return data.Frames{fr}, nil
}

func timeSeriesMeta() *data.FrameMeta {
	return &data.FrameMeta{Type: data.FrameTypeTimeSeriesWide, TypeVersion: data.FrameTypeVersion{0, 1}, PreferredVisualization: data.VisTypeGraph}
}

func ratesFrames(ctx context.Context, st *storage.Store, q Query, from, to time.Time) (data.Frames, error) {
	endpoint, err := q.Endpoint.one("endpoint")
	if err != nil {
		return nil, err
	}
	actor, err := q.Actor.one("actor")
	if err != nil {
		return nil, err
	}
	ps, err := st.Rates(ctx, storage.RateFilter{Endpoint: endpoint, Actor: actor, From: from, To: to})
	if err != nil {
		return nil, err
	}
	fr := data.NewFrame("rates",
		data.NewField("time", nil, []time.Time{}),
		data.NewField("requests", nil, []uint64{}),
		data.NewField("errors", nil, []uint64{}),
		data.NewField("bytes", nil, []int64{}),
		data.NewField("records", nil, []int64{}),
		data.NewField("login_failures", nil, []uint64{}),
	)
	for _, p := range ps {
		fr.AppendRow(p.Minute, p.Requests, p.Errors, p.Bytes, p.Records, p.LoginFailures)
	}
	fr.Meta = timeSeriesMeta()
	return data.Frames{fr}, nil
}

func loginFrames(ctx context.Context, st *storage.Store, q Query, from, to time.Time) (data.Frames, error) {
	endpoint, err := q.Endpoint.one("endpoint")
	if err != nil {
		return nil, err
	}
	ps, err := st.LoginOutcomes(ctx, endpoint, from, to)
	if err != nil {
		return nil, err
	}
	fr := data.NewFrame("login_outcomes",
		data.NewField("time", nil, []time.Time{}),
		data.NewField("attempts", nil, []uint64{}),
		data.NewField("successes", nil, []uint64{}),
		data.NewField("failures", nil, []uint64{}),
		data.NewField("failure_ratio", nil, []float64{}),
		data.NewField("usernames", nil, []uint64{}),
		data.NewField("sources", nil, []uint64{}),
	)
	for _, p := range ps {
		ratio := 0.0
		if p.Attempts > 0 {
			ratio = float64(p.Failures) / float64(p.Attempts)
		}
		fr.AppendRow(p.Minute, p.Attempts, p.Successes, p.Failures, ratio, p.Usernames, p.Sources)
	}
	fr.Meta = timeSeriesMeta()
	return data.Frames{fr}, nil
}
