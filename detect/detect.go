// Package detect flags the abuse patterns of DESIGN.md — enumeration,
// excessive data exposure, credential stuffing — from API events and the
// baselines learned from them. Each pattern compares what it observed with
// the endpoint's baseline and with an absolute floor, and every finding
// carries those numbers. One finding is kept per ongoing incident and
// updated while it continues.
//
// The Engine does no I/O: callers feed events and take the findings that
// changed.
package detect

import (
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/apiwatch/apiwatch/baseline"
	"github.com/apiwatch/apiwatch/event"
	"github.com/apiwatch/apiwatch/finding"
)

var detectorNames = [...]string{finding.Enumeration, finding.DataExposure, finding.CredentialStuffing}

// Engine runs the detectors over a stream of events. Not safe for
// concurrent use.
type Engine struct {
	cfg       Config
	store     *baseline.Store
	incidents map[string]*incident
	changed   []*finding.Finding
	stats     Stats
	// Patterns analysts marked as false positives (suppress.go).
	suppressions []Suppression
}

// Stats counts what the Engine saw.
type Stats struct {
	Events     uint64
	Skipped    uint64            // events without an endpoint (TLS flows, orphan responses)
	Findings   uint64            // incidents opened
	ByDetector map[string]uint64 // incidents opened, by detector
	Updates    uint64            // finding updates
	Suppressed uint64            // triggers below an incident's minimum count
	Muted      uint64            // triggers matching a suppression (an analyst's false positive)
}

// incident is a finding and what keeps it going.
type incident struct {
	f        finding.Finding
	last     int64 // capture time of the last triggering event, ns
	events   int64
	minCount int64 // events needed before the finding is reported
	reported bool
	dirty    bool
}

// New returns an Engine that learns into store.
func New(cfg Config, store *baseline.Store) *Engine {
	return &Engine{cfg: cfg.over(DefaultConfig()), store: store, incidents: make(map[string]*incident)}
}

// QuietGap returns how long an incident stays open without triggers.
func (d *Engine) QuietGap() time.Duration { return d.cfg.QuietGap }

// Store returns the baselines the Engine learns into.
func (d *Engine) Store() *baseline.Store { return d.store }

// Stats returns the Engine's counters.
func (d *Engine) Stats() Stats {
	st := d.stats
	st.ByDetector = maps.Clone(st.ByDetector)
	return st
}

// Process learns from one event and runs the detectors on it.
func (d *Engine) Process(e *event.APIEvent) {
	d.stats.Events++
	o := d.store.Observe(e)
	if o == nil {
		d.stats.Skipped++
		return
	}
	t := d.cfg.forEndpoint(o.Endpoint.Name)
	if !t.disabled[0] {
		d.enumeration(o, &t)
	}
	if !t.disabled[1] {
		d.exposure(o, &t)
	}
	if !t.disabled[2] && e.Login != nil {
		d.stuffing(o, &t)
	}
}

// Restore resumes incidents another detector (or an earlier run) reported:
// a continuation updates the stored finding (same id, higher version)
// instead of opening a duplicate. Give it the latest version of the
// findings that may still be going on.
func (d *Engine) Restore(fs []finding.Finding) {
	for _, f := range fs {
		key := incidentKey(&f)
		if in := d.incidents[key]; in != nil && in.f.Version >= f.Version {
			continue
		}
		// The engine updates what it holds: its own copies.
		f.Counts = maps.Clone(f.Counts)
		if f.Counts == nil {
			f.Counts = map[string]int64{}
		}
		f.ClientIPs, f.Evidence, f.Samples = slices.Clone(f.ClientIPs), slices.Clone(f.Evidence), slices.Clone(f.Samples)
		d.incidents[key] = &incident{f: f, last: f.LastSeen.UnixNano(), events: f.Counts["events"], minCount: 1, reported: true}
	}
}

// Changed returns the findings opened or updated since the last call, in
// the order they first changed. The pointers stay valid (and keep
// changing) while the Engine runs; copy what must not.
func (d *Engine) Changed() []*finding.Finding {
	out := d.changed
	d.changed = nil
	for _, f := range out {
		d.incidents[incidentKey(f)].dirty = false
	}
	return out
}

