// Package finding is what detectors report: one Finding per ongoing
// incident, with the numbers that explain it. Storage, alerting and the
// dashboards read this type; the detectors that make it live in detect.
package finding

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Detectors, exactly as they appear in findings.
const (
	Enumeration        = "enumeration"
	DataExposure       = "data_exposure"
	CredentialStuffing = "credential_stuffing"
)

// Severity orders findings for triage.
type Severity uint8

// Severities, lowest first.
const (
	Low Severity = iota + 1
	Medium
	High
	Critical
)

var severityNames = [...]string{Low: "low", Medium: "medium", High: "high", Critical: "critical"}

func (s Severity) String() string {
	if int(s) < len(severityNames) && severityNames[s] != "" {
		return severityNames[s]
	}
	return "unknown"
}

// MarshalText writes the severity's name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a severity's name.
func (s *Severity) UnmarshalText(b []byte) error {
	for i, n := range severityNames {
		if n != "" && n == string(b) {
			*s = Severity(i)
			return nil
		}
	}
	return &UnknownSeverityError{Name: string(b)}
}

// UnknownSeverityError is returned for a severity name that is not one of
// low, medium, high, critical.
type UnknownSeverityError struct{ Name string }

func (e *UnknownSeverityError) Error() string {
	return "finding: unknown severity " + `"` + e.Name + `"` + " (want low, medium, high or critical)"
}

// Finding is one incident: an actor (or a source, or a username) doing one
// abuse pattern on one endpoint. It is updated while the incident goes on;
// ID stays, Version grows, so a store that keeps the highest version per ID
// (ClickHouse ReplacingMergeTree) holds its latest state and re-delivered
// copies collapse.
type Finding struct {
	ID       string `json:"id"`
	Version  uint64 `json:"version"`
	Detector string `json:"detector"`
	// Kind names the pattern within the detector: "sequential_ids",
	// "new_sensitive_class", "many_usernames", "takeover", …
	Kind     string   `json:"kind"`
	Severity Severity `json:"severity"`
	Endpoint string   `json:"endpoint"` // "METHOD host /template"
	// Actor is the actor id of the events (a keyed hash, or the client
	// address for unauthenticated callers); for patterns about a source or
	// a username rather than an actor, Subject says which.
	Actor     string   `json:"actor,omitempty"`
	ActorKind string   `json:"actor_kind,omitempty"`
	Subject   string   `json:"subject,omitempty"` // "source 198.51.100.7", "username 3f2a…", "endpoint"
	ClientIPs []string `json:"client_ips"`
	// Capture times: the first and last event of the incident, and the
	// event that made it fire.
	FirstSeen  Time `json:"first_seen"`
	LastSeen   Time `json:"last_seen"`
	DetectedAt Time `json:"detected_at"`
	// Counts are the incident's totals so far: events, distinct_objects,
	// failures, usernames, bytes, records, …
	Counts   map[string]int64 `json:"counts"`
	Evidence []Evidence       `json:"evidence"`
	Summary  string           `json:"summary"`
	Samples  []EventRef       `json:"samples"`
}

// Evidence is one comparison a detector made: the observed value, what the
// endpoint's baseline says is normal (0 while it is still learning), the
// absolute floor, and the threshold that was crossed (the larger of the
// floor and the baseline times the configured multiple).
type Evidence struct {
	Metric    string  `json:"metric"`
	Observed  float64 `json:"observed"`
	Baseline  float64 `json:"baseline"`
	Floor     float64 `json:"floor"`
	Threshold float64 `json:"threshold"`
	Note      string  `json:"note,omitempty"`
}

// EventRef points at an event of the incident: enough to find it in the
// events table or the capture.
type EventRef struct {
	SensorID string `json:"sensor_id,omitempty"`
	Time     Time   `json:"time"`
	ClientIP string `json:"client_ip"`
	SrcPort  uint32 `json:"src_port"`
	Path     string `json:"path"` // query values redacted, as in the event
	Status   uint32 `json:"status"`
}

// Time is a capture time, written in RFC 3339 UTC with microseconds always
// present ("2026-03-02T09:04:16.000000Z"), so every consumer parses one
// shape.
type Time struct{ time.Time }

// TimeLayout is how a Time is written.
const TimeLayout = "2006-01-02T15:04:05.000000Z07:00"

// MarshalJSON writes the time in TimeLayout.
func (t Time) MarshalJSON() ([]byte, error) {
	return t.UTC().AppendFormat([]byte{'"'}, TimeLayout+`"`), nil
}

// UnmarshalJSON reads any RFC 3339 time.
func (t *Time) UnmarshalJSON(b []byte) error { return t.Time.UnmarshalJSON(b) }

// MaxSamples bounds Finding.Samples.
const MaxSamples = 5

// ID derives an incident's id from what identifies it: the same incident
// gets the same id on every detector replica and after a restart.
func ID(detector, kind, endpoint, subject string, start time.Time) string {
	h := sha256.New()
	for _, s := range []string{detector, kind, endpoint, subject, start.UTC().Format(time.RFC3339)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
