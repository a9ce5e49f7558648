package alert

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/apiwatch/apiwatch/finding"
)

// PagerDuty Events API v2.
type (
	pdEvent struct {
		RoutingKey  string     `json:"routing_key"`
		EventAction string     `json:"event_action"` // trigger or resolve
		DedupKey    string     `json:"dedup_key"`    // the finding's id
		Payload     *pdPayload `json:"payload,omitempty"`
		Client      string     `json:"client,omitempty"`
		ClientURL   string     `json:"client_url,omitempty"`
		Links       []pdLink   `json:"links,omitempty"`
	}
	pdPayload struct {
		Summary       string           `json:"summary"`
		Source        string           `json:"source"`
		Severity      string           `json:"severity"`
		Timestamp     *finding.Time    `json:"timestamp,omitempty"`
		Component     string           `json:"component,omitempty"`
		Group         string           `json:"group,omitempty"`
		Class         string           `json:"class,omitempty"`
		CustomDetails *finding.Finding `json:"custom_details"`
	}
	pdLink struct {
		Href string `json:"href"`
		Text string `json:"text"`
	}
)

const pdSummaryMax = 1024

// pdSeverity maps our severities to PagerDuty's.
var pdSeverity = map[finding.Severity]string{
	finding.Low: "info", finding.Medium: "warning", finding.High: "error", finding.Critical: "critical",
}

type pagerDutyFormat struct{ routingKey, grafana string }

func (p pagerDutyFormat) header(http.Header, *job, []byte, time.Time) {}

func (p pagerDutyFormat) body(j *job) ([]byte, error) {
	f := j.f
	e := pdEvent{RoutingKey: p.routingKey, EventAction: j.action.String(), DedupKey: f.ID}
	if j.action == resolve {
		return json.Marshal(e)
	}
	sev := pdSeverity[f.Severity]
	if sev == "" {
		sev = "warning"
	}
	what := f.Detector
	if f.Kind != "" {
		what += "/" + f.Kind
	}
	e.Payload = &pdPayload{
		Summary:   truncate("["+f.Severity.String()+"] "+what+" on "+f.Endpoint+": "+f.Summary, pdSummaryMax),
		Source:    source(f.Endpoint),
		Severity:  sev,
		Component: f.Endpoint,
		Group:     f.Detector,
		Class:     f.Kind,
		// The whole finding: PagerDuty shows it as the alert's details.
		CustomDetails: f,
	}
	if t := f.DetectedAt; !t.IsZero() {
		e.Payload.Timestamp = &t
	}
	e.Client = "apiwatch"
	if link := investigationURL(p.grafana, f.ID); link != "" {
		e.ClientURL = link
		e.Links = []pdLink{{Href: link, Text: "Investigation board"}}
	}
	return json.Marshal(e)
}

// source is the affected system: the host of an endpoint name ("GET
// api.example.com /v1/users/{id}").
func source(endpoint string) string {
	if f := strings.Fields(endpoint); len(f) >= 2 {
		return f[1]
	}
	return "apiwatch"
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