// Findings returns every reported finding, oldest first.
func (d *Engine) Findings() []*finding.Finding {
	var out []*finding.Finding
	for _, in := range d.incidents {
		if in.reported {
			out = append(out, &in.f)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].FirstSeen.Equal(out[j].FirstSeen.Time) {
			return out[i].FirstSeen.Before(out[j].FirstSeen.Time)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// trigger is one detector firing on one event.
type trigger struct {
	detector, kind string
	severity       finding.Severity
	subject        string // what the incident is about, beside the endpoint
	actor          *event.Actor
	clientIPs      []string
	evidence       []finding.Evidence
	counts         map[string]int64
	minCount       int64 // triggering events before the finding is reported
	summary        string
}

func incidentKey(f *finding.Finding) string {
	return f.Detector + "\x00" + f.Kind + "\x00" + f.Endpoint + "\x00" + f.Subject
}

// fire opens or updates the incident of a trigger.
func (d *Engine) fire(o *baseline.Observation, tr *trigger) {
	if len(d.suppressions) > 0 && d.muted(tr.detector, tr.kind, o.Endpoint.Name, tr.subject) {
		d.stats.Muted++
		return
	}
	key := tr.detector + "\x00" + tr.kind + "\x00" + o.Endpoint.Name + "\x00" + tr.subject
	now := o.Time
	in := d.incidents[key]
	if in == nil || time.Duration(now-in.last) > d.cfg.QuietGap {
		start := o.Now()
		in = &incident{minCount: max(tr.minCount, 1)}
		in.f = finding.Finding{
			ID:       finding.ID(tr.detector, tr.kind, o.Endpoint.Name, tr.subject, start.Truncate(d.store.Window())),
			Detector: tr.detector, Kind: tr.kind, Endpoint: o.Endpoint.Name, Subject: tr.subject,
			FirstSeen: finding.Time{Time: start}, Counts: map[string]int64{},
		}
		d.incidents[key] = in
	}
	in.last = max(in.last, now)
	in.events++
	f := &in.f
	if tr.actor != nil && f.Actor == "" {
		f.Actor, f.ActorKind = tr.actor.Id, strings.TrimPrefix(tr.actor.Kind.String(), "ACTOR_KIND_")
		f.ActorKind = strings.ToLower(f.ActorKind)
	}
	// A trigger that names its sources (the failing ones of a distributed
	// attack) knows better than the event that happened to fire it.
	for _, ip := range tr.clientIPs {
		f.ClientIPs = addIP(f.ClientIPs, ip)
	}
	if tr.clientIPs == nil {
		f.ClientIPs = addIP(f.ClientIPs, o.Event.ClientIp)
	}
	if t := o.Now(); t.After(f.LastSeen.Time) {
		f.LastSeen.Time = t
	}
	f.Severity = max(f.Severity, tr.severity)
	f.Counts["events"] = in.events
	for k, v := range tr.counts {
		f.Counts[k] = max(f.Counts[k], v)
	}
	f.Evidence = mergeEvidence(f.Evidence, tr.evidence)
	f.Summary = tr.summary
	if len(f.Samples) < finding.MaxSamples {
		f.Samples = append(f.Samples, refOf(o))
	}
	if in.events < in.minCount {
		d.stats.Suppressed++
		return
	}
	if !in.reported {
		in.reported = true
		f.DetectedAt.Time = o.Now()
		d.stats.Findings++
		if d.stats.ByDetector == nil {
			d.stats.ByDetector = map[string]uint64{}
		}
		d.stats.ByDetector[f.Detector]++
	} else {
		d.stats.Updates++
	}
	f.Version++
	if !in.dirty {
		in.dirty = true
		d.changed = append(d.changed, f)
	}
}

// mergeEvidence keeps one entry per metric: the latest comparison, with the
// highest observed value so far.
func mergeEvidence(have, add []finding.Evidence) []finding.Evidence {
	for _, e := range add {
		found := false
		for i := range have {
			if have[i].Metric == e.Metric {
				if e.Observed >= have[i].Observed {
					have[i] = e
				}
				found = true
				break
			}
		}
		if !found {
			have = append(have, e)
		}
	}
	return have
}

func refOf(o *baseline.Observation) finding.EventRef {
	e := o.Event
	r := finding.EventRef{SensorID: e.SensorId, Time: finding.Time{Time: o.Now()}, ClientIP: e.ClientIp}
	if e.Flow != nil {
		r.SrcPort = e.Flow.SrcPort
	}
	if e.Request != nil {
		r.Path = e.Request.Path
	}
	if e.Response != nil {
		r.Status = e.Response.Status
	}
	return r
}

func addIP(ips []string, ip string) []string {
	if ip == "" || len(ips) >= maxClientIPs {
		return ips
	}
	for _, x := range ips {
		if x == ip {
			return ips
		}
	}
	return append(ips, ip)
}

// maxClientIPs bounds Finding.ClientIPs: a distributed attack names its
// first sources, its counts say how many there were.
const maxClientIPs = 50

// threshold is the larger of a floor and a multiple of the baseline.
func threshold(floor, multiple, base float64) float64 {
	return max(floor, multiple*base)
}

func evidence(metric string, observed, base, floor, thr float64, note string) finding.Evidence {
	return finding.Evidence{Metric: metric, Observed: observed, Baseline: base, Floor: floor, Threshold: thr, Note: note}
}
